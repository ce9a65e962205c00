#!/usr/bin/env bash
# Creates or updates the SQL node check's MySQL account on one SQL node: runs the statements on
# standard input (rendered by components/render/sql_check.py; they hold the account's password,
# pulumi-command's secret `stdin`) with the mysql client inside the SQL node's container, as
# root over mysqld's socket. Root's password is read from the file the image's entrypoint reads
# (MYSQL_ROOT_PASSWORD) into an option file on a pipe: never an argument, never a variable of
# any environment. Retries until mysqld takes the statements or the timeout passes.
#
# Environment, rendered by components/render/sql_check.py:
#   SQL_CHECK_ACCOUNT_TITLE     what runs, for the log: "check account on ndb-sql-1"
#   SQL_ROOT_PASSWORD_FILE      root's password file inside the container
#   SQL_SOCKET                  mysqld's socket inside the container
#   SQL_CHECK_ACCOUNT_TIMEOUT_SECONDS  how long to retry (gates.timeoutSeconds)
#   SQL_CHECK_ACCOUNT_POLL_SECONDS     between attempts (gates.pollSeconds)
# and from the component that runs it:
#   SQL_EXEC                    the command that runs a program in the SQL node's container,
#                               split on blanks: `docker exec -i <container>`, with DOCKER_HOST
#                               naming that container's Docker engine
set -euo pipefail

title=${SQL_CHECK_ACCOUNT_TITLE:?what runs, for the log}
password_file=${SQL_ROOT_PASSWORD_FILE:?root password file in the container}
socket=${SQL_SOCKET:?mysqld socket in the container}
timeout=${SQL_CHECK_ACCOUNT_TIMEOUT_SECONDS:?seconds to retry}
poll=${SQL_CHECK_ACCOUNT_POLL_SECONDS:?seconds between attempts}
read -r -a sql_exec <<< "${SQL_EXEC:?the command that runs a program in the container}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

for value in "$timeout" "$poll"; do
  if ! [[ $value =~ ^[0-9]+$ ]]; then
    log "FAILED: '$value' is not a number (SQL_CHECK_ACCOUNT_TIMEOUT_SECONDS and" \
      "SQL_CHECK_ACCOUNT_POLL_SECONDS are digits)" >&2
    exit 2
  fi
done

# Read once: every attempt sends them again. A shell variable is no environment variable.
statements=$(cat)
if [ -z "$statements" ]; then
  log "FAILED: no SQL statements on standard input" >&2
  exit 2
fi

# Runs in the container: printf is bash's builtin, so the password is in no argv; the option
# file is a pipe (/dev/fd/N) that the client reads once.
# shellcheck disable=SC2016 # expanded by the bash in the container, from its arguments
inner='mysql --defaults-extra-file=<(printf "[client]\nuser=root\npassword=%s\n" "$(cat "$1")") \
  --protocol=socket --socket="$2" --batch --connect-timeout=10'

# A syntax error quotes the statement "near '...'", which may hold the password: cut it off.
answer() { sed -E "s/ near '.*/ near (statement not shown)/" <<< "$1"; }

log "$title: (timeout ${timeout}s, poll ${poll}s)"
deadline=$((SECONDS + timeout))
while true; do
  if out=$(printf '%s\n' "$statements" \
      | "${sql_exec[@]}" bash -c "$inner" sql-check-account "$password_file" "$socket" 2>&1)
  then
    log "done: $title"
    exit 0
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    log "FAILED: $title after ${timeout}s; last answer:" >&2
    answer "$out" >&2
    exit 1
  fi
  log "not yet: $(answer "$out" | head -n 1)"
  sleep "$poll"
done
