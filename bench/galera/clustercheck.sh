#!/usr/bin/env bash
# An HTTP health answer for HAProxy's `option httpchk`, run by socat once per check (as
# Kolla's mariadb-clustercheck container runs Fedora's clustercheck.sh behind socat):
# 200 while this member is Synced (wsrep_local_state 4), or a donor (state 2) since Kolla
# sets AVAILABLE_WHEN_DONOR=1; 503 otherwise, also when the server does not answer.
# $1: a client defaults file (socket and user; never a password on the command line).
set -u
defaults="$1"
state="$(timeout 10 mariadb --defaults-extra-file="$defaults" --batch --skip-column-names \
  -e "SHOW GLOBAL STATUS LIKE 'wsrep_local_state'" 2>/dev/null | cut -f2)"
if [ "$state" = 4 ] || [ "$state" = 2 ]; then
  body="Galera member is synced (wsrep_local_state $state)."
  status="200 OK"
else
  body="Galera member is not synced (wsrep_local_state ${state:-unknown})."
  status="503 Service Unavailable"
fi
printf 'HTTP/1.1 %s\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s\r\n' \
  "$status" "$((${#body} + 2))" "$body"
