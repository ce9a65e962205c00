#!/usr/bin/env bash
# Puts new data nodes to work, the last steps of NDB's online add-node procedure (MySQL
# manual, "Adding NDB Cluster Data Nodes Online: Detailed Example", steps 6-8; the MySQL NDB
# Operator's handleAddNodeOnline; docs/design.md §2.6), once every data node is started:
#   1. CREATE NODEGROUP for the data nodes `ndb_mgm -e show` lists with "no nodegroup",
#      NoOfReplicas of them at a time in node id order;
#   2. for every NDB table whose fragments are not yet on every data node of a node group
#      (the Operator's test: COUNT(DISTINCT current_primary) in ndbinfo.table_fragments),
#      ALTER TABLE ... ALGORITHM=INPLACE, REORGANIZE PARTITION, then OPTIMIZE TABLE, one table
#      at a time (NDB runs one such DDL at a time), printing its time and its memory per data
#      node before and after (ndbinfo.memory_per_fragment).
# Each step asks the cluster what is left: after an interruption the next run finishes the
# work, and a run with nothing left changes nothing.
#
# Environment, rendered by components/render/gates.py (besides ndb-gate-lib.sh's, with
# NDB_NODE_IDS every data node of the configuration):
#   NDB_NO_OF_REPLICAS      data nodes per node group
#   SQL_ROOT_PASSWORD_FILE  root's password file inside the SQL node's container
#   SQL_SOCKET              mysqld's socket inside the container
# and from the component that runs it:
#   SQL_EXEC                the command that runs a program in a SQL node's container, split
#                           on blanks: `docker --host <its engine> exec -i <container>`

# shellcheck disable=SC2154 # title and ids: set by ndb-gate-lib.sh
# Shipped after the library's text (then its functions are defined); run as a file, read it.
if ! declare -F wait_for > /dev/null; then
  # shellcheck source=SCRIPTDIR/ndb-gate-lib.sh
  source "$(dirname "${BASH_SOURCE[0]}")/ndb-gate-lib.sh"
fi
replicas=${NDB_NO_OF_REPLICAS:?data nodes per node group}
password_file=${SQL_ROOT_PASSWORD_FILE:?root password file in the container}
socket=${SQL_SOCKET:?mysqld socket in the container}
read -r -a sql_exec <<< "${SQL_EXEC:?the command that runs a program in the container}"
if ! [[ $replicas =~ ^[1-9][0-9]*$ ]]; then
  log "FAILED: NDB_NO_OF_REPLICAS '$replicas' is not a number" >&2
  exit 2
fi

# Runs in the container, as sql-check-account.sh does: root's password goes from its file to
# an option file on a pipe, never into an argument or an environment.
# shellcheck disable=SC2016 # expanded by the bash in the container, from its arguments
inner='mysql --defaults-extra-file=<(printf "[client]\nuser=root\npassword=%s\n" "$(cat "$1")") \
  --protocol=socket --socket="$2" --batch --skip-column-names --connect-timeout=10 -e "$3"'
sql() { "${sql_exec[@]}" bash -c "$inner" ndb-scale-out "$password_file" "$socket" "$1"; }

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
quote_string() { printf "'%s'" "${1//\'/\'\'}"; }
# shellcheck disable=SC2016 # the backquotes are MySQL's identifier quotes, printed as such
quote_name() { printf '`%s`' "${1//\`/\`\`}"; }

# 1. Every configured data node started (the new ones too), then their node groups.
wait_for "data nodes started" "all status" started
if ! out=$(mgm show); then
  log "FAILED: the management server does not answer:" >&2
  printf '%s\n' "$out" >&2
  exit 1
fi
new=()
while read -r id; do
  [[ " ${ids[*]} " == *" $id "* ]] && new+=("$id")
done < <(grep -E '^id=[0-9]+[[:space:]]+@.*no nodegroup' <<< "$out" | sed -E 's/^id=([0-9]+).*/\1/')
if [ $(( ${#new[@]} % replicas )) -ne 0 ]; then
  log "FAILED: data nodes ${new[*]} have no node group, and node groups take $replicas" \
    "nodes each: start the missing ones (dataNodes.count is a multiple of noOfReplicas)" >&2
  exit 1
fi
for ((i = 0; i < ${#new[@]}; i += replicas)); do
  members=$(IFS=,; echo "${new[*]:i:replicas}")
  log "creating a node group of data nodes $members"
  if ! answer=$(mgm "create nodegroup $members") || ! grep -q "created" <<< "$answer"; then
    log "FAILED: CREATE NODEGROUP $members:" >&2
    printf '%s\n' "$answer" >&2
    exit 1
  fi
  log "$(grep -m1 created <<< "$answer")"
done
out=$(mgm show)
grouped=$(grep -cE '^id=[0-9]+[[:space:]]+@.*Nodegroup: [0-9]+' <<< "$out" || true)
log "data nodes in node groups: $grouped"

# 2. Every NDB table onto every node group.
memory() {  # node:KiB of one table with its indexes and BLOB parts, per data node
  local fq
  fq=$(quote_string "$1/def/$2")
  sql "SELECT IFNULL(GROUP_CONCAT(CONCAT(node_id, ':', ROUND(b / 1024), 'K')
         ORDER BY node_id SEPARATOR ' '), '-') FROM (SELECT node_id,
         SUM(fixed_elem_alloc_bytes + var_elem_alloc_bytes + hash_index_alloc_bytes) AS b
         FROM ndbinfo.memory_per_fragment WHERE fq_name = $fq OR parent_fq_name = $fq
         GROUP BY node_id) AS m"
}
if ! tables=$(sql "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
                   WHERE ENGINE = 'ndbcluster' ORDER BY TABLE_SCHEMA, TABLE_NAME"); then
  log "FAILED: could not list the NDB tables: $tables" >&2
  exit 1
fi
total=$(grep -c . <<< "$tables" || true)
done_count=0 spread=0 index=0 began=$(now)
while IFS=$'\t' read -r schema table; do
  [ -n "$table" ] || continue
  index=$((index + 1))
  name="$schema.$table"
  on=$(sql "SELECT COUNT(DISTINCT f.current_primary) FROM ndbinfo.dictionary_tables AS t
            JOIN ndbinfo.table_fragments AS f USING (table_id)
            WHERE t.database_name = $(quote_string "$schema")
              AND t.table_name = $(quote_string "$table")") || on=""
  if [ "$on" = "$grouped" ]; then
    spread=$((spread + 1))
    continue
  fi
  before=$(memory "$schema" "$table")
  start=$(now)
  qualified="$(quote_name "$schema").$(quote_name "$table")"
  if ! answer=$(sql "ALTER TABLE $qualified ALGORITHM=INPLACE, REORGANIZE PARTITION" 2>&1); then
    log "FAILED: [$index/$total] $name: ALTER TABLE ... REORGANIZE PARTITION: $answer" >&2
    log "the next run starts again from the tables not yet on every node group" >&2
    exit 1
  fi
  reorganised=$(since "$start")
  if ! answer=$(sql "OPTIMIZE TABLE $qualified" 2>&1) || grep -qP '\terror\t' <<< "$answer"; then
    log "FAILED: [$index/$total] $name: OPTIMIZE TABLE: $answer" >&2
    exit 1
  fi
  after=$(memory "$schema" "$table")
  done_count=$((done_count + 1))
  log "[$index/$total] $name: on ${on:-?} -> $grouped data nodes; reorganised in" \
    "${reorganised} s, with OPTIMIZE $(since "$start") s; KiB per node before: $before;" \
    "after: $after"
done <<< "$tables"
log "scale-out done: $grouped data nodes in node groups; $done_count of $total NDB tables" \
  "reorganised in $(since "$began") s, $spread already on every node group"
