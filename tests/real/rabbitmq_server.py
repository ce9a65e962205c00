"""A real RabbitMQ 4 for the tests: sid's rabbitmq-server, installed into the NDB test bed's
sid root by testbed/provision.sh (Debian stable's is 3.10, older than the stacks' 4.1 image
and without deprecated features), run inside that root like the test bed's mysqld.

The server reads only the config files it is given, as the image reads its conf.d: a
directory of them in name order (RABBITMQ_CONFIG_FILES), no main rabbitmq.conf. Its data,
logs, cookie and config live in a temp dir, bind-mounted at the same path inside the root in
a private mount namespace; it runs in a PID namespace of its own (RabbitMQ starts epmd and
beam as daemons: ending the namespace ends them all), as root, with its Erlang distribution
and epmd on free loopback ports. Nothing is left in the root but an empty mount point, which
is removed afterwards.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from testbed.pytest_support import require_testbed, unavailable
from tests.ports import free_port, port_open, wait_for_port

# Inside the root: the server and CLI themselves, not Debian's wrappers, which su to the
# rabbitmq user (a uid of the root's /etc/passwd, not the host's).
RABBITMQ_BIN = "/usr/lib/rabbitmq/bin"
START_TIMEOUT_S = 120
# A workdir's `hosts` file, if any, is the root's /etc/hosts in that namespace only (as a
# container's /etc/hosts holds Docker's `hosts` entries).
_IN_ROOT = ('r=$0; w=$1; shift; mount --bind "$w" "$r$w" && mount -t proc proc "$r/proc"'
            ' && { [ ! -f "$w/hosts" ] || mount --bind "$w/hosts" "$r/etc/hosts"; }'
            ' && exec chroot "$r" "$@"')


@dataclass(frozen=True)
class RabbitMq:
    """A running server: where it listens and how to run its CLI."""

    host: str
    port: int
    version: str  # the root's rabbitmq-server package version, e.g. 4.3.6-1
    root: Path
    workdir: Path
    environment: dict[str, str]

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """rabbitmqctl against this node; see `rabbitmqctl`."""
        return rabbitmqctl(self.root, self.workdir, self.environment, *args, timeout=timeout)

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:]
                         for p in sorted(self.workdir.glob("log/*.log")))


def rabbitmqctl(root: Path, workdir: Path, environment: Mapping[str, str], *args: str,
                timeout: float = 60) -> str:
    """rabbitmqctl against the node of `workdir` (its cookie, node name and epmd port, from
    `environment`, what `prepare` returned); its stdout. Raises AssertionError with the
    output when it fails, subprocess.TimeoutExpired after `timeout` seconds."""
    done = subprocess.run(in_root(root, workdir, f"{RABBITMQ_BIN}/rabbitmqctl", *args),
                          env=dict(environment), capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, f"rabbitmqctl {' '.join(args)}: {done.stderr[-2000:]}"
    return done.stdout


def in_root(root: Path, workdir: Path, *argv: str) -> list[str]:
    # --pid --fork --kill-child: the command's processes live and die in their own namespace.
    return ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation",
            "private", "--", "sh", "-c", _IN_ROOT, str(root), str(workdir), *argv]


def _version(root: Path) -> str:
    done = subprocess.run(["chroot", str(root), "dpkg-query", "-W", "-f=${Version}",
                           "rabbitmq-server"], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


@contextmanager
def rabbitmq_server(config_files: Mapping[str, str], port: int, host: str = "127.0.0.1"
                    ) -> Iterator[RabbitMq]:
    """RabbitMQ reading `config_files` (name -> text, a conf.d) and listening on host:port
    (the files must say so); stopped, its namespace ended and its files removed afterwards."""
    root, version = rabbitmq_root()
    workdir, environment = prepare(root, config_files)
    out = (workdir / "server.log").open("w")
    proc = subprocess.Popen(in_root(root, workdir, f"{RABBITMQ_BIN}/rabbitmq-server"),
                            env=environment, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    server = RabbitMq(host, port, version, root, workdir, environment)
    try:
        wait_for_port(host, port, timeout=START_TIMEOUT_S, what=f"RabbitMQ {version}",
                      alive=lambda: proc.poll() is None,
                      details=lambda: (workdir / "server.log").read_text()[-3000:]
                      + server.log())
        yield server
    finally:
        # unshare ignores SIGTERM while it waits; SIGKILL it and --kill-child kills the
        # namespace's first process, which takes beam and epmd with it.
        proc.kill()
        proc.wait(timeout=60)
        out.close()
        deadline = time.monotonic() + 30
        while port_open(host, port) and time.monotonic() < deadline:
            time.sleep(0.5)
        cleanup(root, workdir)
    assert not port_open(host, port), "RabbitMQ outlived its namespace"


def rabbitmq_root() -> tuple[Path, str]:
    """The test bed's sid root holding rabbitmq-server, and that package's version; under
    CI=true a missing one fails, else it skips."""
    root = require_testbed().root
    version = _version(root)
    if not (root / RABBITMQ_BIN.lstrip("/") / "rabbitmq-server").is_file() or not version:
        unavailable(f"no rabbitmq-server in the test bed's root {root}; rerun "
                    "testbed/provision.sh (step root-rabbitmq)")
    return root, version


def cleanup(root: Path, workdir: Path) -> None:
    """Remove a server's files and its mount point in the root (after it stopped)."""
    # Not empty only if something wrote through a vanished mount: kept to look at.
    with suppress(OSError):
        (root / workdir.relative_to("/")).rmdir()
    shutil.rmtree(workdir, ignore_errors=True)


def prepare(root: Path, config_files: Mapping[str, str], nodename: str = "osndb-test"
            ) -> tuple[Path, dict[str, str]]:
    """A temp dir with `config_files` as its conf.d, its mount point in the root, and the
    server's environment (run it with `in_root(root, workdir, RABBITMQ_BIN/rabbitmq-server)`)."""
    workdir = Path(tempfile.mkdtemp(prefix="osndb-rabbitmq-"))
    (root / workdir.relative_to("/")).mkdir(parents=True, exist_ok=True)
    conf_d = workdir / "conf.d"
    conf_d.mkdir()
    for name, text in config_files.items():
        (conf_d / name).write_text(text)
    return workdir, {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
        "HOME": str(workdir),  # the Erlang cookie: this server's and its CLI's
        "RABBITMQ_CONFIG_FILE": str(workdir / "absent.conf"),
        "RABBITMQ_CONFIG_FILES": str(conf_d),
        "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(workdir / "log"),
        "RABBITMQ_NODENAME": f"{nodename}@localhost",
        "RABBITMQ_DIST_PORT": str(free_port()), "ERL_EPMD_PORT": str(free_port()),
        "RABBITMQ_PID_FILE": str(workdir / "pid"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),  # none
    }
