#!/usr/bin/env bash
# The manual's rolling restart of one node group, one data node at a time: every other member
# of the node group stays started, so the group keeps serving throughout. Runs as the update
# of the group's rolling-restart command, when config.ini changed but no container did.
#
# Environment: ndb-gate-lib.sh's, rendered by components/render/gates.py, with NDB_NODE_IDS
# the node group's data nodes in the order they restart.

# Shipped after the library's text (then its functions are defined); run as a file, read it.
if ! declare -F wait_for > /dev/null; then
  # shellcheck source=SCRIPTDIR/ndb-gate-lib.sh
  source "$(dirname "${BASH_SOURCE[0]}")/ndb-gate-lib.sh"
fi

restart_ids=("${ids[@]}")
for node in "${restart_ids[@]}"; do
  ids=("${restart_ids[@]}")
  wait_for "node group started before restarting node $node" "all status" started
  log "restarting data node $node"
  if ! out=$(mgm "$node restart"); then
    log "FAILED: could not restart data node $node:" >&2
    printf '%s\n' "$out" >&2
    exit 1
  fi
  # Wait for the node to leave `started` first, so a stale status cannot pass the next wait.
  ids=("$node")
  left=$((SECONDS + 60))
  while out=$(mgm "all status") && started "$node" "$out" && [ "$SECONDS" -lt "$left" ]; do
    sleep 1
  done
  wait_for "data node $node restarted" "all status" started
done
log "rolling restart done: nodes ${restart_ids[*]}"
