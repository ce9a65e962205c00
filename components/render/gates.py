"""Readiness gates and the rolling restart, rendered as bash scripts.

A gate polls `ndb_mgm` until its condition holds, printing progress on every poll, and fails
after the stack's timeout with the node ids still missing and the last status it saw. The
command that runs `ndb_mgm` comes from the environment (`NDB_MGM`): `docker exec <mgmd>
ndb_mgm` in a deployment, the test bed's own binary there. The script text is the same.
"""

from __future__ import annotations

from typing import Literal

from config.settings import Settings
from config.topology import Node, Topology

GateKind = Literal["management", "member", "started", "sql"]

_PRELUDE = """#!/usr/bin/env bash
# Rendered by openstack-ndb: {title}
set -euo pipefail
connectstring='{connectstring}'
ids=({ids})
timeout={timeout}
poll={poll}
read -r -a ndb_mgm <<< "${{NDB_MGM:-ndb_mgm}}"

log() {{ printf '[%s] %s\\n' "$(date +%H:%M:%S)" "$*"; }}

# Runs one ndb_mgm command; prints its output and fails when the server does not answer.
mgm() {{ "${{ndb_mgm[@]}}" -c "$connectstring" --connect-retries=1 -e "$1" 2>&1; }}

started() {{ grep -Eq "^Node $1: started" <<< "$2"; }}
connected_data() {{ grep -Eq "^Node $1: (started|starting)" <<< "$2"; }}
connected_api() {{ grep -Eq "^id=$1[[:space:]]+@" <<< "$2"; }}
other_started() {{  # is any data node other than ours started? (then this is no initial start)
  local line id
  while read -r line; do
    id=${{line#Node }}; id=${{id%%:*}}
    [[ " ${{ids[*]}} " == *" $id "* ]] || return 0
  done < <(grep -E '^Node [0-9]+: started' <<< "$1")
  return 1
}}

# wait_for DESCRIPTION QUERY CHECK: poll until CHECK ID OUTPUT holds for every id.
wait_for() {{
  local what=$1 query=$2 check=$3 deadline=$((SECONDS + timeout)) out missing id
  while :; do
    missing=()
    if out=$(mgm "$query"); then
      for id in "${{ids[@]}}"; do "$check" "$id" "$out" || missing+=("$id"); done
    else
      missing=("${{ids[@]}}")
    fi
    if [ "${{#missing[@]}}" -eq 0 ]; then
      log "ready: $what (nodes ${{ids[*]}})"
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "FAILED: $what: node(s) ${{missing[*]}} not ready after ${{timeout}}s." \
        "Last status seen:" >&2
      printf '%s\\n' "$out" >&2
      return 1
    fi
    log "waiting for $what: node(s) ${{missing[*]}} not ready ($((deadline - SECONDS))s left)"
    sleep "$poll"
  done
}}
"""

_BODIES: dict[GateKind, str] = {
    # The management server answers and lists itself.
    "management": 'wait_for "management server" show connected_api\n',
    # One member of a node group, in a chain of replicas: during a rolling update the other
    # data nodes are started, so wait for this one to be started too before the next replica
    # is touched; during an initial start every data node waits for its peers, so only
    # require it to be connected (waiting for `started` there would deadlock).
    "member": (
        'if out=$(mgm "all status") && other_started "$out"; then\n'
        '  wait_for "data node restart" "all status" started\n'
        "else\n"
        '  wait_for "data node connect (initial start)" "all status" connected_data\n'
        "fi\n"
    ),
    "started": 'wait_for "data nodes started" "all status" started\n',
    "sql": 'wait_for "SQL nodes connected to the cluster" show connected_api\n',
}

_ROLLING_RESTART = """
# The manual's rolling restart, one data node at a time: every other member of the node
# group stays started, so the group keeps serving throughout.
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
"""


def _prelude(settings: Settings, title: str, connectstring: str, ids: tuple[int, ...]) -> str:
    return _PRELUDE.format(
        title=title, connectstring=connectstring, ids=" ".join(str(i) for i in ids),
        timeout=settings.gates.timeout_seconds, poll=settings.gates.poll_seconds,
    )


def render_gate_script(settings: Settings, topology: Topology, kind: GateKind,
                       nodes: tuple[Node, ...]) -> str:
    """A gate over `nodes` (their NDB node ids); management gates ask that mgmd only."""
    ids = tuple(i for n in nodes for i in n.node_ids)
    connectstring = (
        ",".join(f"{n.address}:{n.port}" for n in nodes) if kind == "management"
        else topology.connectstring
    )
    title = f"{kind} gate for {', '.join(n.name for n in nodes)}"
    return _prelude(settings, title, connectstring, ids) + "\n" + _BODIES[kind]


def render_rolling_restart_script(settings: Settings, topology: Topology,
                                  group: tuple[Node, ...]) -> str:
    ids = tuple(n.node_id for n in group)
    names = ", ".join(n.name for n in group)
    title = f"rolling restart of node group {group[0].node_group} ({names})"
    return _prelude(settings, title, topology.connectstring, ids) + _ROLLING_RESTART
