#!/usr/bin/env bash
# keepalived's check of the HAProxy beside it (vrrp_script): exit 0 while that HAProxy answers
# its monitor URI on this host, 1 otherwise. A member whose check fails gives up the virtual
# address (its VRRP instance goes to FAULT) until the check passes again.
#
# Arguments (keepalived runs it without a shell): the monitor's address and port, as
# components/render/keepalived.py renders them into keepalived.conf.
# Kolla-Ansible's check_alive_haproxy.sh asks HAProxy's stats socket instead; a monitor URI
# needs no socket shared between the two containers.
set -u
address=${1:?monitor address}
port=${2:?monitor port}

# bash's /dev/tcp: no curl or socat needed in the keepalived image.
if ! exec 3<>"/dev/tcp/${address}/${port}"; then
  exit 1
fi
printf 'GET / HTTP/1.0\r\n\r\n' >&3
IFS= read -r -t 2 status_line <&3 || exit 1
exec 3<&-
case "${status_line}" in
  "HTTP/1."[01]" 200"*) exit 0 ;;
  *) exit 1 ;;
esac
