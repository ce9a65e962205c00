#!/usr/bin/env bash
# Test-only: the compute host's Open vSwitch (tests/openstack/stand_ins.py), Debian's, with
# the userspace datapath (no kernel module): ovsdb-server on TCP for the agent, then
# ovs-vswitchd in the foreground. Both are processes of the caller's PID namespace and die
# with it; `ovs-appctl -t DIR/ovs-vswitchd.ctl exit --cleanup` removes the datapath's ports.
#   openvswitch.sh DIR ADDRESS PORT
set -euo pipefail
dir=$1 address=$2 port=$3
mkdir -p "$dir"
export OVS_RUNDIR=$dir OVS_LOGDIR=$dir OVS_DBDIR=$dir
rm -f "$dir/conf.db"
ovsdb-tool create "$dir/conf.db" /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server "$dir/conf.db" --remote="punix:$dir/db.sock" --remote="ptcp:$port:$address" \
  --unixctl="$dir/ovsdb-server.ctl" --pidfile="$dir/ovsdb-server.pid" &
for _ in $(seq 100); do [ -S "$dir/db.sock" ] && break; sleep 0.1; done
ovs-vsctl --db="unix:$dir/db.sock" --no-wait init
echo "ovsdb-server: tcp:$address:$port"
exec ovs-vswitchd "unix:$dir/db.sock" --unixctl="$dir/ovs-vswitchd.ctl" \
  --pidfile="$dir/ovs-vswitchd.pid" --disable-system
