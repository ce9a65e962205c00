#!/usr/bin/env bash
# The readiness gates' library: poll `ndb_mgm` until a condition holds for every node id,
# printing progress on every poll; after the timeout fail with the node ids still missing and
# the last status seen. ndb-gate.sh and rolling-restart.sh are shipped as this file followed by
# theirs (components/render/gates.py); run as files, they read it from beside themselves.
#
# Environment, rendered by components/render/gates.py from the stack's settings and topology:
#   NDB_GATE_TITLE            what runs, for the log: "started gate for ndb-data-1, ndb-data-2"
#   NDB_CONNECTSTRING         the management server(s) to ask: "172.28.0.2:1186"
#   NDB_NODE_IDS              the NDB node ids to wait for, blank-separated: "1 2"
#   NDB_GATE_TIMEOUT_SECONDS  how long to wait before failing (gates.timeoutSeconds)
#   NDB_GATE_POLL_SECONDS     how long to sleep between polls (gates.pollSeconds)
# and from the component that runs it:
#   NDB_MGM                   the command that runs ndb_mgm, split on blanks (default ndb_mgm):
#                             `docker exec <mgmd container> ndb_mgm` in a deployment, with
#                             DOCKER_HOST naming that container's Docker engine.
set -euo pipefail

title=${NDB_GATE_TITLE:?the title of this gate, for the log}
connectstring=${NDB_CONNECTSTRING:?the management server(s) to ask, host:port[,host:port]}
read -r -a ids <<< "${NDB_NODE_IDS:?the NDB node ids to wait for, blank-separated}"
timeout=${NDB_GATE_TIMEOUT_SECONDS:?seconds to wait before failing}
poll=${NDB_GATE_POLL_SECONDS:?seconds between polls}
read -r -a ndb_mgm <<< "${NDB_MGM:-ndb_mgm}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# The numbers go into bash arithmetic and grep patterns, where anything but digits would be
# evaluated or matched as code: refuse them here, with the variable's name.
for value in "$timeout" "$poll" "${ids[@]}"; do
  if ! [[ $value =~ ^[0-9]+$ ]]; then
    log "FAILED: '$value' is not a number (NDB_NODE_IDS, NDB_GATE_TIMEOUT_SECONDS and" \
      "NDB_GATE_POLL_SECONDS are digits)" >&2
    exit 2
  fi
done
if [ "${#ids[@]}" -eq 0 ]; then
  log "FAILED: NDB_NODE_IDS names no node id" >&2
  exit 2
fi
log "$title: node(s) ${ids[*]} via $connectstring (timeout ${timeout}s, poll ${poll}s)"

# Runs one ndb_mgm command; prints its output and fails when the server does not answer.
mgm() { "${ndb_mgm[@]}" -c "$connectstring" --connect-retries=1 -e "$1" 2>&1; }

started() { grep -Eq "^Node $1: started" <<< "$2"; }
connected_data() { grep -Eq "^Node $1: (started|starting)" <<< "$2"; }
connected_api() { grep -Eq "^id=$1[[:space:]]+@" <<< "$2"; }
other_started() {  # is any data node other than ours started? (then this is no initial start)
  local line id
  while read -r line; do
    id=${line#Node }; id=${id%%:*}
    [[ " ${ids[*]} " == *" $id "* ]] || return 0
  done < <(grep -E '^Node [0-9]+: started' <<< "$1")
  return 1
}

# wait_for DESCRIPTION QUERY CHECK: poll until CHECK ID OUTPUT holds for every id.
wait_for() {
  local what=$1 query=$2 check=$3 deadline=$((SECONDS + timeout)) out missing id
  while :; do
    missing=()
    if out=$(mgm "$query"); then
      for id in "${ids[@]}"; do "$check" "$id" "$out" || missing+=("$id"); done
    else
      missing=("${ids[@]}")
    fi
    if [ "${#missing[@]}" -eq 0 ]; then
      log "ready: $what (nodes ${ids[*]})"
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "FAILED: $what: node(s) ${missing[*]} not ready after ${timeout}s." \
        "Last status seen:" >&2
      printf '%s\n' "$out" >&2
      return 1
    fi
    log "waiting for $what: node(s) ${missing[*]} not ready ($((deadline - SECONDS))s left)"
    sleep "$poll"
  done
}
