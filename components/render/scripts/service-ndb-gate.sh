#!/usr/bin/env bash
# The NDB gate of an OpenStack service, after its one-shot bootstrap container: fail with the
# container's log tail if the migrations failed, else run ndb_fit on the service's databases;
# any table not on ndbcluster or not fitting NDB fails the deployment with the list, before the
# service's containers start. Runs on the deploying machine.
#
# Environment, rendered by components/render/kolla.py from the catalog:
#   NDB_GATE_SERVICE     the catalog service: "nova"
#   NDB_FIT_SCHEMAS      its databases, blank-separated: "nova nova_api nova_cell0"
# and from the component that runs it (components/openstack/service.py):
#   MIGRATION_EXIT_CODE  the bootstrap container's exit code
#   MIGRATION_CONTAINER  its name, for `docker logs` (with DOCKER_HOST naming its engine)
#   NDB_FIT_HOST, NDB_FIT_PORT, NDB_FIT_USER (default root)  the SQL endpoint to check through
# and on standard input the SQL endpoint's password (pulumi-command's `stdin`, kept secret in
# state): never an environment variable or an argument, which other processes can read.
#   NDB_FIT              the command that runs ndb_fit, split on blanks
#                        (default `python3 -m ndb_fit`)
set -euo pipefail

service=${NDB_GATE_SERVICE:?the catalog service whose databases to check}
read -r -a schemas <<< "${NDB_FIT_SCHEMAS:?the databases to check, blank-separated}"
read -r -a ndb_fit <<< "${NDB_FIT:-python3 -m ndb_fit}"

log() { printf '[%s] ndb gate %s: %s\n' "$(date +%H:%M:%S)" "$service" "$*"; }

if [[ "${MIGRATION_EXIT_CODE:-}" != 0 ]]; then
  log "the migrations failed (exit code ${MIGRATION_EXIT_CODE:-unknown}); their last lines:"
  docker logs --tail 60 "${MIGRATION_CONTAINER:?}" 2>&1 || true
  log "fix the cause and run the update again: the migrations run again from where they stopped"
  exit 1
fi
log "migrations done; checking that every table is ndbcluster and fits NDB"
schema_args=()
for schema in "${schemas[@]}"; do schema_args+=(--schema "$schema"); done
if ! "${ndb_fit[@]}" --host "${NDB_FIT_HOST:?}" --port "${NDB_FIT_PORT:?}" \
    --user "${NDB_FIT_USER:-root}" --password-file /dev/stdin "${schema_args[@]}"; then
  log "tables above do not fit NDB: the deployment stops before $service starts"
  exit 1
fi
log "passed"
