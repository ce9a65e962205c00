#!/usr/bin/env bash
# Restores one backup made by ndb-backup.sh into a running cluster - the same one, or a fresh
# or resized one - in the order of the manual and of RonDB's restore job
# (docs/design.md §2.8): the metadata once with indexes disabled, then the data from every data node's files
# of the backup (as many as the cluster had when it was backed up, whatever it has now), then
# the indexes rebuilt and the backup's epoch written to mysql.ndb_apply_status. The stored
# grants (mysql.ndb_sql_metadata: every NDB_STORED_USER account, as the OpenStack services'
# are) come back with the data. With RESTORE_UNTIL, the binary log of the binlogging SQL node
# is then replayed from the backup's epoch up to that time (point-in-time recovery).
#
# Tables restored must not exist in the target: restore into a fresh cluster, or drop the
# databases first (RESTORE_DATABASES limits the restore to some).
#
# Environment:
#   NDB_CONNECTSTRING     the target's management server(s): "172.28.0.2:1186"
#   BACKUP_DIR            where ndb-backup.sh keeps backups: "/backups"
#   BACKUP_ID             the backup to restore (a folder of BACKUP_DIR)
#   BACKUP_PASSWORD_FILE  the encryption password, for a backup whose backup.info says
#                         encrypted=yes; read by ndb_restore on standard input
#   RESTORE_DATABASES     optional: comma-separated databases to restore; default all
#   RESTORE_UNTIL         optional: replay the binlog up to this UTC time, "YYYY-MM-DD hh:mm:ss"
#                         (events from that second on are not applied)
#   RESTORE_SYNC_TIMEOUT_SECONDS  optional: how long the SQL node may take to learn of the
#                         restored tables (ndb_metadata_sync); default 300
#   NDB_RESTORE           the command that runs ndb_restore, split on blanks
#   MYSQL                 the mysql client logged in as root on the target, split on blanks;
#                         its password in an option file it names. With RESTORE_UNTIL, a SQL
#                         node other than the binlogging one: a mysqld skips events carrying
#                         its own server id (seen on the test bed: nothing replayed)
#   BINLOG_MYSQL          with RESTORE_UNTIL: the mysql client on the binlogging SQL node
#   MYSQLBINLOG           with RESTORE_UNTIL: mysqlbinlog reading that node's binary logs
#                         (--read-from-remote-server and its login), split on blanks
set -euo pipefail

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
fail() { log "FAILED: $*" >&2; exit 1; }

connectstring=${NDB_CONNECTSTRING:?the target management server(s)}
backup_dir=${BACKUP_DIR:?where the backups are}
id=${BACKUP_ID:?the backup id to restore}
password_file=${BACKUP_PASSWORD_FILE:-}
databases=${RESTORE_DATABASES:-}
until_time=${RESTORE_UNTIL:-}
sync_timeout=${RESTORE_SYNC_TIMEOUT_SECONDS:-300}
read -r -a ndb_restore <<< "${NDB_RESTORE:-ndb_restore}"
read -r -a mysql <<< "${MYSQL:?the mysql client on the target, with its login}"

[[ $id =~ ^[0-9]+$ ]] || fail "BACKUP_ID '$id' is not a backup id"
[[ $sync_timeout =~ ^[0-9]+$ ]] || fail "RESTORE_SYNC_TIMEOUT_SECONDS '$sync_timeout' is not" \
  "a number of seconds"
folder=$backup_dir/$id
[ -f "$folder/backup.info" ] || fail "no backup $id in $backup_dir (no $folder/backup.info)"
info() { sed -n "s/^$1=//p" "$folder/backup.info"; }
read -r -a nodes <<< "$(info nodes)"
[ "${#nodes[@]}" -gt 0 ] || fail "$folder/backup.info names no data node"
if [ -n "$until_time" ] && ! [[ $until_time =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}$ ]]
then
  fail "RESTORE_UNTIL '$until_time' is not 'YYYY-MM-DD hh:mm:ss'"
fi

decrypt=()
if [ "$(info encrypted)" = yes ]; then
  [ -r "$password_file" ] || fail "backup $id is encrypted: BACKUP_PASSWORD_FILE must name" \
    "a readable file with its password"
  decrypt=(--decrypt --backup-password-from-stdin)
fi
include=()
[ -n "$databases" ] && include=("--include-databases=$databases")

sql() { "${mysql[@]}" --batch --skip-column-names -e "$1"; }

# run_restore NODE ARGS...: ndb_restore on one node's files of the backup; its password, if
# any, on standard input. --no-binlog: a binlogging SQL node must not log the restore itself.
run_restore() {
  local node=$1 start=$SECONDS out status=0
  shift
  local -a argv=("${ndb_restore[@]}" -c "$connectstring" -b "$id" -n "$node"
                 "--backup-path=$folder/node-$node" --no-binlog "${include[@]}"
                 "${decrypt[@]}" "$@")
  if [ "${#decrypt[@]}" -gt 0 ]; then
    # One line, newline-terminated, as ndb_restore reads it (see ndb-backup.sh).
    out=$(printf '%s\n' "$(cat "$password_file")" | "${argv[@]}" 2>&1) || status=$?
  else
    out=$("${argv[@]}" < /dev/null 2>&1) || status=$?
  fi
  if [ "$status" -ne 0 ]; then
    printf '%s\n' "$out" >&2
    fail "ndb_restore $* for node $node exited $status"
  fi
  log "node $node ($*): $(grep -E 'Restored [0-9]+ tuples' <<< "$out" | head -n 1 \
    || true) $((SECONDS - start))s"
}

log "restoring backup $id ($(info time), data nodes ${nodes[*]}) into $connectstring"
# The metadata is the same in every node's control file: once, from the first.
run_restore "${nodes[0]}" --restore-meta --disable-indexes
for node in "${nodes[@]}"; do
  run_restore "$node" --restore-data --include-stored-grants
done
run_restore "${nodes[0]}" --rebuild-indexes --restore-epoch
epoch=$(sql "SELECT MAX(epoch) FROM mysql.ndb_apply_status WHERE server_id = 0")
log "restored backup $id; its epoch $epoch (mysql.ndb_apply_status, server_id 0)"

# A SQL node learns of the databases and tables ndb_restore created from its metadata change
# monitor, every ndb_metadata_check_interval (60 s by default); until then it answers
# "Unknown database" (the replay below failed so on the test bed). Setting ndb_metadata_sync
# asks for that check now; the server sets it back to OFF once every object it found is
# synchronised (MySQL manual, "ndb_metadata_sync"; docs/design.md §2.8).
start=$SECONDS
sql "SET GLOBAL ndb_metadata_sync = ON"
until [ "$(sql "SELECT @@GLOBAL.ndb_metadata_sync")" = 0 ]; do
  [ $((SECONDS - start)) -lt "$sync_timeout" ] || fail "the SQL node did not finish" \
    "synchronising the restored tables (ndb_metadata_sync) in ${sync_timeout}s"
  sleep 1
done
log "the SQL node knows the restored tables ($((SECONDS - start))s)"

[ -n "$until_time" ] || exit 0

# Point-in-time: the first binlog position after the backup's epoch (the manual's procedure:
# mysql.ndb_binlog_index on the binlogging SQL node maps each epoch to its file and position).
read -r -a binlog_mysql <<< "${BINLOG_MYSQL:?the mysql client on the binlogging SQL node}"
read -r -a mysqlbinlog <<< "${MYSQLBINLOG:?mysqlbinlog reading the binary logs of that node}"
binlog_sql() { "${binlog_mysql[@]}" --batch --skip-column-names -e "$1"; }
if [ "$(sql "SELECT @@server_id")" = "$(binlog_sql "SELECT @@server_id")" ]; then
  fail "MYSQL is the binlogging SQL node (same server id): it would skip its own events;" \
    "replay through another SQL node"
fi
read -r file position < <(binlog_sql "SELECT SUBSTRING_INDEX(File, '/', -1), Position
  FROM mysql.ndb_binlog_index WHERE epoch > $epoch ORDER BY epoch ASC LIMIT 1") || true
if [ -z "${file:-}" ]; then
  log "no change was logged after the backup's epoch: nothing to replay"
  exit 0
fi
mapfile -t files < <(binlog_sql "SHOW BINARY LOGS" | awk -v first="$file" \
  '$1 == first { on = 1 } on { print $1 }')
[ "${#files[@]}" -gt 0 ] || fail "binlog $file is no longer on the binlogging SQL node" \
  "(backup.binlog.expireSeconds too short for this backup?)"
db_filter=()
[ -n "$databases" ] && [[ $databases != *,* ]] && db_filter=("--database=$databases")
log "replaying ${files[*]} from position $position up to $until_time UTC"
start=$SECONDS
# TZ=UTC: mysqlbinlog reads --stop-datetime in its own time zone.
TZ=UTC "${mysqlbinlog[@]}" "--start-position=$position" "--stop-datetime=$until_time" \
  "${db_filter[@]}" "${files[@]}" | "${mysql[@]}"
log "replayed up to $until_time UTC in $((SECONDS - start))s"
