#!/usr/bin/env bash
# Provision the real MySQL NDB Cluster test bed on a Debian host.
#
# Produces, under ${OPENSTACK_NDB_CACHE:-$HOME/.cache/openstack-ndb}:
#   sid-root/              debootstrapped Debian sid root with sid's mysqld + mysql client,
#                          and sid's rabbitmq-server (4.x) for the messaging tests
#   sid-root/opt/ndb/bin/  ndb_mgmd ndbmtd ndb_mgm ndb_restore, built from the Debian source
#                          package of the same version as that mysqld (they link sid's libs,
#                          so they run inside the root: `chroot sid-root /opt/ndb/bin/...`)
#   bin/                   copies of those four binaries (same caveat: run them in the root)
#   testbed.env            KEY=VALUE lines read by testbed/cluster.py
#   stamps/                one stamp per finished step; reruns skip finished steps
#   timings.log            seconds per step, as measured on this host
#
# Every step writes into a temporary place and stamps (or renames) only on success, so a
# failed or interrupted run is resumed by running the script again.
set -euo pipefail

CACHE="${OPENSTACK_NDB_CACHE:-$HOME/.cache/openstack-ndb}"
MIRROR="${NDB_TESTBED_MIRROR:-http://deb.debian.org/debian}"
JOBS="${NDB_TESTBED_JOBS:-$(nproc)}"
ROOT="$CACHE/sid-root"
STAMPS="$CACHE/stamps"
STEP="start"

REPORTED=0

log() { printf '[testbed] %s\n' "$*" >&2; }
die() { log "FAILED in step '$STEP': $*"; REPORTED=1; exit 1; }
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$REPORTED" -eq 0 ]; then log "FAILED in step '$STEP' (exit $rc)"; fi
  if [ "$rc" -ne 0 ]; then log "rerun the script to resume from step '$STEP'"; fi
}
trap on_exit EXIT

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, mount)"
mkdir -p "$CACHE" "$STAMPS"

# Run a named step unless its stamp exists; record its wall time.
step() {
  local name="$1"; shift
  STEP="$name"
  if [ -e "$STAMPS/$name" ]; then
    log "$name: done already (stamp $STAMPS/$name)"
    return 0
  fi
  log "$name: starting"
  local t0=$SECONDS
  "$@"
  local dt=$((SECONDS - t0))
  printf '%s %s %ss\n' "$(date -u +%FT%TZ)" "$name" "$dt" >>"$CACHE/timings.log"
  touch "$STAMPS/$name"
  log "$name: finished in ${dt}s"
}

# Run a command inside the sid root, in a private mount namespace so /proc is mounted
# for the command only and disappears with it (no mounts can leak from a failed step).
in_root() {
  # shellcheck disable=SC2016 # $0/$@ belong to the inner sh
  unshare --mount --propagation private -- \
    sh -c 'mount -t proc proc "$0/proc" && mount --rbind /sys "$0/sys" && exec chroot "$0" "$@"' "$ROOT" \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}

host_packages() {
  local want=(debootstrap haproxy ca-certificates curl)
  local missing=()
  local p
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing host packages: ${missing[*]}"
  # Lists may be absent on a fresh CI image; a failed install is retried after an update.
  apt-get install -y --no-install-recommends "${missing[@]}" ||
    { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } ||
    die "apt-get install ${missing[*]} failed on the host"
}

debootstrap_root() {
  local tmp="$ROOT.tmp"
  rm -rf "$tmp"
  debootstrap --variant=minbase sid "$tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    die "debootstrap failed; see $CACHE/debootstrap.log (tail: $(tail -3 "$CACHE/debootstrap.log" | tr '\n' ' '))"
  rm -rf "$ROOT"
  mv "$tmp" "$ROOT"
}

# Small files of the root, rewritten on every run (cheap, and fixes a hand-edited root).
configure_root() {
  # deb-src is needed for `apt-get source` of the exact mysqld version.
  printf 'deb %s sid main\ndeb-src %s sid main\n' "$MIRROR" "$MIRROR" >"$ROOT/etc/apt/sources.list"
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
  # minbase has no /etc/hosts; clients in the root resolve "localhost".
  printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
  # The archive seen here may be a frozen mirror/snapshot whose Release file has passed its
  # Valid-Until date; the test bed does not need freshness, only a consistent sid.
  echo 'Acquire::Check-Valid-Until "false";' >"$ROOT/etc/apt/apt.conf.d/99testbed"
  # Never start daemons from maintainer scripts inside the root.
  printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
  chmod +x "$ROOT/usr/sbin/policy-rc.d"
}

root_packages() {
  in_root apt-get update >"$CACHE/root-apt.log" 2>&1 || die "apt-get update in the root failed; see $CACHE/root-apt.log"
  # mysqld with ndbcluster compiled in, the mysql client, and only the tools the NDB build needs
  # (not the full build-dep set: no docs, no router, no java).
  local pkgs=(mysql-server-core mysql-client
    dpkg-dev xz-utils ca-certificates cmake make g++ bison pkg-config
    libssl-dev libncurses-dev libtirpc-dev rpcsvc-proto libaio-dev)
  in_root apt-get install -y --no-install-recommends "${pkgs[@]}" >>"$CACHE/root-apt.log" 2>&1 ||
    die "apt-get install in the root failed; see $CACHE/root-apt.log (tail: $(tail -3 "$CACHE/root-apt.log" | tr '\n' ' '))"
  in_root apt-get clean
}

# RabbitMQ 4 from sid, for the messaging tests (tests/real/rabbitmq_server.py runs it inside
# the root, like mysqld): the stacks pin the rabbitmq:4.1 image, Debian stable has 3.10, which
# has no deprecated features to deny. Retried after an update: the root's lists may be old.
root_rabbitmq() {
  in_root apt-get install -y --no-install-recommends rabbitmq-server >>"$CACHE/root-apt.log" 2>&1 ||
    { in_root apt-get update >>"$CACHE/root-apt.log" 2>&1 &&
      in_root apt-get install -y --no-install-recommends rabbitmq-server >>"$CACHE/root-apt.log" 2>&1; } ||
    die "apt-get install rabbitmq-server in the root failed; see $CACHE/root-apt.log (tail: $(tail -3 "$CACHE/root-apt.log" | tr '\n' ' '))"
  in_root apt-get clean
}

# Source package name and version of the installed mysqld, e.g. "mysql-9.7 9.7.4-1".
mysqld_source() {
  local pkg
  pkg=$(in_root dpkg-query -S /usr/sbin/mysqld | cut -d: -f1) || die "no /usr/sbin/mysqld in the root"
  # shellcheck disable=SC2016 # dpkg-query format, not shell
  in_root dpkg-query -W -f='${source:Package} ${source:Version}\n' "$pkg"
}

# The mirror may index a source version whose files it does not carry (seen here: sid's
# binaries are 9.7.4-2 while only the 9.7.2-4 source is fetchable). Try the installed version
# first, then older ones; the mysqld is matched to the fetched source in the next step.
fetch_source() {
  local tmp="$ROOT/build/src.tmp" v
  local versions=("$BINVER")
  mapfile -t -O 1 versions < <(in_root apt-cache showsrc "$SRCPKG" | sed -n 's/^Version: //p' | sort -urV)
  : >"$CACHE/source.log"
  local tried=" "
  for v in "${versions[@]}"; do
    case "$tried" in *" $v "*) continue ;; esac
    tried+="$v "
    rm -rf "$tmp"
    mkdir -p "$tmp"
    log "trying apt-get source $SRCPKG=$v"
    if in_root sh -c "cd /build/src.tmp && apt-get source '$SRCPKG=$v'" >>"$CACHE/source.log" 2>&1; then
      rm -rf "$ROOT/build/src-$v"
      mv "$tmp" "$ROOT/build/src-$v"
      echo "$v" >"$CACHE/source-version"
      return 0
    fi
    log "source $SRCPKG=$v is not fetchable from $MIRROR"
  done
  rm -rf "$tmp"
  die "no version of source package $SRCPKG could be fetched; see $CACHE/source.log"
}

# Install sid's binary packages of the fetched source version when the installed ones differ,
# so the NDB programs and mysqld come from the same release; hold them against upgrades.
match_mysqld() {
  [ "$BINVER" = "$SRCVER" ] && return 0
  log "installed mysqld is $BINVER; installing $SRCVER binaries from the pool to match the source"
  local arch p pkgs=() debs=()
  arch=$(in_root dpkg --print-architecture)
  # shellcheck disable=SC2016 # dpkg-query format, not shell
  mapfile -t pkgs < <(in_root dpkg-query -W -f='${binary:Package} ${source:Package}\n' |
    awk -v s="$SRCPKG" '$2 == s { sub(/:.*/, "", $1); print $1 }')
  mkdir -p "$ROOT/build/debs"
  for p in "${pkgs[@]}"; do
    curl -fsS -o "$ROOT/build/debs/${p}_${SRCVER#*:}_$arch.deb" \
      "$MIRROR/pool/main/${SRCPKG:0:1}/$SRCPKG/${p}_${SRCVER#*:}_$arch.deb" ||
      die "cannot download $p $SRCVER from the pool"
    debs+=("/build/debs/${p}_${SRCVER#*:}_$arch.deb")
  done
  in_root apt-get install -y --allow-downgrades --no-install-recommends "${debs[@]}" >>"$CACHE/root-apt.log" 2>&1 ||
    die "installing ${pkgs[*]} $SRCVER failed; see $CACHE/root-apt.log"
  in_root apt-mark hold "${pkgs[@]}" >/dev/null
}

srcdir_in_root() {
  local d
  d=$(find "$ROOT/build/src-$SRCVER" -mindepth 1 -maxdepth 1 -type d | head -1)
  if [ -z "$d" ]; then
    # Pruned earlier (NDB_TESTBED_PRUNE=1): unpack the kept source package again.
    in_root sh -c "cd /build/src-$SRCVER && dpkg-source -x ./*.dsc" >>"$CACHE/source.log" 2>&1 ||
      die "dpkg-source -x in $ROOT/build/src-$SRCVER failed; see $CACHE/source.log"
    d=$(find "$ROOT/build/src-$SRCVER" -mindepth 1 -maxdepth 1 -type d | head -1)
  fi
  [ -n "$d" ] || die "no unpacked source tree under $ROOT/build/src-$SRCVER"
  printf '%s\n' "${d#"$ROOT"}"
}

configure_build() {
  local src; src=$(srcdir_in_root)
  local bundled=()
  local lib
  # Bundle the libraries whose source the package carries; otherwise cmake wants -dev packages.
  for lib in zlib zstd lz4 protobuf icu; do
    if [ -d "$ROOT$src/extra/$lib" ]; then bundled+=("-DWITH_${lib^^}=bundled"); fi
  done
  mkdir -p "$ROOT/build/obj-$SRCVER"
  in_root sh -c "cd /build/obj-$SRCVER && cmake \"\$@\"" cmake "$src" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS_RELEASE='-O1 -g0 -DNDEBUG' -DCMAKE_CXX_FLAGS_RELEASE='-O1 -g0 -DNDEBUG' \
    -DWITH_NDB=ON -DWITH_NDBCLUSTER_STORAGE_ENGINE=ON -DWITH_NDB_JAVA=OFF \
    -DWITH_UNIT_TESTS=OFF -DWITH_ROUTER=OFF -DWITH_SSL=system \
    -DWITH_EDITLINE=bundled -DWITH_CURL=none -DWITH_FIDO=none -DWITH_AUTHENTICATION_LDAP=OFF \
    -DWITH_AUTHENTICATION_KERBEROS=OFF -DWITH_AUTHENTICATION_WEBAUTHN=OFF "${bundled[@]}" \
    >"$CACHE/cmake.log" 2>&1 ||
    die "cmake configure failed; see $CACHE/cmake.log (tail: $(tail -5 "$CACHE/cmake.log" | tr '\n' ' '))"
}

compile_ndb() {
  # Incremental: a rerun after a failure continues where make stopped.
  in_root sh -c "cd /build/obj-$SRCVER && make -j$JOBS ndb_mgmd ndbmtd ndb_mgm ndb_restore" \
    >"$CACHE/make.log" 2>&1 ||
    die "make failed; see $CACHE/make.log (tail: $(grep -m3 -i 'error' "$CACHE/make.log" | tr '\n' ' '))"
}

install_ndb() {
  local out="$ROOT/opt/ndb/bin" b f
  rm -rf "$out.tmp" "$CACHE/bin.tmp"
  mkdir -p "$out.tmp" "$CACHE/bin.tmp"
  for b in ndb_mgmd ndbmtd ndb_mgm ndb_restore; do
    f="$ROOT/build/obj-$SRCVER/runtime_output_directory/$b"
    [ -x "$f" ] || die "built binary $f not found"
    cp "$f" "$out.tmp/$b"
    cp "$f" "$CACHE/bin.tmp/$b"
  done
  in_root /opt/ndb/bin.tmp/ndb_mgmd --version >/dev/null || die "ndb_mgmd does not run in the root"
  rm -rf "$out" "${CACHE:?}/bin"
  mv "$out.tmp" "$out"
  mv "$CACHE/bin.tmp" "$CACHE/bin"
}

# Opt-in (NDB_TESTBED_PRUNE=1): drop the unpacked source (~1.3 GB) and the build tree
# (~0.2 GB); the source package files stay, so a rebuild unpacks instead of fetching.
prune_build() {
  [ "${NDB_TESTBED_PRUNE:-0}" = 1 ] || return 0
  log "pruning the build tree; the source package files stay in $ROOT/build/src-$SRCVER"
  rm -rf "$ROOT/build/obj-$SRCVER"
  find "$ROOT/build/src-$SRCVER" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
  # Stamps stay: the installed binaries are what later runs need. To rebuild, remove the
  # cmake-/compile-/install- stamps; the cmake step unpacks the source again.
}

write_env() {
  local ver
  ver=$(in_root /usr/sbin/mysqld --version | grep -o 'Ver [0-9.]*' | cut -d' ' -f2)
  cat >"$CACHE/testbed.env.tmp" <<EOF
# Written by testbed/provision.sh. NDB programs and mysqld link sid's libraries:
# run them inside the root, e.g. chroot \$NDB_TESTBED_ROOT \$NDB_TESTBED_BIN_IN_ROOT/ndb_mgm.
NDB_TESTBED_ROOT=$ROOT
NDB_TESTBED_BIN=$ROOT/opt/ndb/bin
NDB_TESTBED_BIN_IN_ROOT=/opt/ndb/bin
NDB_TESTBED_MYSQLD=/usr/sbin/mysqld
NDB_TESTBED_MYSQL=/usr/bin/mysql
NDB_TESTBED_MYSQL_VERSION=$ver
NDB_TESTBED_SOURCE=$SRCPKG=$SRCVER
NDB_TESTBED_HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
EOF
  mv "$CACHE/testbed.env.tmp" "$CACHE/testbed.env"
}

step host-packages host_packages
step debootstrap-sid debootstrap_root
STEP="configure-root"
configure_root
step root-packages root_packages
step root-rabbitmq root_rabbitmq

STEP="detect-version"
read -r SRCPKG SRCVER < <(mysqld_source)
[ -n "${SRCVER:-}" ] || die "could not read the mysqld source package version"
log "sid mysqld comes from source package $SRCPKG $SRCVER"

BINVER="$SRCVER"
step source fetch_source
SRCVER=$(cat "$CACHE/source-version")
step "match-mysqld-$SRCVER" match_mysqld
step "cmake-$SRCVER" configure_build
step "compile-$SRCVER" compile_ndb
step "install-$SRCVER" install_ndb
STEP="check"
for b in ndb_mgmd ndbmtd ndb_mgm ndb_restore; do
  [ -x "$ROOT/opt/ndb/bin/$b" ] ||
    die "$ROOT/opt/ndb/bin/$b is missing although stamped; rm $STAMPS/install-$SRCVER and rerun"
done
STEP="prune"
prune_build
STEP="write-env"
write_env
log "ready: $(grep -E '^NDB_TESTBED_(ROOT|MYSQL_VERSION)=' "$CACHE/testbed.env" | tr '\n' ' ')"
log "env file: $CACHE/testbed.env"
