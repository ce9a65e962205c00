#!/usr/bin/env bash
# A readiness gate of the NDB cluster: `pulumi up` goes on past a node only once this passes.
#
# Environment, rendered by components/render/gates.py (besides ndb-gate-lib.sh's):
#   NDB_GATE_KIND  what to wait for:
#                  management  the management server answers and lists itself
#                  member      one data node of a node group (see below)
#                  started     every data node of NDB_NODE_IDS is started
#                  sql         every SQL node of NDB_NODE_IDS is connected to the cluster
# A management gate's NDB_CONNECTSTRING names that management server only.

# Shipped after the library's text (then its functions are defined); run as a file, read it.
if ! declare -F wait_for > /dev/null; then
  # shellcheck source=SCRIPTDIR/ndb-gate-lib.sh
  source "$(dirname "${BASH_SOURCE[0]}")/ndb-gate-lib.sh"
fi

case "${NDB_GATE_KIND:?management, member, started or sql}" in
  management)
    wait_for "management server" show connected_api
    ;;
  member)
    # One member of a node group, in a chain of replicas: during a rolling update the other
    # data nodes are started, so wait for this one to be started too before the next replica
    # is touched; during an initial start every data node waits for its peers, so only
    # require it to be connected (waiting for `started` there would deadlock).
    if out=$(mgm "all status") && other_started "$out"; then
      wait_for "data node restart" "all status" started
    else
      wait_for "data node connect (initial start)" "all status" connected_data
    fi
    ;;
  started)
    wait_for "data nodes started" "all status" started
    ;;
  sql)
    wait_for "SQL nodes connected to the cluster" show connected_api
    ;;
  *)
    log "FAILED: unknown NDB_GATE_KIND '$NDB_GATE_KIND' (management, member, started, sql)" >&2
    exit 2
    ;;
esac
