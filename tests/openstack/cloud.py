"""The dev stack's whole control plane as processes, from the files the program renders.

No Docker engine runs where this project is tested, so each container becomes a process that
sees what the container would see:

- **Its files where Kolla puts them.** Each container runs in a private mount namespace on a
  throw-away overlay of `/` (upper layer on a tmpfs of its own): the program's uploads are
  copied to their paths (/var/lib/kolla/config_files/..., /opt/openstack-ndb/...), Kolla's
  own `set_configs.py` (kolla 23.0.0's, the `kolla_set_configs` of `kolla_start`) copies them
  to their `dest`s (/etc/nova/nova.conf, ...) with owner and mode, and the command it leaves in
  /run_command is exec'd as the container's user, as `kolla_start` does. No path is rewritten.
  What the image itself holds is put there the way the image build does: Kolla's health check
  scripts in /usr/local/bin, the service's own `etc/<service>` files (api-paste.ini, ...) in
  /etc/<service> (Kolla's `cp -r /<service>/etc/<service>/* /etc/<service>/`, here from the
  service's PyPI venv), the service user with its home /var/lib/<user>, in group `kolla`.
  The program runs from the service's PyPI venv (first on PATH) at the venv's own path, since
  a venv's scripts name their interpreter by absolute path; /var/lib/kolla/venv, where the
  image has its venv, links to it. An image's own build steps (IMAGE_BUILDS: Horizon's
  /etc/openstack-dashboard and local_settings links) are replayed as root in the overlay, and
  its `kolla_extend_start` (Kolla's extend_start.sh: Horizon's collectstatic and compress for
  the rendered settings) is sourced after kolla_set_configs, as `kolla_start` does.
- **Its own PID namespace** (`unshare --pid --fork --kill-child`, proc mounted in the overlay):
  the command is the namespace's first process, as in a container; killing the wrapper kills
  every process of the namespace, so nothing outlives `stop()`. That process leads its own
  session (`setsid`, as runc's init does), so its process group is inside the namespace.
- **Its own IPC namespace and /dev/shm**, and on a bridge network **its own host name** (its
  container name, in its /etc/hosts), as Docker gives each container.
- **Its address.** The rendered addresses (172.28.0.x on the bridge) become loopback
  addresses: the NDB cluster's nodes as `TestCluster` maps them (127.0.1.x, its HAProxy is the
  SQL endpoint), every control-plane container `127.<b>.<c>.<d>` for `<a>.<b>.<c>.<d>` - the
  same last octets, so logs still read like the rendered files. Linux routes all of 127/8 to
  `lo`, so no alias is needed. A wildcard bind (`0.0.0.0`, what a container binds on a bridge:
  its own network namespace) becomes the container's own loopback address; the API HAProxy's
  published ports (Docker's `-p 127.0.0.1:5000:5000`) become a second `bind` on the published
  address. Ports are the rendered ones.
- **Its health check**, the rendered Docker `test`, run inside the container's namespaces
  (`nsenter` into all its namespaces and its root, like `docker exec`): Kolla's
  `healthcheck_port` greps `ss -ntp` for the connections of the processes `pgrep -f` finds,
  which in the container's PID namespace are the container's only.

Processes share the machine's network namespace and run as root where the container's
command would drop to its user only through `kolla_start`'s `sudo`: the command itself runs as
the container's user (setpriv), like the image's `USER`.

Used by tests/openstack/running/ (`make test`) and `make cloud-up`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ipaddress
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from secrets import token_urlsafe
from typing import Any, Self, TextIO

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `python -m tests.openstack.cloud` from anywhere
    sys.path.insert(0, str(ROOT))

from components.database import ServiceAccount, create_or_adopt  # noqa: E402
from components.render.haproxy import render_api_haproxy_cfg  # noqa: E402
from components.render.infra import (  # noqa: E402
    MEMCACHED_HEALTHCHECK,
    RABBITMQ_CONF_PATH,
    RABBITMQ_HEALTHCHECK,
    RABBITMQ_PASSWORD_PATH,
    memcached_command,
    render_openrc,
    render_rabbitmq_conf,
    render_rabbitmq_password,
)
from components.render.kolla import KOLLA_CONFIG_DIR, fernet_source  # noqa: E402
from components.render.openstack import config_dir, fernet_key  # noqa: E402
from components.render.service import (  # noqa: E402
    ContainerArtifacts,
    ServiceArtifacts,
    render_service,
)
from config import Settings, build_topology  # noqa: E402
from config.openstack_layout import (  # noqa: E402
    MEMCACHED_PORT,
    RABBITMQ_PORT,
    ControlPlaneLayout,
    Placed,
    build_layout,
)
from config.service_secrets import ServiceSecrets  # noqa: E402
from testbed.cluster import TestCluster, rewrite_addresses  # noqa: E402
from tests.openstack import register  # noqa: E402
from tests.openstack.cluster import dev_settings  # noqa: E402
from tests.openstack.database_backend import (  # noqa: E402
    DatabaseBackend,
    NdbBackend,
    container_env,
)
from tests.openstack.migrations import COMMAND_TIMEOUT_S  # noqa: E402
from tests.openstack.rendered import secrets_for  # noqa: E402
from tests.openstack.services import VENVS  # noqa: E402
from tests.openstack.stand_ins import (  # noqa: E402
    COMPUTE_HOST,
    OPENVSWITCH_ADDRESS,
    OPENVSWITCH_SCRIPT,
    OVSDB_PORT,
    STAND_INS,
    stand_in_artifacts,
    stand_in_conf,
)
from tests.ports import port_open, wait_for_port  # noqa: E402
from tests.real.rabbitmq_server import (  # noqa: E402
    RABBITMQ_BIN,
    cleanup,
    in_root,
    prepare,
    rabbitmq_root,
    rabbitmqctl,
)

KOLLA_VERSION = "23.0.0"
HEALTH_TIMEOUT_S = 900.0  # from the last container's start; 2 cores start ~15 Python services
HEALTH_POLL_S = 3.0
DISCOVER_TIMEOUT_S = 180
WILDCARD = "0.0.0.0"
# The userspace datapath's taps: its own port and the agent's bridges (no bridge_mappings).
OPENVSWITCH_LINKS = ("ovs-netdev", "br-int", "br-tun")
# If the harness dies hard, its direct children (the namespace wrappers) die with it.
PDEATHSIG = ["setpriv", "--pdeathsig", "KILL", "--"]
# A plain container's PID 1: a root shell that waits for the command. A command that drops
# root (memcached -u nobody) loses the parent-death signal that --kill-child gave it, and as
# PID 1 it outlived a harness killed hard, still serving the old cloud's cache at the new
# cloud's address; the shell keeps the signal, and the namespace dies with it.
_KEEP_PID_1 = '"$@" & wait $!'
# A container's first process leads its own session and process group, inside its PID
# namespace: runc's init calls setsid() before it execs the command. Without it the group's
# leader is outside the namespace and getpgrp() is 0 there: oslo.messaging's queue manager
# then takes each worker process for a new service generation, restarts its counter and
# gives two uWSGI workers one reply queue, each taking the other's RPC replies (heat-api's
# MessagingTimeout after 60 s, now and then). setsid(1) does not fork here: PID 1 of a new
# namespace does not lead a group.
SESSION_LEADER = ["setsid"]

# Runs as root in the container's new mount, PID, IPC and UTS namespaces (it is PID 1 there,
# and leads its own session, as runc's init does): the overlay root, the uploads, what the
# image's build made (image_build), then in the overlay what `kolla_start` does:
# kolla_set_configs as root, the image's kolla_extend_start if it has one, and the exec of
# /run_command as the container's user. Like Docker it has its own /dev/shm (64 MiB, Docker's
# default size) and, on a bridge network, its own host name, which /etc/hosts resolves to its
# address.
_CONTAINER_SCRIPT = r"""
set -euo pipefail
stage=$1 top=$2 user=$3 venv=$4 build=$5 hostname=$6 address=$7 volumes=$8
shift 8  # the rest: the container's environment, NAME=value
mount -t tmpfs tmpfs "$top"
mkdir -p "$top/upper" "$top/work" "$top/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$top/upper,workdir=$top/work" "$top/root"
mount -t proc proc "$top/root/proc"
mount --rbind /dev "$top/root/dev"
mount -t tmpfs -o nosuid,nodev,noexec,mode=1777,size=64m shm "$top/root/dev/shm"
mount --rbind /sys "$top/root/sys"
cp -a "$stage/." "$top/root/"
# Docker's bind mounts (-v HOST:CONTAINER), one a line
while IFS=: read -r host_path container_path; do
  [ -n "$host_path" ] || continue
  mkdir -p "$top/root$container_path"
  mount --bind "$host_path" "$top/root$container_path"
done <<<"$volumes"
if [ -n "$hostname" ]; then
  hostname "$hostname"
  printf '%s\t%s\n' "$address" "$hostname" >>"$top/root/etc/hosts"
fi
exec chroot "$top/root" /bin/bash -c '
  set -euo pipefail
  user=$1 venv=$2 build=$3; shift 3
  id "$user" >/dev/null 2>&1 || useradd -M -r -d "/var/lib/$user" -s /usr/sbin/nologin "$user"
  # The image made its home empty: not what this machine may have at that path.
  rm -rf "/var/lib/$user"
  install -d -o "$user" -g "$user" "/var/lib/$user"
  # The venv stays at its own path under /root (its scripts name it), which only root may
  # enter on this machine: let the user through, in this overlay only.
  chmod o+x /root
  VENV=$venv USER_NAME=$user bash -euo pipefail -c "$build"
  path="$venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  env KOLLA_CONFIG_STRATEGY=COPY_ALWAYS python3 /usr/local/bin/kolla_set_configs
  command=$(cat /run_command)
  # kolla_start sources it with the container environment, as the image USER (root for
  # the only images that have one here, IMAGE_BUILDS), under errexit, nounset, pipefail.
  if [ -f /usr/local/bin/kolla_extend_start ]; then
    env -i "PATH=$path" HOME=/root LANG=C.UTF-8 "$@" bash -c \
      "set -o errexit -o pipefail -o nounset; . /usr/local/bin/kolla_extend_start"
  fi
  echo "Running command: $command"
  # Not exec: this root shell stays PID 1 (as dumb-init in Kolla images) and the command its
  # child. Changing the uid clears the parent-death signal that --kill-child set, so a
  # command exec-ed here would survive a harness killed hard; the shell keeps it, and the
  # namespace dies with it.
  # shellcheck disable=SC2086  # kolla_start runs it unquoted: split on blanks, no shell
  env -i "PATH=$path" "HOME=/var/lib/$user" LANG=C.UTF-8 "$@" \
    setpriv --reuid "$user" --regid "$user" --init-groups -- $command &
  wait $!
' container "$user" "$venv" "$build" "$@"
"""


@dataclass(frozen=True)
class ImageBuild:
    """What one Kolla image's Dockerfile adds that a container needs, replayed at start."""

    run: str  # its RUN steps, as bash (root, in the overlay; $VENV, $SITE, $USER_NAME,
    # $KOLLA_DOCKER: Kolla's docker/ folder, what its COPY steps copy from)
    extend_start: str | None = None  # its extend_start.sh, under Kolla's docker/


# Every image, from the bases (kolla 23.0.0's docker/base and docker/openstack-base): its
# sudoers (the venv on sudo's secure_path), the group `kolla` that configure_user puts each
# service user in, and the venv at /var/lib/kolla/venv - here a link to the service's PyPI
# venv - with its lib/python3 link.
BASE_IMAGE_BUILD = r"""
install -m 0440 "$KOLLA_DOCKER/base/sudoers" /etc/sudoers
getent group kolla >/dev/null || groupadd -r kolla
usermod --append --groups kolla "$USER_NAME"
mkdir -p /var/lib/kolla
ln -sfn "$VENV" /var/lib/kolla/venv
ln -sfn "$(basename "$(dirname "$SITE")")" "$VENV/lib/python3"
"""

# What an image adds (its docker/<image>/Dockerfile.j2). Kolla's horizon image, which has no
# USER (it starts as root): /etc/openstack-dashboard with Horizon's policy files and its
# example local_settings.py, which openstack_dashboard/local/ links to, as it links its
# local_settings.d there; Horizon's manage.py in the venv (the wheel has none: its source
# tree's code, without the licence header); extend_start.sh, which collects and compresses
# the static files for the rendered settings at every start, as root. Left out:
# `compilemessages` (translation catalogs; English pages need none).
IMAGE_BUILDS: dict[str, ImageBuild] = {
    "horizon": ImageBuild(r"""
mkdir -p /etc/openstack-dashboard/local_settings.d
cp -r "$SITE/openstack_dashboard/conf/." /etc/openstack-dashboard/
cp "$SITE/openstack_dashboard/local/local_settings.py.example" \
  /etc/openstack-dashboard/local_settings.py
ln -sfn /etc/openstack-dashboard/local_settings.py \
  "$SITE/openstack_dashboard/local/local_settings.py"
rm -rf "$SITE/openstack_dashboard/local/local_settings.d"
ln -s /etc/openstack-dashboard/local_settings.d "$SITE/openstack_dashboard/local/local_settings.d"
cat >/var/lib/kolla/venv/bin/manage.py <<'MANAGE'
#!/usr/bin/env python3
import os
import sys

from django.core.management import execute_from_command_line

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE",
                          "openstack_dashboard.settings")
    execute_from_command_line(sys.argv)
MANAGE
""", extend_start="horizon/extend_start.sh"),
}


def image_build(image: str) -> str:
    """The bash that makes the overlay hold what `image` holds (BASE_IMAGE_BUILD, then its
    IMAGE_BUILDS entry): run as root in the container's overlay before kolla_start."""
    build = IMAGE_BUILDS.get(image)
    return (f"KOLLA_DOCKER={shlex.quote(str(kolla_docker()))}\n"
            'SITE=$(echo "$VENV"/lib/python3.*/site-packages)\n' + BASE_IMAGE_BUILD
            + (build.run if build is not None else ""))


def service_secrets(name: str) -> ServiceSecrets:
    """The test secrets of tests/openstack/rendered.py, and a domain admin's (heat)."""
    return replace(secrets_for(name), domain_admin_password=f"{name}-domain-admin-pw")


def log(message: str) -> None:
    print(f"[cloud] {message}", file=sys.stderr, flush=True)


def kolla_docker() -> Path:
    """Kolla's docker/ sources (tests/kolla/provision_kolla.sh): set_configs.py and the
    healthcheck_* scripts of the images' base."""
    cache = Path(os.environ.get("OPENSTACK_NDB_CACHE") or Path.home() / ".cache/openstack-ndb")
    return cache / f"kolla-{KOLLA_VERSION}" / "kolla" / "docker"


def loopback(address: str) -> str:
    """A rendered container address -> its loopback address: 172.28.0.198 -> 127.28.0.198."""
    return str(ipaddress.IPv4Address((int(ipaddress.IPv4Address(address)) & 0x00FFFFFF)
                                     | 0x7F000000))


@dataclass
class Result:
    """One container: what happened to it, for the report."""

    name: str
    service: str
    role: str
    command: str
    started: bool = False
    healthy: bool = False
    seconds_to_healthy: float | None = None
    detail: str = ""  # the last health check's output, or why it did not start
    pss_mb: float | None = None  # its processes' proportional memory once healthy

    def row(self) -> str:
        health = "pass" if self.healthy else "FAIL"
        took = f"{self.seconds_to_healthy:.0f}" if self.seconds_to_healthy is not None else "-"
        mem = f"{self.pss_mb:.0f}" if self.pss_mb is not None else "-"
        started = "yes" if self.started else "no"
        first = self.detail.strip().splitlines()[-1][:90] if self.detail.strip() else ""
        return f"{self.name:22} {started:8} {health:6} {took:>6} {mem:>7}  {first}"


@dataclass
class Container:
    """A running container process: the namespace wrapper and what it runs."""

    name: str
    argv_health: tuple[str, ...] | None
    popen: subprocess.Popen[bytes]
    log: Path
    started_at: float
    result: Result
    init_pid: int | None = None  # the namespace's PID 1, as this machine sees it
    pid_namespace: str | None = None  # /proc/<pid>/ns/pid of it: finds leftovers
    in_overlay: bool = True  # health checks enter its root (an overlay) or run outside
    health_env: dict[str, str] = field(default_factory=dict)
    user: str = "root"  # its command's user
    envs: tuple[str, ...] = ()  # its environment, NAME=value
    before_kill: Callable[[], None] | None = None  # what stop() runs first (best effort)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Cloud:
    """The dev control plane on the NDB test bed; use as a context manager (always stopped).

    `start()` brings up the cluster, RabbitMQ, memcached, the API HAProxy, then per enabled
    service its database and account (as ServiceDatabase), its bootstrap container (run to
    its end) and its long-running containers; then waits for every health check. A container
    that fails does not stop the others: `results` says what happened to each."""

    def __init__(self, workdir: Path, settings: Settings | None = None,
                 health_timeout: float = HEALTH_TIMEOUT_S,
                 progress: Callable[[str], None] = log,
                 database: DatabaseBackend | None = None, *,
                 address: Callable[[str], str] = loopback,
                 launcher: Callable[[Placed], Sequence[str]] | None = None) -> None:
        """`address` maps a rendered container address to where it is served here (`loopback`
        by default; the identity when each host is a network namespace of its own);
        `launcher` gives the argv prefix that runs a placed container on its host (none:
        this machine's network)."""
        self.workdir = Path(workdir).resolve()
        self.address = address
        self.launcher = launcher or (lambda placed: ())
        self.settings = settings or dev_settings()
        self.topology = build_topology(self.settings)
        self.layout: ControlPlaneLayout = build_layout(self.settings)
        self.health_timeout = health_timeout
        self.progress = progress
        self.results: dict[str, Result] = {}
        self.bootstraps: dict[str, Result] = {}
        self.timings: dict[str, float] = {}
        self.containers: dict[str, Container] = {}
        self.artifacts: dict[str, ServiceArtifacts] = {}  # service -> what it was run from
        self._stack = ExitStack()
        # The NDB cluster (arm B, the default) or a plain InnoDB mysqld (arm A, make tempest).
        self.database: DatabaseBackend = database or NdbBackend()
        self._keys: dict[str, str] = {}  # fernet key dest -> key, one set per stack
        self._pid_namespaces: set[str] = set()
        # the root, the server's workdir, rabbitmqctl's environment
        self._rabbit: tuple[Path, Path, dict[str, str]] | None = None

    # --- public interface ---------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def cluster(self) -> TestCluster:
        assert isinstance(self.database, NdbBackend), f"no cluster: {self.database.name}"
        return self.database.cluster

    def localise(self, text: str, own: Placed | None = None) -> str:
        """Rendered addresses -> this machine's: the cluster's as TestCluster maps them,
        every other container's by `loopback`; a wildcard bind -> `own`'s address."""
        text = self.database.localise(text)
        if own is not None:
            text = rewrite_addresses(text, {WILDCARD: self.address(own.address)})
        return rewrite_addresses(text, self._plane_map())

    def start(self) -> None:
        docker = kolla_docker()
        if not (docker / "base" / "set_configs.py").is_file():
            raise RuntimeError(f"no Kolla sources at {docker}; run make kolla-source")
        began = time.monotonic()
        self._refuse_taken_addresses()
        try:
            self.progress(f"starting the database: {self.database.name}")
            self._stack.enter_context(self.database.start(self.workdir, self.layout.enabled))
            self._lap(f"database {self.database.name}", began)
            step = time.monotonic()
            self._start_rabbitmq()
            self._start_memcached()
            self._start_api_haproxy()
            self._lap("infrastructure", step)
            for service in self.layout.services:
                step = time.monotonic()
                self._start_service(render_service(self.settings, self.topology, self.layout,
                                                   service))
                self._lap(f"service {service.name}", step)
            step = time.monotonic()
            self._wait_healthy(list(self.containers))
            self._lap("health checks", step)
            self._measure_memory()
            self._lap("total", began)
        except BaseException:
            self.stop()
            raise

    def _refuse_taken_addresses(self) -> None:
        """Raise RuntimeError if anything already listens where this cloud's servers will:
        another cloud (`make cloud-down`), or a leftover of a run killed hard, which the
        new cloud's clients would otherwise talk to."""
        endpoints = [*self.layout.rabbitmq_endpoints,
                     *((m.address, MEMCACHED_PORT) for m in self.layout.memcached)]
        endpoints += [(c.address, c.backend_port) for s in self.layout.services
                      for c in s.containers if c.backend_port is not None]
        taken = [f"{self.address(a)}:{p}" for a, p in endpoints
                 if port_open(self.address(a), p)]
        if taken:
            raise RuntimeError(f"already listening: {', '.join(taken)} - another cloud "
                               "(make cloud-down) or a leftover of a run killed hard "
                               "(ss -ltnp names it)")

    def stop(self) -> None:
        """Kill every container's namespace, newest first, then the cluster; raise if any
        process of ours is left."""
        for container in reversed(list(self.containers.values())):
            if container.before_kill is not None and container.alive():
                with contextlib.suppress(Exception):
                    container.before_kill()
            _kill(container)
        self.containers.clear()
        self._stack.close()
        if self._rabbit is not None:
            cleanup(*self._rabbit[:2])
            self._rabbit = None
        left = self.leftovers()
        if left:
            raise RuntimeError(f"processes outlived their containers: {left}")

    def stop_containers(self, names: Sequence[str]) -> None:
        """Kill the running containers `names` (a host lost); `restart_containers` starts
        them again from the same artifacts."""
        containers = [self.containers.pop(name) for name in names]
        for container in containers:  # all at once, as a host that goes down
            _signal(container)
        for container in containers:
            _kill(container)
            # Its namespace is gone with its first process: the kernel may give its inode
            # number to a new one, not ours, which `leftovers` must not count.
            self._pid_namespaces.discard(container.pid_namespace or "")

    def restart_containers(self, names: Sequence[str]) -> None:
        """Start the containers `names` again from what they were first run from (as Docker
        restarts a container: the same files and keys) and wait for their checks. Raises
        RuntimeError naming those not healthy within the health timeout."""
        by_name = {art.placed.name: (service, art) for service, artifacts in
                   self.artifacts.items() for art in artifacts.containers}
        for name in names:
            self._spawn_container(*by_name[name])
        self._wait_healthy(list(names))
        sick = [n for n in names if not self.results[n].healthy]
        if sick:
            raise RuntimeError("not healthy after a restart: " + "; ".join(
                f"{n}: {self.results[n].detail[-1500:]}" for n in sick))

    def leftovers(self) -> list[str]:
        """Processes in any PID namespace this cloud made: none once stopped."""
        deadline = time.monotonic() + 30
        while True:
            found = []
            for proc in Path("/proc").iterdir():
                if not proc.name.isdigit():
                    continue
                with contextlib.suppress(OSError):
                    if os.readlink(proc / "ns" / "pid") in self._pid_namespaces:
                        found.append(f"{proc.name} {(proc / 'comm').read_text().strip()}")
            if not found or time.monotonic() > deadline:
                return found
            time.sleep(0.5)

    def openrc(self) -> str:
        """The admin's openrc as `make openrc` writes it, with this machine's addresses."""
        password = secrets_for(self.layout.identity or "keystone").admin_password
        return self.localise(render_openrc(self.settings, self.layout, password))

    def exec_in(self, name: str, *argv: str, timeout: float = 120
                ) -> subprocess.CompletedProcess[str]:
        """`docker exec <name> argv`: in every namespace and the root of container `name`,
        as its command's user, with its environment and the service's venv first on PATH."""
        container = self.containers[name]
        assert container.init_pid is not None and container.alive(), f"{name} is not running"
        path = "/var/lib/kolla/venv/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        return subprocess.run(
            [*_docker_exec(container.init_pid), "env", "-i", f"PATH={path}",
             f"HOME=/var/lib/{container.user}", "LANG=C.UTF-8", *container.envs,
             "setpriv", "--reuid", container.user, "--regid", container.user,
             "--init-groups", "--", *argv],
            capture_output=True, text=True, timeout=timeout, check=False)

    def start_stand_ins(self) -> None:
        """The test-only compute host and volume back end (tests/openstack/stand_ins.py)
        beside the running control plane: Open vSwitch, then nova-compute, cinder-volume and
        the Open vSwitch agent, until their checks pass; then the compute host is mapped to
        the cell. Raises RuntimeError if one is not healthy in the health timeout."""
        began = time.monotonic()
        ovs_address = loopback(OPENVSWITCH_ADDRESS)
        folder = self.workdir / "openvswitch"
        _delete_links(OPENVSWITCH_LINKS)  # a run killed hard left them
        ovs = self._spawn_plain("openvswitch", "openvswitch", [
            "bash", str(OPENVSWITCH_SCRIPT), str(folder / "run"), ovs_address,
            str(OVSDB_PORT)], dict(os.environ))
        ovs.before_kill = lambda: _stop_openvswitch(folder / "run")
        # Kolla's openvswitch-vswitchd check: the daemon answers on its control socket.
        ovs.argv_health = ("CMD", "ovs-appctl", f"--target={folder / 'run'}/ovs-vswitchd.ctl",
                           "version")
        self._wait_port(ovs, ovs_address, OVSDB_PORT)
        names = ["openvswitch"]
        for stand_in in STAND_INS:
            artifacts = self.artifacts[stand_in.service]
            borrowed = next(a for a in artifacts.containers if a.role == stand_in.borrows)
            conf = stand_in_conf(stand_in, loopback(stand_in.address), ovs_address)
            art = stand_in_artifacts(stand_in, borrowed, conf)
            # Kolla shares /run/openvswitch with the agent: ovs-ofctl reaches the bridges'
            # management sockets there.
            volumes = {folder / "run": "/run/openvswitch"} if stand_in.openvswitch else None
            self._spawn_container(stand_in.service, art, user=stand_in.user, volumes=volumes)
            names.append(stand_in.name)
        self._wait_healthy(names)
        sick = [n for n in names if not self.results[n].healthy]
        if sick:
            raise RuntimeError("stand-ins not healthy: " + "; ".join(
                f"{n}: {self.results[n].detail[-1500:]}" for n in sick))
        self._discover_compute_host()
        self._lap("stand-ins", began)

    def _discover_compute_host(self) -> None:
        """Kolla-Ansible's step after a compute host starts: `nova-manage cell_v2
        discover_hosts` in a nova container, once nova-compute has recorded its node."""
        conductor = next(c.name for c in self.layout.service("nova").containers
                         if c.role == "conductor")
        # nova-compute records its node within seconds of its start, or not at all
        deadline = time.monotonic() + DISCOVER_TIMEOUT_S
        while True:
            self.exec_in(conductor, "nova-manage", "cell_v2", "discover_hosts", "--verbose")
            hosts = self.exec_in(conductor, "nova-manage", "cell_v2", "list_hosts")
            if COMPUTE_HOST in hosts.stdout:
                self.progress(f"{COMPUTE_HOST}: mapped to its cell")
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{COMPUTE_HOST} not in a cell: {hosts.stdout[-1500:]}"
                                   f"{hosts.stderr[-1500:]}")
            time.sleep(HEALTH_POLL_S)

    def rabbitmqctl(self, *args: str) -> str:
        """rabbitmqctl against the cloud's RabbitMQ; its stdout (AssertionError if it fails)."""
        assert self._rabbit is not None, "RabbitMQ is not running"
        return rabbitmqctl(*self._rabbit, *args)

    def report(self) -> str:
        head = (f"{'container':22} {'started':8} {'health':6} {'secs':>6} {'PSS MB':>7}  "
                "last health output / reason")
        rows = [r.row() for r in [*self.bootstraps.values(), *self.results.values()]]
        total = sum(r.pss_mb or 0 for r in self.results.values())
        times = ", ".join(f"{k} {v:.0f} s" for k, v in self.timings.items())
        return "\n".join([head, *rows, f"PSS of the service containers: {total:.0f} MB",
                          f"wall time: {times}"])

    # --- infrastructure -------------------------------------------------------------------

    def _plane_map(self) -> dict[str, str]:
        placed = [*self.layout.rabbitmq, *self.layout.memcached, *self.layout.api_endpoints]
        for service in self.layout.services:
            placed += [*([service.bootstrap] if service.bootstrap else []),
                       *service.containers]
        return {p.address: self.address(p.address) for p in placed}

    def _lap(self, what: str, since: float) -> None:
        self.timings[what] = time.monotonic() - since
        self.progress(f"{what}: {self.timings[what]:.0f} s")

    def _start_rabbitmq(self) -> None:
        """RabbitMQ 4 (sid's, in the test bed's root, as tests/real/rabbitmq_server.py runs
        it; the stacks' image is 4.1) from the rendered conf.d: the settings, then the
        password alone. Its data, logs and cookie in a temp dir mounted into the root."""
        root, _ = rabbitmq_root()
        (placed,) = self.layout.rabbitmq  # the dev stack: one member, no cluster
        workdir, env = prepare(root, {
            Path(RABBITMQ_CONF_PATH).name: self.localise(
                render_rabbitmq_conf(self.layout, placed), placed),
            Path(RABBITMQ_PASSWORD_PATH).name: render_rabbitmq_password(
                secrets_for("rabbitmq").rabbitmq_password),
        }, nodename="osndb-cloud")
        self._rabbit = (root, workdir, env)
        container = self._spawn_plain(
            "rabbitmq", "rabbitmq", in_root(root, workdir, f"{RABBITMQ_BIN}/rabbitmq-server"),
            env)
        # The rendered check, `rabbitmq-diagnostics -q ping`, run in the root as the image
        # runs it in the container.
        form, tool, *args = RABBITMQ_HEALTHCHECK
        container.argv_health = (form, *in_root(root, workdir, f"{RABBITMQ_BIN}/{tool}", *args))
        container.health_env = env
        self._wait_port(container, self.address(placed.address), RABBITMQ_PORT)

    def _start_memcached(self) -> None:
        (placed,) = self.layout.memcached  # the dev stack: one memcached
        argv = [self.localise(a, placed) for a in memcached_command(self.layout, placed)]
        argv[0] = _tool(argv[0])
        if os.geteuid() == 0:  # memcached refuses root; the image runs it as its own user
            argv += ["-u", "nobody"]
        container = self._spawn_plain("memcached", "memcached", argv, dict(os.environ))
        # The rendered check asks memcached on the container's loopback; here that is its
        # own address, which the bind became.
        container.argv_health = tuple(
            self.localise(part, placed).replace("127.0.0.1", self.address(placed.address))
            for part in MEMCACHED_HEALTHCHECK)
        port = int(argv[argv.index("-p") + 1])
        self._wait_port(container, self.address(placed.address), port)

    def _start_api_haproxy(self) -> None:
        placed = self.layout.api_endpoints[0]
        cfg = self.localise(render_api_haproxy_cfg(self.layout), placed)
        if self.settings.openstack.api.publish and not self.settings.multi_host:
            # Docker publishes each API port on the host's address: here a second bind.
            cfg = re.sub(r"^(\s*)bind (\S+):(\d+)$",
                         rf"\g<0>\n\g<1>bind {self.layout.public_host}:\g<3>", cfg, flags=re.M)
        path = self.workdir / "api-haproxy" / "haproxy.cfg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cfg)
        container = self._spawn_plain("api-haproxy", "haproxy",
                                      [_tool("haproxy"), "-db", "-f", str(path)],
                                      dict(os.environ))
        port = next(iter(next(iter(self.layout.services)).spec.apis.values())).port
        self._wait_port(container, self.address(placed.address), port)

    def _spawn_plain(self, name: str, role: str, argv: list[str],
                     env: dict[str, str]) -> Container:
        """A process that needs no overlay (no Kolla files), in its own PID namespace."""
        logfile = self.workdir / name / "output.log"
        logfile.parent.mkdir(parents=True, exist_ok=True)
        result = Result(name, "infrastructure", role, shlex.join(argv))
        self.progress(f"{name}: {shlex.join(argv)}")
        with logfile.open("ab") as out:
            popen = subprocess.Popen(
                [*PDEATHSIG, "unshare", "--pid", "--fork", "--kill-child", "--mount-proc",
                 *SESSION_LEADER, "bash", "-c", _KEEP_PID_1, name, *argv], env=env,
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        container = Container(name, None, popen, logfile, time.monotonic(), result,
                              in_overlay=False)
        self._track(container)
        self.results[name] = result
        return container

    def _wait_port(self, container: Container, host: str, port: int) -> None:
        wait_for_port(host, port, timeout=120, what=container.name, alive=container.alive,
                      details=container.tail)
        container.result.started = True

    # --- services -------------------------------------------------------------------------

    def _start_service(self, artifacts: ServiceArtifacts) -> None:
        name = artifacts.name
        self.artifacts[name] = artifacts
        venv = VENVS.get(name)
        if venv is None or not (venv / ".provisioned").is_file():
            for art in artifacts.containers:
                self.results[art.placed.name] = Result(
                    art.placed.name, name, art.role, _command(art), detail=(
                        f"not run: no PyPI venv for {name} "
                        "(tests/openstack/provision_services.sh does not provision it)"))
            self.progress(f"{name}: no venv, its containers are not run")
            return
        spec = artifacts.layout.spec
        secrets = service_secrets(name)
        if artifacts.bootstrap is not None:
            self.progress(f"{name}: databases {', '.join(spec.databases)} and account")
            create_or_adopt(self.database.admin_endpoint(),
                            ServiceAccount(spec.db_user, "%", secrets.database_password),
                            list(spec.databases))
            self._run_bootstrap(name, artifacts.bootstrap)
        if spec.keystone is not None and name != self.layout.identity:
            self._register(artifacts)
        for art in artifacts.containers:
            self._spawn_container(name, art)
        if name == self.layout.identity:
            # Every later service registers with keystone before its containers start.
            self._wait_healthy([c.placed.name for c in artifacts.containers])
            self._wait_published(self.localise(self.layout.identity_url("public")))

    def _wait_published(self, url: str, timeout: float = 120) -> None:
        """Until `url` answers through the API HAProxy: a healthy container is not yet a
        backend HAProxy sends to (its checks must pass `rise` times first). On NDB the next
        service's migrations took longer than that; on InnoDB they do not."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10):
                    return
            except (OSError, urllib.error.URLError) as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} does not answer: {error}") from error
            time.sleep(1)

    def _register(self, artifacts: ServiceArtifacts) -> None:
        """The service's registration (components/render/registration.py, the description
        the program's pulumi-openstack resources are made from), through openstacksdk at the
        published identity URL, before its containers start as in the program: nova-conductor
        exits at start without its user ("Placement service credentials do not work")."""
        registration = artifacts.registration
        assert registration is not None
        secrets = service_secrets(registration.name)
        passwords = [self._secret_file(f"{registration.name}-keystone-password",
                                       secrets.keystone_password)]
        if registration.domain is not None:
            passwords.append(self._secret_file(f"{registration.name}-domain-admin-password",
                                               secrets.domain_admin_password))
        self.progress(f"{registration.name}: keystone user, roles, service and endpoints"
                      + (f", domain {registration.domain.name}" if registration.domain else ""))
        self.registrar("register", artifacts, *passwords)

    def registrar(self, command: str, artifacts: ServiceArtifacts, *passwords: Path) -> Any:
        """tests/openstack/register.py `command` for the service's registration (localised),
        as the admin, through the published identity URL; its JSON answer."""
        assert artifacts.registration is not None
        description = json.loads(self.localise(json.dumps(artifacts.registration.as_json())))
        return self._as_admin(command, description, *passwords)

    def add_user(self, name: str, roles: Sequence[str]) -> str:
        """A test user `name` in a project of the same name (Default domain) with `roles` on
        it, as devstack makes its demo user; kept if it exists. Returns its password (a new
        random one when the user is made, kept in this cloud's secrets folder)."""
        password = self.workdir / "secrets" / f"{name}-password"
        if not password.is_file():  # a user made earlier keeps its password
            password = self._secret_file(password.name, token_urlsafe(24))
        description = {"name": name, "user_domain_id": "default", "project_roles": list(roles),
                       "project": {"name": name, "domain_id": "default",
                                   "description": f"test project of {name}"}}
        self._as_admin("user", description, password)
        return password.read_text()

    def _as_admin(self, command: str, description: dict[str, Any], *passwords: Path) -> Any:
        """tests/openstack/register.py `command` for `description`, as the stack's admin."""
        auth = register.admin_auth(
            self.settings.openstack, self.localise(self.layout.identity_url("public")),
            self._secret_file("admin-password",
                              service_secrets(self.layout.identity or "").admin_password))
        return register.invoke(VENVS["openstackclient"] / "bin" / "python", command,
                               description, auth, self.workdir / "registration", *passwords)

    def _secret_file(self, name: str, value: str) -> Path:
        folder = self.workdir / "secrets"
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / name
        path.touch(mode=0o600)
        path.write_text(value)
        return path

    def _run_bootstrap(self, name: str, art: ContainerArtifacts) -> None:
        start = time.monotonic()
        container = self._spawn_container(name, art, bootstrap=True)
        result = container.result
        self.results.pop(art.placed.name)
        self.bootstraps[art.placed.name] = result
        # Meanwhile the containers already started keep being checked, so that their
        # seconds to healthy are theirs, not the migrations'.
        others = [n for n in self.containers if n != art.placed.name]
        deadline = time.monotonic() + COMMAND_TIMEOUT_S
        while container.alive() and time.monotonic() < deadline:
            self._poll(others)
            time.sleep(HEALTH_POLL_S)
        code = container.popen.returncode if not container.alive() else -1
        result.healthy = code == 0  # a one-shot's "health" is its exit code
        result.seconds_to_healthy = time.monotonic() - start
        result.detail = f"exit {code}" + ("" if code == 0 else f"\n{container.tail()}")
        del self.containers[art.placed.name]
        self.progress(f"{art.placed.name}: exit {code} after {result.seconds_to_healthy:.0f} s")

    def _spawn_container(self, name: str, art: ContainerArtifacts, *,
                         bootstrap: bool = False, user: str | None = None,
                         volumes: Mapping[Path, str] | None = None) -> Container:
        """Container `art` of service `name`, started: `user` instead of the catalog's,
        `volumes` bind-mounted (host path -> container path)."""
        where = art.placed
        folder = self.workdir / "containers" / where.name
        stage = self._stage(name, art, folder / "stage")
        top = folder / "top"
        top.mkdir(parents=True, exist_ok=True)
        logfile = folder / "output.log"
        venv = VENVS[name]
        config = json.loads((stage / KOLLA_CONFIG_DIR.lstrip("/") / "config.json").read_text())
        spec = self.layout.service(name).spec
        if user is None:  # the catalog's
            if bootstrap:
                assert spec.bootstrap is not None
                user = spec.bootstrap.user
            else:
                user = spec.containers[art.role].user
        # The host name Docker gives it: its container name on a bridge network; with host
        # networking it shares its host's (and so this machine's) UTS namespace.
        hostname = where.container_name if self.settings.network_mode == "bridge" else ""
        argv = [*self.launcher(where), *PDEATHSIG, "unshare", "--mount", "--pid", "--ipc",
                *(["--uts"] if hostname else []), "--fork", "--kill-child",
                "--propagation", "private", "--", *SESSION_LEADER, "bash", "-c",
                _CONTAINER_SCRIPT, where.name, str(stage), str(top), user, str(venv),
                image_build(art.image), hostname, self.address(where.address),
                "\n".join(f"{src}:{dest}" for src, dest in (volumes or {}).items()),
                *container_env(self.database, art.envs)]
        result = Result(where.name, name, art.role, config["command"])
        self.progress(f"{where.name}: {config['command']}"
                      + (" (bootstrap, run to its end)" if bootstrap else ""))
        with logfile.open("ab") as out:
            popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        health = None
        if art.healthcheck is not None:
            health = tuple(self.localise(part) for part in art.healthcheck)
        container = Container(where.name, health, popen, logfile, time.monotonic(), result,
                              user=user, envs=container_env(self.database, art.envs))
        self._track(container)
        result.started = True  # until it exits before it is healthy
        self.results[where.name] = result
        return container

    def _stage(self, name: str, art: ContainerArtifacts, stage: Path) -> Path:
        """The files the container starts with, as a tree copied onto its overlay root."""
        if stage.exists():
            shutil.rmtree(stage)
        docker = kolla_docker()
        venv = VENVS[name]
        spec = self.layout.service(name).spec
        # The image: the service's etc files, Kolla's health checks and kolla_set_configs.
        etc = venv / "etc" / name
        if etc.is_dir():
            shutil.copytree(etc, stage / config_dir(spec).lstrip("/"), dirs_exist_ok=True)
        bin_dir = stage / "usr" / "local" / "bin"
        bin_dir.mkdir(parents=True)
        for script in sorted((docker / "base").glob("healthcheck_*")):
            shutil.copy(script, bin_dir / script.name)
            (bin_dir / script.name).chmod(0o755)
        shutil.copy(docker / "base" / "set_configs.py", bin_dir / "kolla_set_configs")
        build = IMAGE_BUILDS.get(art.image)
        if build is not None and build.extend_start is not None:
            # `COPY extend_start.sh /usr/local/bin/kolla_extend_start`, mode 0644: sourced.
            shutil.copy(docker / build.extend_start, bin_dir / "kolla_extend_start")
            (bin_dir / "kolla_extend_start").chmod(0o644)
        # The uploads: plain files (config files localised), secret files, fernet keys.
        for file in art.files:
            path = stage / file.path.lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            text = file.text
            if file.path.startswith(KOLLA_CONFIG_DIR + "/"):
                text = self.localise(text)
            path.write_text(text)
            path.chmod(int(file.mode, 8))
        config_files = stage / KOLLA_CONFIG_DIR.lstrip("/")
        for secret, text in art.render_secrets(service_secrets(name)).items():
            path = config_files / secret
            path.write_text(self.localise(text))
            path.chmod(0o600)
        for dest in spec.fernet_keys:  # the program uploads RandomBytes keys, made once
            path = config_files / Path(fernet_source(dest)).name
            path.write_text(self._keys.setdefault(
                dest, fernet_key(base64.b64encode(os.urandom(32)).decode())))
            path.chmod(0o600)
        return stage

    def _track(self, container: Container) -> None:
        self.containers[container.name] = container
        # The namespace's first process is the wrapper's only child; remember its
        # namespace so that stop() can prove none of its processes is left.
        deadline = time.monotonic() + 10
        while container.init_pid is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                children = Path(f"/proc/{container.popen.pid}/task/{container.popen.pid}/"
                                "children").read_text().split()
                if children:
                    container.init_pid = int(children[0])
                    container.pid_namespace = os.readlink(
                        f"/proc/{container.init_pid}/ns/pid")
                    self._pid_namespaces.add(container.pid_namespace)
                    break
            if not container.alive():
                break
            time.sleep(0.05)

    # --- health ---------------------------------------------------------------------------

    def health(self, container: Container) -> tuple[bool, str]:
        """The rendered health check, once, as Docker runs it in the container."""
        if container.argv_health is None:
            return container.alive(), "no health check rendered: running"
        form, *argv = container.argv_health  # Docker's test: CMD argv..., or CMD-SHELL text
        if form == "CMD-SHELL":
            argv = ["sh", "-c", argv[0]]
        env = container.health_env or None
        if container.in_overlay and container.init_pid is not None:
            argv = [*_docker_exec(container.init_pid), "env", "-i",
                    "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", *argv]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                                  env=env, check=False)
        except subprocess.TimeoutExpired:
            return False, "health check timed out (30 s)"
        output = (done.stdout + done.stderr).strip()
        return done.returncode == 0, output or f"exit {done.returncode}"

    def _poll(self, names: list[str]) -> list[str]:
        """One health check of each named container still waiting; those still waiting."""
        waiting = []
        for name in names:
            container = self.containers[name]
            result = container.result
            if result.healthy or result.detail.startswith("exited"):
                continue
            if not container.alive():
                result.started = False
                result.detail = (f"exited {container.popen.returncode} before its health "
                                 f"check passed:\n{container.tail()}")
                self.progress(f"{name}: EXITED {container.popen.returncode}")
                continue
            ok, output = self.health(container)
            result.detail = output
            if ok:
                result.healthy = True
                result.seconds_to_healthy = time.monotonic() - container.started_at
                self.progress(f"{name}: healthy after {result.seconds_to_healthy:.0f} s")
            else:
                waiting.append(name)
        return waiting

    def _wait_healthy(self, names: list[str]) -> None:
        deadline = time.monotonic() + self.health_timeout
        waiting = self._poll(names)
        if waiting:
            self.progress(f"waiting for {len(waiting)} health checks "
                          f"(at most {self.health_timeout:.0f} s)")
        while waiting and time.monotonic() < deadline:
            time.sleep(HEALTH_POLL_S)
            waiting = self._poll(waiting)
        for name in waiting:
            self.progress(f"{name}: not healthy in {self.health_timeout:.0f} s")

    def _measure_memory(self) -> None:
        by_namespace: dict[str, float] = {}
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                namespace = os.readlink(proc / "ns" / "pid")
                if namespace in self._pid_namespaces:
                    pss = _pss_kb(proc / "smaps_rollup")
                    by_namespace[namespace] = by_namespace.get(namespace, 0) + pss / 1024
        for container in self.containers.values():
            # Only live ones: a dead namespace's inode number may be reused by a new one.
            if container.alive() and container.pid_namespace in by_namespace:
                container.result.pss_mb = by_namespace[container.pid_namespace]


def _docker_exec(init_pid: int) -> list[str]:
    """What `docker exec` enters: every namespace of the container whose first process is
    `init_pid` (util-linux's --all), and its root; the rest of the argv follows."""
    return ["nsenter", f"--target={init_pid}", "--all", "--root", "--wd", "--"]


def _stop_openvswitch(run: Path) -> None:
    """ovs-vswitchd's own exit that removes its datapath's ports (its taps on this
    machine's network), then whatever is left of them."""
    subprocess.run(["ovs-appctl", f"--target={run / 'ovs-vswitchd.ctl'}", "exit",
                    "--cleanup"], capture_output=True, timeout=30, check=False)
    _delete_links(OPENVSWITCH_LINKS)


def _delete_links(names: tuple[str, ...]) -> None:
    for name in names:
        if Path(f"/sys/class/net/{name}").exists():
            subprocess.run(["ip", "link", "delete", name], capture_output=True, check=False)


def _pss_kb(path: Path) -> float:
    for line in path.read_text().splitlines():
        if line.startswith("Pss:"):
            return float(line.split()[1])
    return 0.0


def _command(art: ContainerArtifacts) -> str:
    config = next(f for f in art.files if f.path.endswith("/config.json"))
    command: str = json.loads(config.text)["command"]
    return command


def _tool(name: str) -> str:
    path = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))
    if path is None:
        raise RuntimeError(f"{name} is not installed (.ci/run installs it)")
    return path


def _signal(container: Container) -> None:
    """SIGKILL the namespace's first process - the kernel then kills every other process of
    the namespace, also those that left the process group (oslo.service's workers do) - and
    the wrapper's group."""
    if container.init_pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(container.init_pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(container.popen.pid, signal.SIGKILL)


def _kill(container: Container) -> None:
    """`_signal`, then wait (at most 30 s) for the wrapper to end."""
    _signal(container)
    with contextlib.suppress(subprocess.TimeoutExpired):
        container.popen.wait(timeout=30)


# --- make cloud-up / cloud-down -----------------------------------------------------------


def state_dir() -> Path:
    return ROOT / ".cloud" / "dev"


def serve(out: TextIO) -> int:
    """Run in the background: start the cloud, publish how to use it, wait for SIGTERM."""
    folder = state_dir()
    stop = False
    starting = True

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True
        if starting:  # `make cloud-down` while it starts: stop now, with the cleanup
            raise SystemExit(143)

    signal.signal(signal.SIGTERM, on_term)
    with Cloud(folder / "run") as cloud:
        cloud.start()
        try:  # a compute host and a volume back end to try servers and volumes on
            cloud.start_stand_ins()
        except RuntimeError as error:
            print(f"[cloud] stand-ins: {error}", file=out, flush=True)
        starting = False
        print(cloud.report(), file=out, flush=True)
        openrc = folder / "openrc"
        openrc.write_text(cloud.openrc())
        openrc.chmod(0o600)
        horizon = next((r for r in cloud.results.values() if r.service == "horizon"), None)
        if horizon is not None and horizon.healthy:
            api = next(iter(cloud.layout.service("horizon").spec.apis))
            where = cloud.localise(cloud.layout.public_url("horizon", api))
        else:
            where = f"not running: {horizon.detail if horizon else 'not enabled'}"
        state = {
            "pid": os.getpid(),
            "openrc": str(openrc),
            "horizon": where,
            "sql": cloud.database.sql_command(),
            "unhealthy": [r.name for r in cloud.results.values() if not r.healthy],
            "stop": "make cloud-down",
        }
        (folder / "state.json").write_text(json.dumps(state, indent=2))
        while not stop:
            time.sleep(0.5)
    return 0


def _serving_pid(folder: Path) -> int | None:
    """The pid of this folder's `serve` process if it still runs; None for none, or for a
    pid file left by a crash or a reboot (the pid may be another program's by now)."""
    try:
        pid = int((folder / "serve.pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if b"tests.openstack.cloud" in cmdline and b"serve" in cmdline else None


def up() -> int:
    folder = state_dir()
    if _serving_pid(folder) is not None:
        print(f"already up: {folder / 'state.json'} (stop: make cloud-down)")
        return 0
    shutil.rmtree(folder, ignore_errors=True)  # what a crashed or rebooted run left
    folder.mkdir(parents=True, exist_ok=True)
    logfile = folder / "serve.log"
    with logfile.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tests.openstack.cloud", "serve"],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    (folder / "serve.pid").write_text(str(proc.pid))
    print(f"[cloud] starting the dev control plane (log: {logfile})", flush=True)
    shown = 0
    while not (folder / "state.json").exists():
        text = logfile.read_text(errors="replace")
        print(text[shown:], end="", flush=True)  # the progress lines, as they come
        shown = len(text)
        if proc.poll() is not None:
            print(f"[cloud] FAILED: exit {proc.returncode}", file=sys.stderr)
            return 1
        time.sleep(1)
    print(logfile.read_text(errors="replace")[shown:], end="")
    state = json.loads((folder / "state.json").read_text())
    print(f"\nopenrc:  source {state['openrc']}   (the admin; its password is OS_PASSWORD there)"
          f"\nCLI:     export PATH={VENVS['openstackclient'] / 'bin'}:$PATH   (then: openstack "
          f"catalog list)\nHorizon: {state['horizon']}   (user and password from the openrc)"
          f"\nSQL:     {state['sql']}\nlogs:    {folder}\nstop:    make cloud-down")
    if state["unhealthy"]:
        print(f"not healthy: {', '.join(state['unhealthy'])} (see {logfile})")
    return 0


def down() -> int:
    folder = state_dir()
    pid = _serving_pid(folder)
    if pid is None:
        shutil.rmtree(folder, ignore_errors=True)
        print("[cloud] no dev cloud is up")
        return 0
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        for _ in range(240):  # stop() kills every namespace, then the cluster
            os.kill(pid, 0)
            time.sleep(0.5)
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)
    print("[cloud] dev control plane stopped")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.openstack.cloud")
    parser.add_argument("command", choices=["up", "down", "serve"])
    args = parser.parse_args()
    if args.command == "serve":
        return serve(sys.stdout)
    return up() if args.command == "up" else down()


if __name__ == "__main__":
    sys.exit(main())
