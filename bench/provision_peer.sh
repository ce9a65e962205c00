#!/usr/bin/env bash
# Install what the bench's Galera peer and its load need, from Debian: mariadb-server,
# galera-4, mariadb-backup (Kolla's SST method), socat (the clustercheck's listener and the
# SST stream), haproxy and sysbench. Needs root. Idempotent: installs only what is missing.
#
# The packages' own MariaDB service must not start: the peer runs its members by itself on
# loopback addresses of its own. Where no policy-rc.d forbids service starts (Docker's
# images ship one), one is put in place for the install and removed after.
set -euo pipefail

packages=(mariadb-server galera-4 mariadb-backup socat haproxy sysbench)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "[bench] missing Debian packages: ${missing[*]}; run as root: bash $0" >&2
  exit 1
fi

policy=/usr/sbin/policy-rc.d
placed=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  placed=1
fi
trap '[ "$placed" -eq 0 ] || rm -f "$policy"' EXIT

echo "[bench] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${missing[@]}" ||
  { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; }
