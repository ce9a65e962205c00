#!/usr/bin/env bash
# Install the OpenStack services whose own migrations tests/openstack runs, one virtualenv per
# service, from PyPI, pinned to one OpenStack release (2026.2). Idempotent: a venv with its
# stamp is reused; a failed install leaves no stamp and the next run redoes it.
#
#   tests/openstack/provision_services.sh            # all services
#   tests/openstack/provision_services.sh nova       # only the named ones
#
# Cache: ${OPENSTACK_NDB_CACHE:-$HOME/.cache/openstack-ndb}/openstack/<name>-<version>
# Prints one "[services]" line per step and the seconds each install took (timings.log).
set -euo pipefail

CACHE="${OPENSTACK_NDB_CACHE:-$HOME/.cache/openstack-ndb}/openstack"
PYTHON="${OPENSTACK_NDB_SERVICES_PYTHON:-python3}"
# The services run their own db sync only: PyMySQL is oslo.db's MySQL driver and
# cryptography lets PyMySQL log in with caching_sha2_password (MySQL 8.4+/9.x default);
# python-memcached is oslo.cache's memcache_pool client ([cache] in the rendered configs; Kolla
# images carry it too).
EXTRA=(PyMySQL cryptography python-memcached)
# Per service: keystone, glance and placement are served by uWSGI from their rendered ini in
# the tests, as in their containers (the catalog's `wsgi` containers); pip builds uWSGI from
# source (about 25 s each).
declare -A SERVICE_EXTRA=(
  [keystone]="uwsgi==2.0.31"
  [glance]="uwsgi==2.0.31"
  [placement]="uwsgi==2.0.31"
)

# name (as tests/openstack/services.py names it) -> PyPI requirement. Keep in sync there.
declare -A PACKAGE=(
  [keystone]="keystone==30.0.0"
  [glance]="glance==33.0.0"
  [placement]="openstack-placement==16.0.0"
  [nova]="nova==34.0.0"
  [neutron]="neutron==29.0.0"
  [heat]="openstack-heat==27.0.1"
  [cinder]="cinder==29.0.0"
)
ORDER=(keystone glance placement nova neutron heat cinder)

log() { echo "[services] $*"; }

install_one() {
  local name=$1 req=${PACKAGE[$1]}
  local version=${req##*==}
  local dir="$CACHE/$name-$version"
  local stamp="$dir/.provisioned"
  local extras=("${EXTRA[@]}")
  # shellcheck disable=SC2206  # the per-service list is space-separated on purpose
  [[ -n ${SERVICE_EXTRA[$name]:-} ]] && extras+=(${SERVICE_EXTRA[$name]})
  # The stamp alone is not enough: a venv whose base interpreter went away is redone.
  if [[ -f $stamp ]] && "$dir/bin/python" -c 'import pymysql' 2>/dev/null; then
    # A venv from before an extra was added gets just the extras, not a new install.
    if [[ "$(cat "$dir/.extras" 2>/dev/null)" != "${extras[*]}" ]]; then
      log "$name $version: adding ${extras[*]}"
      "$dir/bin/pip" install --quiet --disable-pip-version-check "${extras[@]}" \
        >>"$dir.install.log" 2>&1 || { log "$name: extras FAILED (see $dir.install.log)"; return 1; }
      echo "${extras[*]}" >"$dir/.extras"
    fi
    log "$name $version: cached ($dir)"
    return 0
  fi
  log "$name $version: installing into $dir"
  local start=$SECONDS
  # Venvs hard-code their own path in their scripts, so the venv is built at its final path
  # and only the stamp, written last, marks it complete; a leftover without it is redone.
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  if ! "$dir/bin/pip" install --quiet --disable-pip-version-check "$req" "${extras[@]}" \
      >"$dir.install.log" 2>&1; then
    log "$name $version: FAILED, last lines of $dir.install.log:"
    tail -n 30 "$dir.install.log" >&2
    return 1
  fi
  local took=$((SECONDS - start))
  echo "${extras[*]}" >"$dir/.extras"
  echo "$req $took" >"$stamp"
  echo "$(date -u +%FT%TZ) $name-$version ${took}s" >>"$CACHE/timings.log"
  log "$name $version: done in ${took}s"
}

main() {
  mkdir -p "$CACHE"
  local names=("$@")
  ((${#names[@]})) || names=("${ORDER[@]}")
  local name failed=0
  for name in "${names[@]}"; do
    if [[ -z ${PACKAGE[$name]:-} ]]; then
      log "unknown service '$name' (known: ${ORDER[*]})" >&2
      return 2
    fi
    install_one "$name" || failed=1
  done
  ((failed == 0)) || { log "some installs failed"; return 1; }
  log "all done"
}

main "$@"
