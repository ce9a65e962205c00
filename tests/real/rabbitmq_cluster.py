"""The prod stack's RabbitMQ members from their rendered files, each in its host's network
namespace (tests/real/netns.py): sid's RabbitMQ 4 in the test bed's root, as
tests/real/rabbitmq_server.py runs one, with the rendered environment (node name, epmd
address, distribution port), /etc/hosts entries and Erlang cookie file (0400). Nothing is
localised: the files are used as rendered. Used by tests/real/test_rabbitmq_cluster.py and
the whole-host loss test (tests/testbed/test_host_loss.py)."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from components.render.infra import (
    ERLANG_COOKIE_MODE,
    RABBITMQ_CONF_PATH,
    RABBITMQ_PASSWORD_PATH,
    rabbitmq_environment,
    render_erlang_cookie,
    render_rabbitmq_conf,
    render_rabbitmq_password,
)
from config.openstack_layout import EPMD_PORT, ControlPlaneLayout, Placed
from tests.real.netns import Lan
from tests.real.rabbitmq_server import RABBITMQ_BIN, cleanup, in_root, prepare

PASSWORD = "rabbit-pw.1"
COOKIE = "OSNDBTESTCOOKIE0123456789ABCDEF"
BOOT_TIMEOUT_S = 120


@dataclass
class Member:
    placed: Placed
    workdir: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    log: IO[str] | None = None


class Cluster:
    """The rendered members, each in its host's namespace."""

    def __init__(self, layout: ControlPlaneLayout, net: Lan, root: Path,
                 password: str = PASSWORD, cookie: str = COOKIE) -> None:
        self.layout, self.net, self.root = layout, net, root
        self.members: dict[str, Member] = {}
        for placed in layout.rabbitmq:
            workdir, env = prepare(root, {
                Path(RABBITMQ_CONF_PATH).name: render_rabbitmq_conf(layout, placed),
                Path(RABBITMQ_PASSWORD_PATH).name: render_rabbitmq_password(password),
            })
            # As in the container: the rendered environment, epmd on its default port.
            env.pop("ERL_EPMD_PORT")
            env.update(rabbitmq_environment(layout, placed))
            cookie_file = workdir / ".erlang.cookie"  # HOME, as /var/lib/rabbitmq in the image
            cookie_file.write_text(render_erlang_cookie(cookie))
            cookie_file.chmod(int(ERLANG_COOKIE_MODE, 8))
            (workdir / "hosts").write_text(
                "127.0.0.1 localhost\n"
                + "".join(f"{a} {n}\n" for n, a in layout.rabbitmq_hosts.items()))
            self.members[placed.name] = Member(placed, workdir, env)

    def start(self, name: str) -> None:
        m = self.members[name]
        m.log = (m.workdir / "server.log").open("a")
        m.proc = subprocess.Popen(
            self.net.run(m.placed.host, in_root(self.root, m.workdir,
                                                f"{RABBITMQ_BIN}/rabbitmq-server")),
            env=m.env, stdout=m.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def start_all(self) -> list[float]:
        """As the program creates them: each member once the one before passes its check,
        then until every member has booted. Seconds from each start to its check."""
        gates = []
        for name in self.members:
            self.start(name)
            gates.append(self.wait_running(name))
        for name in self.members:
            self.await_startup(name)
        return gates

    def kill(self, name: str) -> None:
        """kill -9: unshare dies and --kill-child takes the namespace's beam and epmd."""
        m = self.members[name]
        assert m.proc is not None
        m.proc.kill()
        m.proc.wait(timeout=60)
        m.proc = None
        if m.log:
            m.log.close()

    def ctl(self, name: str, *args: str, tool: str = "rabbitmqctl", timeout: float = 90,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        m = self.members[name]
        done = subprocess.run(
            self.net.run(m.placed.host, in_root(self.root, m.workdir,
                                                f"{RABBITMQ_BIN}/{tool}", *args)),
            env=m.env, capture_output=True, text=True, timeout=timeout, check=False)
        if check:
            assert done.returncode == 0, (f"{tool} {' '.join(args)} on {name}: "
                                          f"{done.stdout[-1500:]}{done.stderr[-1500:]}\n"
                                          + self.tail(name))
        return done

    def wait_running(self, name: str) -> float:
        """Seconds until the member passes the rendered health check (rabbitmq-diagnostics
        -q ping), as Docker's gate on each member before the next one starts. No CLI runs
        before the member's own epmd listens: a CLI started first would start an epmd in its
        own PID namespace (here, not in a container), which dies with it and takes the
        server's registration along."""
        began = time.monotonic()
        m = self.members[name]

        def alive() -> None:
            assert m.proc is not None and m.proc.poll() is None, \
                f"{name} stopped while starting:\n{self.tail(name)}"
            assert time.monotonic() - began < BOOT_TIMEOUT_S, \
                f"{name} did not start in {BOOT_TIMEOUT_S} s:\n{self.tail(name)}"

        while not listening(self.net, m.placed.host, m.placed.address, EPMD_PORT):
            alive()
            time.sleep(0.3)
        while self.ctl(name, "-q", "ping", tool="rabbitmq-diagnostics", check=False
                       ).returncode != 0:
            alive()
            time.sleep(0.5)
        return time.monotonic() - began

    def await_startup(self, name: str) -> None:
        """Until the member has booted (rabbitmqctl await_startup)."""
        self.ctl(name, "await_startup", "--timeout", str(BOOT_TIMEOUT_S),
                 timeout=BOOT_TIMEOUT_S + 30)

    def running_nodes(self, name: str) -> list[str]:
        done = self.ctl(name, "cluster_status", "--formatter", "json")
        return sorted(json.loads(done.stdout)["running_nodes"])

    def tail(self, name: str) -> str:
        m = self.members[name]
        return "\n".join(p.read_text(errors="replace")[-2500:]
                         for p in [m.workdir / "server.log", *sorted(m.workdir.glob("log/*.log"))]
                         if p.is_file())

    def stop_all(self) -> None:
        for name, m in self.members.items():
            if m.proc is not None:
                self.kill(name)
        for m in self.members.values():
            cleanup(self.root, m.workdir)


def listening(net: Lan, host: str, address: str, port: int) -> bool:
    """Whether address:port accepts a connection from inside `host`'s namespace."""
    check = ("import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])),"
             " timeout=1).close()")
    return subprocess.run(net.run(host, ["python3", "-c", check, address, str(port)]),
                          capture_output=True, check=False).returncode == 0
