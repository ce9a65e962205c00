#!/usr/bin/env bash
# The head of an OpenStack service's bootstrap script, the one-shot migration container's
# command (`bash /var/lib/kolla/config_files/openstack-ndb-bootstrap.sh`). The catalog's
# bootstrap lines follow it, each after a `step` line (components/render/kolla.py): stop at
# the first failure, whose exit code the service's NDB gate reads first. The container runs
# with the NDB adaptation on (OPENSTACK_NDB_ADAPT=1 and PYTHONPATH in its environment).
#
# Environment, rendered by components/render/kolla.py, set on the bootstrap container:
#   BOOTSTRAP_SERVICE  the catalog service whose migrations these are: "keystone"
set -euo pipefail

service=${BOOTSTRAP_SERVICE:?the catalog service whose migrations these are}

log() { printf '[%s] bootstrap %s: %s\n' "$(date +%H:%M:%S)" "$service" "$*"; }

# step NUMBER TOTAL TEXT: announce the catalog line that follows. TEXT is the line as the
# renderer shows it, with OS_BOOTSTRAP_PASSWORD="..." masked: the log never holds a secret.
step() { log "step $1/$2: $3"; }
