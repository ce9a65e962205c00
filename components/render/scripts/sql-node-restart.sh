#!/usr/bin/env bash
# Restarts one SQL node so that it reads the cluster's new configuration: NDB's online
# add-node procedure restarts every SQL and API node after the management and data nodes and
# before the new data nodes start (MySQL manual, "Adding NDB Cluster Data Nodes Online:
# Detailed Example", docs/design.md §2.6). Runs as the update of the SQL node's restart
# command, when the data nodes of the configuration change. A SQL node that is not connected
# is left alone: it reads the new configuration when it connects. `make restore` runs it
# too, on every SQL node in turn after a whole restore: a mysqld applies restored
# NDB_STORED_USER accounts only when it joins the cluster (docs/design.md §2.8).
#
# Environment: ndb-gate-lib.sh's, rendered by components/render/gates.py, with NDB_NODE_IDS
# the SQL node's pooled node ids, and from the component that runs it:
#   SQL_RESTART  the command that restarts the SQL node, split on blanks:
#                `docker --host <its engine> restart <container>`

# shellcheck disable=SC2154 # title and ids: set by ndb-gate-lib.sh
# Shipped after the library's text (then its functions are defined); run as a file, read it.
if ! declare -F wait_for > /dev/null; then
  # shellcheck source=SCRIPTDIR/ndb-gate-lib.sh
  source "$(dirname "${BASH_SOURCE[0]}")/ndb-gate-lib.sh"
fi
read -r -a restart <<< "${SQL_RESTART:?the command that restarts the SQL node}"

if ! out=$(mgm show); then
  log "FAILED: the management server does not answer:" >&2
  printf '%s\n' "$out" >&2
  exit 1
fi
connected=()
for id in "${ids[@]}"; do
  if connected_api "$id" "$out"; then connected+=("$id"); fi
done
if [ "${#connected[@]}" -eq 0 ]; then
  log "$title: not connected, nothing to restart (it reads the new configuration when it" \
    "connects)"
  exit 0
fi
log "restarting the SQL node (node ids ${ids[*]})"
if ! out=$("${restart[@]}" 2>&1); then
  log "FAILED: could not restart the SQL node:" >&2
  printf '%s\n' "$out" >&2
  exit 1
fi
wait_for "SQL node connected again" show connected_api
