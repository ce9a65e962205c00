"""The Galera peer as processes on loopback: three members, their clustercheck, HAProxy.

Started as Kolla-Ansible starts a new cluster (ansible/roles/mariadb/tasks/bootstrap_cluster.yml
and deploy): the first member bootstraps it (`--wsrep-new-cluster`), then the others join one
at a time and receive a state snapshot (SST, mariabackup) from a donor. Each member runs as
root from its own folder; the servers accept a `bench` user with no password from loopback
only, like the NDB test bed's root@'127.%'. Everything is killed and removed on exit.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from bench.connection import connect
from bench.galera.render import (
    CLUSTERCHECK_PORT,
    SQL_PORT,
    Member,
    buffer_pool_mb,
    clustercheck_cnf,
    haproxy_cfg,
    member_cnf,
)
from tests.ports import port_open

CLUSTERCHECK = Path(__file__).resolve().parent / "clustercheck.sh"
PROGRAMS = ("mariadbd", "mariadbd-safe", "mariadb-install-db", "mariadb", "mariabackup", "socat",
            "haproxy")
SYNCED = 4  # wsrep_local_state of a member that serves writes
BENCH_USER = "bench"
# A member dies with the process that started it, even when that one is killed hard.
_PDEATHSIG = ["setpriv", "--pdeathsig", "KILL", "--"]


class GaleraError(RuntimeError):
    """A member or HAProxy did not start, or did not reach the state waited for; the
    message carries the log's tail."""


def missing_programs() -> list[str]:
    """Which of the peer's programs (Debian: mariadb-server, galera-4, mariadb-backup,
    socat, haproxy) this machine lacks; [] when the peer can run."""
    found = [p for p in PROGRAMS if shutil.which(p) or Path(f"/usr/sbin/{p}").exists()]
    lacking = [p for p in PROGRAMS if p not in found]
    if not Path("/usr/lib/galera/libgalera_smm.so").exists():
        lacking.append("galera-4 (libgalera_smm.so)")
    return lacking


@dataclass
class GaleraCluster:
    """Use as a context manager. `prefix` is a loopback /24 of its own (members .1-.3,
    HAProxy's frontend .10); `workdir` holds every file and is emptied on exit."""

    workdir: Path
    prefix: str = "127.0.3"
    size: int = 3
    members: list[Member] = field(init=False)
    _procs: dict[str, subprocess.Popen[bytes]] = field(init=False, default_factory=dict)
    _logs: dict[str, Path] = field(init=False, default_factory=dict)
    _log_offsets: dict[str, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir).resolve()
        self.members = [Member(f"galera-{i}", f"{self.prefix}.{i}",
                               str(self.workdir / f"galera-{i}")) for i in range(1, self.size + 1)]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses ----------------------------------------------------------------------

    @property
    def frontend(self) -> str:
        return f"{self.prefix}.10"

    def endpoint(self) -> tuple[str, int]:
        return self.frontend, SQL_PORT

    def address(self, member: Member) -> tuple[str, int]:
        return member.address, SQL_PORT

    def member_at(self, address: str) -> Member:
        return next(m for m in self.members if m.address == address)

    def connect(self, address: tuple[str, int], **options: Any) -> Any:
        return connect(address, BENCH_USER, **options)

    # --- life cycle ---------------------------------------------------------------------

    def start(self, timeout: float = 300, progress: Any = print) -> None:
        """Bootstrap the first member, add the others one at a time, then each member's
        clustercheck and HAProxy; wait until HAProxy reports the active member up."""
        deadline = time.monotonic() + timeout
        lacking = missing_programs()
        if lacking:
            raise GaleraError(f"the Galera peer needs {', '.join(lacking)} (Debian packages "
                              "mariadb-server galera-4 mariadb-backup socat haproxy)")
        try:
            self._write_files()
            first, *others = self.members
            self._install_db(first)
            self._start_member(first, bootstrap=True)
            self.wait_synced(first, deadline - time.monotonic())
            self._sql(first, f"CREATE USER {BENCH_USER}@'127.%'; "
                             f"GRANT ALL ON *.* TO {BENCH_USER}@'127.%'")
            progress(f"[galera] {first.name} bootstrapped the cluster")
            for member in others:
                Path(member.datadir).mkdir(parents=True, exist_ok=True)
                began = time.monotonic()
                self._start_member(member)
                self.wait_synced(member, deadline - time.monotonic())
                progress(f"[galera] {member.name} joined (SST) in "
                         f"{time.monotonic() - began:.0f} s")
            for member in self.members:
                self._start_clustercheck(member)
            self._start_haproxy()
            self._wait(deadline, "HAProxy's active member up",
                       lambda: self.server_states().get(first.name) == "UP")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for name in reversed(list(self._procs)):
            self._kill(name)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def kill(self, member: Member) -> None:
        """kill -9 the member's server with its mariadbd-safe, as when its container or
        host dies (its clustercheck stays, answering 503)."""
        self._kill(member.name)

    def restart(self, member: Member) -> None:
        """Start a killed member again: it rejoins with an incremental state transfer when
        the others still hold the writes it missed (see `state_transfer`)."""
        log = Path(member.folder) / "mariadb.log"
        self._log_offsets[member.name] = log.stat().st_size if log.exists() else 0
        self._start_member(member)

    def state_transfer(self, member: Member) -> str:
        """How the member got the state it missed since its last restart, from its log:
        "IST" (only the missing writes), "SST" (a whole snapshot) or "unknown"."""
        log = Path(member.folder) / "mariadb.log"
        with log.open("rb") as f:
            f.seek(self._log_offsets.get(member.name, 0))
            text = f.read().decode(errors="replace")
        if "IST received" in text:
            return "IST"
        return "SST" if "SST" in text else "unknown"

    # --- state --------------------------------------------------------------------------

    def wsrep_state(self, member: Member) -> int | None:
        try:
            out = self._sql(member, "SHOW GLOBAL STATUS LIKE 'wsrep_local_state'", timeout=5)
        except GaleraError:
            return None
        parts = out.split()
        return int(parts[1]) if len(parts) == 2 and parts[1].isdigit() else None

    def wait_synced(self, member: Member, timeout: float) -> float:
        """Seconds until the member is Synced; GaleraError after `timeout` seconds."""
        began = time.monotonic()
        self._wait(began + timeout, f"{member.name} synced",
                   lambda: self.wsrep_state(member) == SYNCED, member)
        return time.monotonic() - began

    def server_states(self) -> dict[str, str]:
        """HAProxy's view: member name -> UP, DOWN, NOLB... (`show stat` over its socket)."""
        sock = self.workdir / "haproxy.sock"
        if not sock.exists():
            return {}
        done = subprocess.run(["socat", "-", f"UNIX-CONNECT:{sock}"], input="show stat\n",
                              capture_output=True, text=True, timeout=5, check=False)
        states = {}
        for line in done.stdout.splitlines():
            cols = line.split(",")
            if len(cols) > 17 and cols[0] == "mariadb_back" and cols[1].startswith("galera-"):
                states[cols[1]] = cols[17].split()[0]
        return states

    def process_groups(self) -> dict[str, int]:
        """Each running process's group id by name (galera-1, galera-1-clustercheck,
        haproxy): for reading CPU time from /proc."""
        return {name: proc.pid for name, proc in self._procs.items()}

    def log_tail(self, member: Member, lines: int = 30) -> str:
        text = ""
        for log in (Path(member.folder) / "mariadb.log", Path(member.folder) / "stdout.log"):
            if log.exists():
                text += f"--- {log}\n" + "\n".join(log.read_text(errors="replace")
                                                   .splitlines()[-lines:]) + "\n"
        return text

    # --- internals ----------------------------------------------------------------------

    def _write_files(self) -> None:
        memtotal_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
        pool = buffer_pool_mb(memtotal_mb, self.size)
        self.workdir.mkdir(parents=True, exist_ok=True)
        for member in self.members:
            folder = Path(member.folder)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "galera.cnf").write_text(member_cnf(member, self.members, buffer_pool=pool))
            (folder / "clustercheck.cnf").write_text(clustercheck_cnf(member, "root"))
        (self.workdir / "haproxy.cfg").write_text(
            haproxy_cfg(self.members, self.frontend,
                        stats_socket=str(self.workdir / "haproxy.sock"),
                        maxconn=min(40000, (resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                                            - 100) // 2)))

    def _install_db(self, member: Member) -> None:
        done = subprocess.run(
            ["mariadb-install-db", f"--defaults-file={member.folder}/galera.cnf",
             "--user=root", "--skip-test-db", "--auth-root-authentication-method=socket"],
            capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise GaleraError(f"mariadb-install-db for {member.name} failed:\n"
                              f"{done.stdout}{done.stderr}")

    def _start_member(self, member: Member, bootstrap: bool = False) -> None:
        # mariadbd-safe, as Kolla's container runs it: before the server starts it recovers
        # the last committed position (--wsrep-recover), so a member killed -9 rejoins by
        # an incremental transfer (IST) instead of a whole snapshot.
        argv = ["mariadbd-safe", f"--defaults-file={member.folder}/galera.cnf",
                *(["--wsrep-new-cluster"] if bootstrap else [])]
        self._spawn(member.name, argv, Path(member.folder) / "stdout.log")

    def _start_clustercheck(self, member: Member) -> None:
        check = f"{CLUSTERCHECK} {member.folder}/clustercheck.cnf"
        argv = ["socat", f"tcp-l:{CLUSTERCHECK_PORT},fork,reuseaddr,bind={member.address}",
                f"EXEC:{check}"]
        self._spawn(f"{member.name}-clustercheck", argv,
                    Path(member.folder) / "clustercheck.log")
        self._wait(time.monotonic() + 10, f"{member.name}'s clustercheck listens",
                   lambda: port_open(member.address, CLUSTERCHECK_PORT))

    def _start_haproxy(self) -> None:
        self._spawn("haproxy", ["haproxy", "-db", "-f", str(self.workdir / "haproxy.cfg")],
                    self.workdir / "haproxy.log")

    def _spawn(self, name: str, argv: list[str], log: Path) -> None:
        self._logs[name] = log
        with log.open("ab") as out:
            self._procs[name] = subprocess.Popen(
                [*_PDEATHSIG, *argv], stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)

    def _kill(self, name: str) -> None:
        proc = self._procs.pop(name, None)
        if proc is None:
            raise GaleraError(f"{name} is not running")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def _sql(self, member: Member, statement: str, timeout: float = 30) -> str:
        done = subprocess.run(
            ["mariadb", f"--socket={member.socket}", "--user=root", "--batch",
             "--skip-column-names", "-e", statement],
            capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise GaleraError(f"SQL on {member.name} failed: {done.stderr.strip()}")
        return done.stdout

    def _wait(self, deadline: float, what: str, probe: Any, member: Member | None = None
              ) -> None:
        while not probe():
            dead = [n for n, p in self._procs.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                reason = f"{', '.join(dead)} exited" if dead else "timed out"
                tails = "".join(self.log_tail(m) for m in ([member] if member else self.members))
                tails += "".join(_tail(self._logs[n]) for n in dead if n in self._logs)
                raise GaleraError(f"waiting for {what}: {reason}\n{tails}")
            time.sleep(0.2)


def _tail(log: Path, lines: int = 30) -> str:
    text = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else []
    return f"--- {log}\n" + "\n".join(text) + "\n"
