#!/usr/bin/env bash
# Kolla's own image sources, as reference data for tests/kolla: the kolla release whose images
# the stacks pin (2026.2 = kolla 23), from PyPI, unpacked (no dependencies, nothing installed).
# It carries docker/base/set_configs.py (what kolla_start runs on config.json), the health
# check scripts and every image's Dockerfile. Idempotent; cached by version.
#
#   tests/kolla/provision_kolla.sh        # -> ${OPENSTACK_NDB_CACHE:-~/.cache/openstack-ndb}/kolla-23.0.0
set -euo pipefail

VERSION=23.0.0
CACHE="${OPENSTACK_NDB_CACHE:-$HOME/.cache/openstack-ndb}"
DEST="$CACHE/kolla-$VERSION"
PIP="${PIP:-.venv/bin/pip}"

if [[ -f $DEST/.provisioned ]]; then
  echo "[kolla] $VERSION: cached ($DEST)"
  exit 0
fi
echo "[kolla] $VERSION: downloading the wheel from PyPI"
rm -rf "$DEST" "$DEST.tmp"
mkdir -p "$DEST.tmp"
"$PIP" download --quiet --disable-pip-version-check --no-deps --dest "$DEST.tmp" "kolla==$VERSION"
python3 -m zipfile -e "$DEST.tmp/kolla-$VERSION"-*.whl "$DEST.tmp/unpacked"
mv "$DEST.tmp/unpacked" "$DEST"
rm -rf "$DEST.tmp"
touch "$DEST/.provisioned"
echo "[kolla] $VERSION: done ($DEST)"
