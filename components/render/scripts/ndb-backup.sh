#!/usr/bin/env bash
# Native NDB backups, scheduled or on demand: `START BACKUP <id> WAIT COMPLETED` through the
# management server, every data node's share of it copied into the backup directory, then the
# retention rule. The backup job's container runs `ndb-backup.sh loop`; `make backup` and the
# tests run `ndb-backup.sh once`.
#
#   ndb-backup.sh loop             every minute, a backup when BACKUP_SCHEDULE matches (UTC)
#   ndb-backup.sh once [ID]        one backup now (ID: default the UTC time, YYMMDDhhmm)
#   ndb-backup.sh matches 'M H d m w' 'SCHEDULE'   exit 0 if the schedule matches that minute
#   ndb-backup.sh last             the newest complete backup: "<id> <UTC time>", or "none"
#
# What a backup leaves in BACKUP_DIR/<id>/: node-<n>/ per data node (its BACKUP-<id> files,
# as ndb_restore reads them with --backup-path) and backup.info (id, time, nodes, encryption,
# the backup's stop GCP, records and bytes). A copy in progress is BACKUP_DIR/<id>.partial
# and becomes <id> by one rename once every node's files are in; BACKUP_DIR/last names the
# newest complete one. The data nodes' own copies are removed after the copy (they hold disk
# on the data nodes' volumes; components/render/backup.py says where they are).
#
# Environment, rendered by components/render/backup.py:
#   NDB_CONNECTSTRING        the management server(s): "172.28.0.2:1186"
#   BACKUP_DIR               the backup volume: "/backups"
#   BACKUP_NODE_DIRS         data node id=its DataDir as this script sees it, blank-separated:
#                            "1=/ndb-data/node-1 2=/ndb-data/node-2"
#   BACKUP_SCHEDULE          five cron fields (config/cron.py): "30 2 * * *"
#   BACKUP_KEEP_COUNT        how many complete backups to keep (at least 1)
#   BACKUP_KEEP_DAYS         delete backups older than this many days; 0: no age limit
#   BACKUP_PASSWORD_FILE     file holding the encryption password; empty: not encrypted
#   BACKUP_TIMEOUT_SECONDS   how long START BACKUP may take
# and from whoever runs it:
#   NDB_MGM                  the command that runs ndb_mgm, split on blanks (default ndb_mgm)
set -euo pipefail

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
fail() { log "FAILED: $*" >&2; exit 1; }

# --- cron matching (the grammar of config/cron.py; numbers only) ----------------------------

# field_matches VALUE FIELD LOW HIGH: does one cron field allow VALUE?
field_matches() {
  local value=$1 field=$2 low=$3 high=$4 item base step first last
  local -a items
  IFS=, read -r -a items <<< "$field"
  for item in "${items[@]}"; do
    step=1
    if [[ $item == */* ]]; then step=${item#*/}; base=${item%%/*}; else base=$item; fi
    [[ $step =~ ^[0-9]+$ && $step -ge 1 ]] || return 2
    if [ "$base" = "*" ]; then
      first=$low; last=$high
    elif [[ $base =~ ^([0-9]+)-([0-9]+)$ ]]; then
      first=$((10#${BASH_REMATCH[1]})); last=$((10#${BASH_REMATCH[2]}))
    elif [[ $base =~ ^[0-9]+$ ]]; then
      first=$((10#$base)); last=$first
      [[ $item == */* ]] && last=$high  # crontab(5): N/STEP runs to the end of the range
    else
      return 2
    fi
    if [ "$value" -ge "$first" ] && [ "$value" -le "$last" ] \
        && [ $(((value - first) % step)) -eq 0 ]; then
      return 0
    fi
  done
  return 1
}

# cron_matches "M H d m w" "SCHEDULE": the minute's fields (date -u '+%M %H %d %m %w').
cron_matches() {
  local -a now cron
  read -r -a now <<< "$1"
  read -r -a cron <<< "$2"
  [ "${#cron[@]}" -eq 5 ] || { log "FAILED: schedule '$2' is not five fields" >&2; return 2; }
  local minute=$((10#${now[0]})) hour=$((10#${now[1]})) dom=$((10#${now[2]}))
  local month=$((10#${now[3]})) dow=$((10#${now[4]})) dom_ok=1 dow_ok=1
  field_matches "$minute" "${cron[0]}" 0 59 || return 1
  field_matches "$hour" "${cron[1]}" 0 23 || return 1
  field_matches "$month" "${cron[3]}" 1 12 || return 1
  field_matches "$dom" "${cron[2]}" 1 31 && dom_ok=0
  # Sunday is 0 and 7.
  if field_matches "$dow" "${cron[4]}" 0 7 || { [ "$dow" -eq 0 ] \
      && field_matches 7 "${cron[4]}" 0 7; }; then
    dow_ok=0
  fi
  # crontab(5): with both day fields restricted, either one matching is enough.
  if [[ ${cron[2]} == \** || ${cron[4]} == \** ]]; then
    [ "$dom_ok" -eq 0 ] && [ "$dow_ok" -eq 0 ]
  else
    [ "$dom_ok" -eq 0 ] || [ "$dow_ok" -eq 0 ]
  fi
}

# --- one backup -----------------------------------------------------------------------------

settings() {
  connectstring=${NDB_CONNECTSTRING:?the management server(s), host:port[,host:port]}
  backup_dir=${BACKUP_DIR:?the backup directory}
  read -r -a node_dirs <<< "${BACKUP_NODE_DIRS:?data node id=DataDir, blank-separated}"
  keep_count=${BACKUP_KEEP_COUNT:?how many backups to keep}
  keep_days=${BACKUP_KEEP_DAYS:?maximum age in days, 0 for none}
  password_file=${BACKUP_PASSWORD_FILE:-}
  timeout=${BACKUP_TIMEOUT_SECONDS:?seconds START BACKUP may take}
  read -r -a ndb_mgm <<< "${NDB_MGM:-ndb_mgm}"
  for value in "$keep_count" "$keep_days" "$timeout"; do
    [[ $value =~ ^[0-9]+$ ]] || fail "'$value' is not a number (BACKUP_KEEP_COUNT," \
      "BACKUP_KEEP_DAYS and BACKUP_TIMEOUT_SECONDS are digits)"
  done
  [ "$keep_count" -ge 1 ] || fail "BACKUP_KEEP_COUNT must be at least 1"
  [ "${#node_dirs[@]}" -gt 0 ] || fail "BACKUP_NODE_DIRS names no data node"
  if [ -n "$password_file" ] && [ ! -r "$password_file" ]; then
    fail "cannot read the backup password file $password_file"
  fi
  mkdir -p "$backup_dir"
}

# start_backup ID: runs START BACKUP; prints ndb_mgm's answer; fails unless it completed.
start_backup() {
  local id=$1 out status=0
  local -a args=(-c "$connectstring" --connect-retries=3 -e "START BACKUP $id WAIT COMPLETED")
  if [ -n "$password_file" ]; then
    # The password on ndb_mgm's standard input, never in its arguments (ps shows those).
    # ndb_mgm reads one line ("backup password has no end" without its newline); the
    # generated file has none. printf is bash's builtin: the password is in no argv.
    out=$(printf '%s\n' "$(cat "$password_file")" | timeout "$timeout" "${ndb_mgm[@]}" \
      --backup-password-from-stdin --encrypt-backup "${args[@]}" 2>&1) || status=$?
  else
    out=$(timeout "$timeout" "${ndb_mgm[@]}" "${args[@]}" 2>&1) || status=$?
  fi
  printf '%s\n' "$out"
  [ "$status" -eq 0 ] && grep -q "Backup $id started from node [0-9]* completed" <<< "$out"
}

# copy_node NODE SOURCE DEST: the node's files of backup $id, with their folders (a parallel
# backup has one BACKUP-<id>-PART-<n>-OF-<N> folder per LDM thread). Only files named for
# this node: data nodes that share one DataDir (the test bed) share the folder too.
copy_node() {
  local node=$1 source=$2/BACKUP/BACKUP-$id dest=$3 file rel count=0
  [ -d "$source" ] || fail "node $node: no $source"
  mkdir -p "$dest"
  while IFS= read -r -d '' file; do
    rel=${file#"$source"/}
    mkdir -p "$dest/$(dirname "$rel")"
    cp -p "$file" "$dest/$rel"
    count=$((count + 1))
  done < <(find "$source" -type f -name "*.$node.*" -print0)
  [ "$count" -gt 0 ] || fail "node $node: no files of backup $id in $source"
  [ -n "$(find "$dest" -maxdepth 2 -name "BACKUP-$id.$node.ctl")" ] \
    || fail "node $node: backup $id has no control file BACKUP-$id.$node.ctl"
  log "node $node: $count file(s), $(du -sh "$dest" | cut -f1)"
}

# drop_node_copy NODE SOURCE: the data node's own files of backup $id, once copied.
drop_node_copy() {
  local source=$2/BACKUP/BACKUP-$id
  find "$source" -type f -name "*.$1.*" -delete
  find "$source" -depth -type d -empty -delete 2>/dev/null || true
}

once() {
  settings
  id=${1:-$(date -u +%y%m%d%H%M)}
  [[ $id =~ ^[0-9]+$ && ${#id} -le 10 && $id -ge 1 && $id -le 4294967294 ]] \
    || fail "backup id '$id' must be a number from 1 to 4294967294"
  [ ! -e "$backup_dir/$id" ] || fail "backup $id exists already in $backup_dir"
  local started out entry node stop_gcp records bytes
  started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  log "backup $id: START BACKUP via $connectstring$([ -n "$password_file" ] && echo ', encrypted')"
  if ! out=$(start_backup "$id"); then
    printf '%s\n' "$out" >&2
    fail "backup $id did not complete"
  fi
  printf '%s\n' "$out" | grep -E "StopGCP|#Records|#LogRecords|Data:|Log:" || true
  stop_gcp=$(grep -oE 'StopGCP: [0-9]+' <<< "$out" | grep -oE '[0-9]+' || echo unknown)
  records=$(grep -oE '#Records: [0-9]+' <<< "$out" | grep -oE '[0-9]+' || echo unknown)
  bytes=$(grep -oE 'Data: [0-9]+ bytes' <<< "$out" | grep -oE '[0-9]+' || echo unknown)
  rm -rf "$backup_dir/$id.partial"
  local nodes=()
  for entry in "${node_dirs[@]}"; do
    node=${entry%%=*}
    copy_node "$node" "${entry#*=}" "$backup_dir/$id.partial/node-$node"
    nodes+=("$node")
  done
  {
    echo "id=$id"
    echo "time=$started"
    echo "nodes=${nodes[*]}"
    echo "encrypted=$([ -n "$password_file" ] && echo yes || echo no)"
    echo "stop_gcp=$stop_gcp"
    echo "records=$records"
    echo "data_bytes=$bytes"
  } > "$backup_dir/$id.partial/backup.info"
  mv "$backup_dir/$id.partial" "$backup_dir/$id"
  for entry in "${node_dirs[@]}"; do
    drop_node_copy "${entry%%=*}" "${entry#*=}"
  done
  printf '%s %s\n' "$id" "$started" > "$backup_dir/last.tmp"
  mv "$backup_dir/last.tmp" "$backup_dir/last"
  log "backup $id: complete in $backup_dir/$id ($(du -sh "$backup_dir/$id" | cut -f1))"
  retention
}

# The newest complete backups first; keep BACKUP_KEEP_COUNT of them and none older than
# BACKUP_KEEP_DAYS, but always the newest. Backup ids are numbers: sort numerically.
retention() {
  local -a ids
  local id n=0 age_limit=""
  mapfile -t ids < <(find "$backup_dir" -mindepth 1 -maxdepth 1 -type d -regex '.*/[0-9]+' \
    -printf '%f\n' | sort -rn)
  [ "$keep_days" -gt 0 ] && age_limit=$(( $(date -u +%s) - keep_days * 86400 ))
  for id in "${ids[@]}"; do
    n=$((n + 1))
    [ "$n" -eq 1 ] && continue
    if [ "$n" -gt "$keep_count" ]; then
      log "retention: deleting backup $id (keeping the newest $keep_count)"
      rm -rf "${backup_dir:?}/$id"
    elif [ -n "$age_limit" ] && [ "$(stat -c %Y "$backup_dir/$id/backup.info")" -lt "$age_limit" ]
    then
      log "retention: deleting backup $id (older than $keep_days days)"
      rm -rf "${backup_dir:?}/$id"
    fi
  done
}

loop() {
  settings
  local schedule=${BACKUP_SCHEDULE:?five cron fields} now
  cron_matches "00 00 01 01 0" "$schedule" || [ $? -eq 1 ] \
    || fail "BACKUP_SCHEDULE '$schedule' is not a cron schedule"
  log "backup job: schedule '$schedule' (UTC), $backup_dir, keep $keep_count" \
    "$([ "$keep_days" -gt 0 ] && echo "and at most $keep_days days")"
  while true; do
    # Wake up in the first second of every minute.
    sleep $((60 - 10#$(date -u +%S)))
    now=$(date -u '+%M %H %d %m %w')
    if cron_matches "$now" "$schedule"; then
      # A failed backup is logged and tried again at the next matching minute.
      (once) || log "backup failed; next try at the next scheduled minute"
    fi
  done
}

last() {
  local dir=${BACKUP_DIR:?the backup directory}
  if [ -f "$dir/last" ]; then cat "$dir/last"; else echo none; fi
}

case ${1:-} in
  loop) loop ;;
  once) shift; once "$@" ;;
  matches) cron_matches "$2" "$3" ;;
  last) last ;;
  *) echo "usage: $0 loop | once [ID] | matches 'M H d m w' SCHEDULE | last" >&2; exit 2 ;;
esac
