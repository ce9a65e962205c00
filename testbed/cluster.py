"""Run a real MySQL NDB Cluster on this machine from rendered config files.

The test bed comes from ``testbed/provision.sh``: a Debian sid root holding sid's mysqld and
the NDB programs built from the matching source package. Those binaries link sid's libraries,
so every NDB program and mysqld runs inside that root (``chroot``); haproxy runs on the host.

Addresses: the rendered files name container addresses (e.g. ``172.28.0.10``). Each distinct
rendered address is mapped to its own loopback address (default ``127.0.1.1``, ``127.0.1.2``,
... in node order) and the files are rewritten textually before anything starts. This keeps
the rendered topology (one address per node, same ports) without sending traffic anywhere
but loopback. ndb_mgmd accepts a loopback client for a configured HostName it can bind itself,
which all of 127.0.0.0/8 is (see ``match_hostname`` in storage/ndb/src/mgmsrv/MgmtSrvr.cpp).

Paths: data directories, sockets, pid files and logs go under ``workdir``. Each chrooted
process gets ``workdir`` bind-mounted at the same path inside the root, in a private mount
namespace of its own (``unshare --mount``), so host and root see identical paths and the
mount disappears with the process - nothing to unmount, nothing can leak.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal, Self

NodeKind = Literal["mgm", "data", "sql", "haproxy", "check"]


class TestbedError(RuntimeError):
    """The test bed is missing, or the cluster did not come up."""

    __test__ = False  # not a pytest test class despite the name


@dataclass(frozen=True)
class NodeSpec:
    """One process of the cluster, as the rendered configuration sees it."""

    kind: NodeKind
    node_id: int | None  # NDB node id (None for haproxy)
    address: str  # the address the rendered config uses for it
    port: int | None  # mgm: 1186, sql: 3306, haproxy: frontend port; None for data


@dataclass(frozen=True)
class CheckAgent:
    """A SQL node's check agent as rendered (components/render/sql_check.py)."""

    command: list[str]  # the container's: mysqlsh --py --file <agent> <options>
    agent: Path  # the agent's source on this machine, run by this Python instead of mysqlsh
    option_file: str  # its [client] password
    account_script: str  # scripts/sql-check-account.sh as shipped
    account_environment: dict[str, str]  # its parameters as rendered
    account_sql: str  # the statements on its standard input


@dataclass(frozen=True)
class ClusterFiles:
    config_ini: str  # rendered config.ini for ndb_mgmd
    my_cnf: dict[int, str]  # SQL node id -> rendered my.cnf
    haproxy_cfg: str | None
    nodes: list[NodeSpec]
    # NDB node id -> the container's command as rendered (components/render/commands.py).
    # When given, ndb_mgmd and ndbmtd run exactly these options, localised (see _localise).
    commands: dict[int, list[str]] = field(default_factory=dict)
    # SQL node id -> its check agent; haproxy.cfg asks each at its check port.
    checks: dict[int, CheckAgent] = field(default_factory=dict)


@dataclass(frozen=True)
class Testbed:
    """What provision.sh built, read from its env file."""

    __test__ = False  # not a pytest test class despite the name

    root: Path  # sid root
    bin_in_root: str  # folder of ndb_mgmd, ndbmtd, ndb_mgm, ndb_restore inside the root
    mysqld: str  # inside the root
    mysql: str  # client, inside the root
    haproxy: str  # on the host

    @staticmethod
    def env_path() -> Path:
        cache = os.environ.get("OPENSTACK_NDB_CACHE") or str(Path.home() / ".cache/openstack-ndb")
        return Path(cache) / "testbed.env"

    @classmethod
    def load(cls, path: Path | None = None) -> Testbed:
        path = path or cls.env_path()
        if not path.is_file():
            raise TestbedError(f"no test bed: {path} is missing; run testbed/provision.sh")
        env: dict[str, str] = {}
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                env[key.strip()] = value.strip()
        try:
            return cls(
                root=Path(env["NDB_TESTBED_ROOT"]),
                bin_in_root=env.get("NDB_TESTBED_BIN_IN_ROOT", "/opt/ndb/bin"),
                mysqld=env.get("NDB_TESTBED_MYSQLD", "/usr/sbin/mysqld"),
                mysql=env.get("NDB_TESTBED_MYSQL", "/usr/bin/mysql"),
                haproxy=env.get("NDB_TESTBED_HAPROXY", "/usr/sbin/haproxy"),
            )
        except KeyError as missing:
            raise TestbedError(f"{path} lacks {missing}") from None


# --- textual rewriting -------------------------------------------------------------------


def default_address_map(nodes: list[NodeSpec], prefix: str = "127.0.1") -> dict[str, str]:
    """Rendered address -> <prefix>.<n>, n counting distinct addresses in node order."""
    mapping: dict[str, str] = {}
    for node in nodes:
        if node.address not in mapping:
            mapping[node.address] = f"{prefix}.{len(mapping) + 1}"
    return mapping


def rewrite_addresses(text: str, address_map: dict[str, str]) -> str:
    """Replace whole address tokens only, so 172.28.0.1 never touches 172.28.0.10."""
    for rendered in sorted(address_map, key=len, reverse=True):
        pattern = rf"(?<![\w.-]){re.escape(rendered)}(?![\w-]|\.\w)"
        text = re.sub(pattern, address_map[rendered], text)
    return text


_NDB_PATH_KEYS = re.compile(r"^\s*(DataDir|BackupDataDir|FileSystemPath\w*)\s*[=:]", re.IGNORECASE)
_PORT_NUMBER = re.compile(r"^\s*PortNumber\s*[=:]", re.IGNORECASE)
_NODE_ID = re.compile(r"^\s*(NodeId|Id)\s*[=:]\s*(\d+)", re.IGNORECASE)


def rewrite_config_ini(
    text: str, address_map: dict[str, str], workdir: Path, mgm_ports: dict[int, int] | None = None
) -> str:
    """Addresses, then every NDB directory -> workdir/node-<id> (or workdir/ndb for defaults),
    and PortNumber=<mgm_ports[id]> in each [ndb_mgmd] section named there.

    NDB prefixes its files with the node id (ndb_2_fs, ndb_1_cluster.log), so one folder
    per node is only for readability; sections without a node id share workdir/ndb.
    """
    mgm_ports = mgm_ports or {}
    text = rewrite_addresses(text, address_map)
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.lstrip().startswith("["):
            blocks.append([])
        blocks[-1].append(line)
    out: list[str] = []
    for block in blocks:
        node_id = next((m.group(2) for m in map(_NODE_ID.match, block) if m), None)
        folder = workdir / (f"node-{node_id}" if node_id else "ndb")
        port = mgm_ports.get(int(node_id)) if node_id else None
        lines = block
        if port is not None:
            lines = [line for line in block if not _PORT_NUMBER.match(line)]
            lines.insert(1, f"PortNumber={port}")
        for line in lines:
            match = _NDB_PATH_KEYS.match(line)
            out.append(f"{match.group(1)}={folder}" if match else line)
    return "\n".join(out) + "\n"


def rewrite_ports(text: str, ports: dict[str, str]) -> str:
    """Replace whole "host:port" tokens, e.g. {"127.0.1.1:1186": "127.0.1.1:1187"}."""
    for old, new in ports.items():
        text = re.sub(rf"(?<![\w.-]){re.escape(old)}(?!\d)", new, text)
    return text


# Per-node paths of mysqld are given on its command line (which wins over the file), so the
# rendered my.cnf only needs its addresses (and management ports) rewritten.
def rewrite_my_cnf(
    text: str, address_map: dict[str, str], ports: dict[str, str] | None = None
) -> str:
    return rewrite_ports(rewrite_addresses(text, address_map), ports or {})


_HAPROXY_DROP = re.compile(r"^\s*(chroot|user|group|daemon|pidfile|stats\s+socket)\b")
_HAPROXY_WILDCARD_BIND = re.compile(r"^(\s*bind\s+)(?:\*|0\.0\.0\.0|::|\[::\])?:(\d+)")
_HAPROXY_PROXY = re.compile(r"^(frontend|backend|listen)\b")


def rewrite_haproxy_cfg(text: str, address_map: dict[str, str], local_address: str) -> str:
    """Addresses; wildcard binds -> haproxy's own loopback address (mysqld holds :3306 on
    other loopback addresses); host-specific global lines (chroot, user, stats socket, ...)
    dropped, since haproxy runs in the foreground without privileges' paths here; and
    `source <own address>` in defaults, so servers see haproxy's mapped address (as they
    would see its container address) instead of the kernel's default 127.0.0.1."""
    out = []
    section = ""
    has_defaults = "defaults" in {ln.split()[0] for ln in text.splitlines() if ln[:1].isalpha()}
    for line in rewrite_addresses(text, address_map).splitlines():
        if line[:1].isalpha():
            section = line.split()[0]
            if not has_defaults and _HAPROXY_PROXY.match(line):
                out += ["defaults", f"    source {local_address}", ""]
                has_defaults = True
        if section == "global" and _HAPROXY_DROP.match(line):
            continue
        out.append(_HAPROXY_WILDCARD_BIND.sub(rf"\g<1>{local_address}:\g<2>", line))
        if section == "defaults" and line[:1].isalpha():
            out.append(f"    source {local_address}")
    return "\n".join(out) + "\n"


# --- processes -----------------------------------------------------------------------------


_NDB_NODEID = re.compile(r"^\s*ndb[-_](nodeid|cluster[-_]connection[-_]pool[-_]nodeids)\b", re.M)

_INIT_SQL = """\
CREATE USER IF NOT EXISTS 'root'@'{clients}' IDENTIFIED BY '';
GRANT ALL ON *.* TO 'root'@'{clients}' WITH GRANT OPTION;
"""

# If the test process dies hard, its direct children die with it (stop() never runs then).
_PDEATHSIG = ["setpriv", "--pdeathsig", "KILL", "--"]


@dataclass
class _Proc:
    spec: NodeSpec
    popen: subprocess.Popen[bytes]
    log: Path


class TestCluster:
    """Start a cluster from rendered files; always tear it down (use as a context manager)."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(
        self,
        files: ClusterFiles,
        workdir: Path,
        address_map: dict[str, str] | None = None,
        testbed: Testbed | None = None,
        *,
        launcher: Callable[[NodeSpec], list[str]] | None = None,
        client_hosts: str = "127.%",
    ) -> None:
        """`launcher`: the command prefix a node's process starts under, for the hosts as
        network namespaces (testbed/hosts.py: `ip netns exec <host>`); none by default.
        `client_hosts`: the host pattern of the passwordless test `root` account."""
        self.files = files
        self.launcher = launcher or (lambda node: [])
        self.client_hosts = client_hosts
        self.workdir = Path(workdir).resolve()
        # NDB_TESTBED_ADDRESS_PREFIX (e.g. 127.0.2) lets two clusters run side by side.
        prefix = os.environ.get("NDB_TESTBED_ADDRESS_PREFIX", "127.0.1")
        self.address_map = address_map or default_address_map(files.nodes, prefix)
        missing = {n.address for n in files.nodes} - set(self.address_map)
        if missing:
            raise ValueError(f"address_map lacks {sorted(missing)}")
        self.testbed = testbed or Testbed.load()
        self._procs: dict[tuple[NodeKind, int | None], _Proc] = {}
        self._mgm_ports: dict[int, int] = {}
        self._nodes = {(n.kind, n.node_id): n for n in files.nodes}

    # --- public interface ---------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def local(self, node: NodeSpec) -> str:
        return self.address_map[node.address]

    @property
    def connectstring(self) -> str:
        return ",".join(f"{self.local(n)}:{self._port(n)}" for n in self._of_kind("mgm"))

    def localise(self, text: str) -> str:
        """Any rendered text (a gate script, say) with this cluster's addresses and ports."""
        return rewrite_ports(rewrite_addresses(text, self.address_map), self._mgm_port_map())

    def tool(self, name: str) -> list[str]:
        """The command that runs an NDB tool (ndb_mgm, ndb_restore) of the test bed."""
        return self._chrooted([f"{self.testbed.bin_in_root}/{name}"])

    def _mgm_port_map(self) -> dict[str, str]:
        return {
            f"{self.local(n)}:{n.port or 1186}": f"{self.local(n)}:{self._port(n)}"
            for n in self._of_kind("mgm")
        }

    def _port(self, node: NodeSpec) -> int:
        """The local port: the rendered one, except for management nodes (see _pick_mgm_ports)."""
        if node.kind == "mgm":
            return self._mgm_ports.get(node.node_id or 0) or node.port or 1186
        return node.port or 3306

    def _pick_mgm_ports(self) -> None:
        """ndb_mgmd refuses to start unless its port is free on *all* addresses (it test-binds
        *:port, ConfigRetriever::verifyConfig), whatever --bind-address says. So two management
        nodes, or two clusters, cannot share a port on one host: each management node gets the
        first port from its rendered one up that is free everywhere, and the files are
        rewritten to it (PortNumber= in config.ini, host:port in connect strings)."""
        taken: set[int] = set()
        for node in self._of_kind("mgm"):
            port = node.port or 1186
            while port in taken or not _port_free_everywhere(port):
                port += 1
            taken.add(port)
            self._mgm_ports[node.node_id or 0] = port

    def start(self, timeout: float = 300) -> None:
        """mgmd(s), then all data nodes together (--initial), wait STARTED, mysqld(s), haproxy."""
        deadline = time.monotonic() + timeout
        try:
            self._check_ports_free()
            self._pick_mgm_ports()
            self._write_files()
            for node in self._of_kind("mgm"):
                self._start_mgmd(node)
            self._wait(deadline, "management node(s) answer", self._mgm_answers)
            # All data nodes at once: an initial start waits for its peers (docs/design.md §2.2).
            for node in self._of_kind("data"):
                self._start_ndbmtd(node, initial=True)
            self._wait_data_started(deadline, [n.node_id for n in self._of_kind("data")])
            for node in self._of_kind("sql"):
                self._start_mysqld(node)
            for node in self._of_kind("sql"):
                self._wait_mysqld(node, deadline)
            for node in self._of_kind("sql"):
                self._start_check(node, deadline)
            for node in self._of_kind("haproxy"):
                self._start_haproxy(node)
                self._wait(deadline, "haproxy listens", partial(self._tcp_open, node))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Kill every process group, newest first. Mounts vanish with their processes."""
        for key in reversed(list(self._procs)):
            self._kill(self._procs.pop(key))
        # Remove the (empty) mount point folders made in the root, never the root's own /tmp.
        top = self.testbed.root / self.workdir.relative_to("/").parts[0]
        path = self.testbed.root / self.workdir.relative_to("/")
        while path != top and path.is_dir():
            try:
                path.rmdir()
            except OSError:  # not empty: shared with another workdir
                break
            path = path.parent

    def ndb_mgm(self, command: str, timeout: float = 60) -> str:
        result = self._run_in_root(
            [
                f"{self.testbed.bin_in_root}/ndb_mgm",
                "-c",
                self.connectstring,
                "--connect-retries=1",
                "--connect-retry-delay=1",
                "-e",
                command,
            ],
            timeout=timeout,
        )
        # Output even on failure: the caller's wait loop shows it as the last status seen.
        return result.stdout + result.stderr

    def sql(self, node_id: int, statement: str, timeout: float = 60) -> str:
        """Run SQL through the mysql client in the root, over TCP as root (no password)."""
        host, port = self.sql_address(node_id)
        result = self._run_in_root(
            [
                self.testbed.mysql,
                "--protocol=TCP",
                "-h",
                host,
                "-P",
                str(port),
                "-uroot",
                "-N",
                "-B",
                "-e",
                statement,
            ],
            timeout=timeout,
        )
        if result.returncode != 0:
            raise TestbedError(f"SQL on node {node_id} failed: {result.stderr.strip()}")
        return result.stdout

    def kill_node(self, node_id: int) -> None:
        """kill -9 one NDB/SQL node (its whole process group, e.g. ndbmtd's angel too)."""
        proc = self._procs.pop(self._key(node_id), None)
        if proc is None:
            raise TestbedError(f"node {node_id} is not running")
        self._kill(proc)

    def start_node(self, node_id: int, timeout: float = 300) -> None:
        """Restart a killed node without --initial and wait until it is started again."""
        deadline = time.monotonic() + timeout
        kind, _ = key = self._key(node_id)
        node = self._nodes[key]
        if kind == "mgm":
            self._start_mgmd(node)
            self._wait(deadline, "management node answers", self._mgm_answers)
        elif kind == "data":
            self._start_ndbmtd(node, initial=False)
            self._wait_data_started(deadline, [node_id])
        else:
            self._start_mysqld(node)
            self._wait_mysqld(node, deadline)
            if (check := self._procs.get(("check", node_id))) is not None:
                self._wait(deadline, f"check agent of SQL node {node_id} says 200",
                           partial(self._check_answer, check.spec))

    def terminate_node(self, node_id: int, timeout: float = 120) -> None:
        """Stop a node as `docker stop` does: SIGTERM (mysqld and ndb_mgmd shut down
        cleanly), SIGKILL after `timeout`."""
        proc = self._procs.pop(self._key(node_id), None)
        if proc is None:
            raise TestbedError(f"node {node_id} is not running")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=timeout)
        self._kill(proc)  # whatever is left of its process group

    def start_nodes(self, node_ids: list[int], timeout: float = 600) -> None:
        """Restart killed nodes together (a host's, say): management nodes first, then the
        data nodes at once, then SQL nodes; wait until each is back."""
        deadline = time.monotonic() + timeout
        by_kind: dict[NodeKind, list[NodeSpec]] = {}
        for node_id in node_ids:
            kind, _ = key = self._key(node_id)
            by_kind.setdefault(kind, []).append(self._nodes[key])
        for node in by_kind.get("mgm", []):
            self._start_mgmd(node)
            self._wait(deadline, "management node answers", self._mgm_answers)
        data = by_kind.get("data", [])
        for node in data:
            self._start_ndbmtd(node, initial=False)
        if data:
            self._wait_data_started(deadline, [n.node_id for n in data])
        for node in by_kind.get("sql", []):
            self._start_mysqld(node)
            self._wait_mysqld(node, deadline)
            if ("check", node.node_id) not in self._procs:
                self._start_check(node, deadline)

    def kill_address(self, address: str) -> list[int]:
        """kill -9 every process at a rendered `address` (a host's, with host networking):
        its nodes and SQL nodes' check agents. Returns the node ids of the nodes killed
        (for start_nodes)."""
        killed = []
        for key, proc in list(self._procs.items()):
            if proc.spec.address == address:
                del self._procs[key]
                self._kill(proc)
                if proc.spec.kind != "check" and proc.spec.node_id is not None:
                    killed.append(proc.spec.node_id)
        return killed

    def process_groups(self) -> dict[str, int]:
        """Each running node's process group id (its wrapper's pid) by `<kind>-<node id>`,
        e.g. data-1, sql-147, haproxy-None: for reading CPU time from /proc."""
        return {f"{p.spec.kind}-{p.spec.node_id}": p.popen.pid for p in self._procs.values()}

    def log_of(self, kind: NodeKind, node_id: int | None = None) -> Path:
        """The stdout/stderr log of a running process, e.g. ("haproxy", None), ("check", 147)."""
        proc = self._procs.get((kind, node_id))
        if proc is None:
            raise TestbedError(f"no {kind} {node_id} running")
        return proc.log

    def check_answer(self, node_id: int) -> tuple[bool, str]:
        """What the check agent of SQL node `node_id` tells HAProxy now: (HTTP 200,
        "<status> <body>"), or (False, why not)."""
        proc = self._procs.get(("check", node_id))
        if proc is None:
            return False, f"SQL node {node_id} has no check agent running"
        return self._check_answer(proc.spec)

    def _check_answer(self, spec: NodeSpec) -> tuple[bool, str]:
        url = f"http://{self.local(spec)}:{spec.port}/"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return True, f"{answer.status} {answer.read().decode().strip()}"
        except urllib.error.HTTPError as error:
            return False, f"{error.code} {error.read().decode().strip()}"
        except OSError as error:
            return False, f"no answer from {url}: {error}"

    def sql_address(self, node_id: int) -> tuple[str, int]:
        node = self._nodes[("sql", node_id)]
        return self.local(node), self._port(node)

    def endpoint(self) -> tuple[str, int]:
        """haproxy's frontend, mapped to loopback."""
        node = next(iter(self._of_kind("haproxy")), None)
        if node is None:
            raise TestbedError("the cluster has no haproxy node")
        return self.local(node), self._port(node)

    def log_tail(self, node_id: int | None = None, lines: int = 20) -> str:
        procs = [p for p in self._procs.values() if node_id in (None, p.spec.node_id)]
        logs = [(p.log, p.spec) for p in procs]
        # mysqld writes to its error log, ndbmtd/ndb_mgmd also to ndb_<id>_out/cluster logs.
        logs += [(self._dir(p.spec) / "error.log", p.spec) for p in procs if p.spec.kind == "sql"]
        return "\n".join(_tail(path, lines, spec) for path, spec in logs)

    def _check_ports_free(self) -> None:
        """Fail fast, and clearly, when another cluster already holds a mapped address:port
        (e.g. two test clusters with the default map); pass address_map to run side by side."""
        for node in self.files.nodes:
            if node.kind not in ("data", "mgm") and self._tcp_open(node)[0]:
                raise TestbedError(
                    f"{self.local(node)}:{node.port} ({node.kind} {node.node_id}) is already in"
                    " use: another cluster is running? Pass a different address_map."
                )

    # --- files --------------------------------------------------------------------------

    def _of_kind(self, kind: NodeKind) -> list[NodeSpec]:
        return [n for n in self.files.nodes if n.kind == kind]

    def _key(self, node_id: int) -> tuple[NodeKind, int | None]:
        for key in self._nodes:
            if key[1] == node_id:
                return key
        raise KeyError(f"no node with id {node_id}")

    def _dir(self, node: NodeSpec) -> Path:
        return self.workdir / (f"node-{node.node_id}" if node.node_id else node.kind)

    def _write_files(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "ndb").mkdir(exist_ok=True)
        for node in self.files.nodes:
            self._dir(node).mkdir(exist_ok=True)
        mgm = self._of_kind("mgm")
        (self.workdir / "config.ini").write_text(
            rewrite_config_ini(
                self.files.config_ini,
                self.address_map,
                self.workdir,
                {n.node_id: self._port(n) for n in mgm if n.node_id is not None},
            )
        )
        for node_id, text in self.files.my_cnf.items():
            (self.workdir / f"node-{node_id}" / "my.cnf").write_text(
                rewrite_my_cnf(text, self.address_map, self._mgm_port_map())
            )
        for node in self._of_kind("haproxy"):
            assert self.files.haproxy_cfg is not None, "haproxy node without haproxy_cfg"
            (self._dir(node) / "haproxy.cfg").write_text(
                rewrite_haproxy_cfg(self.files.haproxy_cfg, self.address_map, self.local(node))
            )
        # Mount point for the bind mount of workdir inside the root.
        (self.testbed.root / self.workdir.relative_to("/")).mkdir(parents=True, exist_ok=True)

    # --- launching ----------------------------------------------------------------------

    def _chrooted(self, argv: list[str]) -> list[str]:
        """argv run inside the root, with workdir at the same path and /proc, /sys mounted
        (ndbmtd reads CPU topology there), in a private mount namespace that dies with the
        process."""
        script = (
            'r=$0; w=$1; shift; mount --bind "$w" "$r$w" && mount -t proc proc "$r/proc"'
            ' && mount --rbind /sys "$r/sys" && exec chroot "$r" "$@"'
        )
        # --pid --fork --kill-child: the program runs in a PID namespace of its own that dies
        # with the wrapper, so ndbmtd's forked worker cannot outlive a hard-killed test run
        # (the parent-death signal reaches only the angel process, not the worker it forks).
        return [
            "unshare",
            "--mount",
            "--pid",
            "--fork",
            "--kill-child",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            script,
            str(self.testbed.root),
            str(self.workdir),
            *argv,
        ]

    def _run_in_root(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        # Same wrapper as the daemons: ndb_mgm aborts without /proc (it reads /proc/cpuinfo).
        return subprocess.run(
            self._chrooted(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _spawn(self, node: NodeSpec, argv: list[str], name: str) -> None:
        log = self._dir(node) / f"{name}.stdout.log"
        with log.open("ab") as out:
            out.write(f"$ {shlex.join(argv)}\n".encode())
            out.flush()
            popen = subprocess.Popen(
                [*_PDEATHSIG, *self.launcher(node), *argv],
                cwd=self._dir(node),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._procs[(node.kind, node.node_id)] = _Proc(node, popen, log)

    def _localise(self, node: NodeSpec, default: list[str]) -> list[str]:
        """The rendered command with container paths and addresses made local: the program
        from the test bed, --ndb-connectstring to the mapped management nodes, --configdir
        to the node's folder; every other option as rendered. Without one, `default`."""
        rendered = self.files.commands.get(node.node_id or -1)
        if rendered is None:
            return default
        local = {
            "--ndb-connectstring": f"--ndb-connectstring={self.connectstring}",
            "--configdir": f"--configdir={self._dir(node)}",
        }
        program = f"{self.testbed.bin_in_root}/{rendered[0]}"
        return [program, *(local.get(arg.split("=", 1)[0], arg) for arg in rendered[1:])]

    def _start_mgmd(self, node: NodeSpec) -> None:
        local = f"{self.local(node)}:{self._port(node)}"
        # --config-cache=0: always serve the config.ini given, as the NDB Operator does.
        program = self._localise(node, [
            f"{self.testbed.bin_in_root}/ndb_mgmd",
            "--config-cache=0",
            f"--ndb-nodeid={node.node_id}",
            f"--configdir={self._dir(node)}",
        ])
        # What the image's entrypoint adds (--nodaemon, -f), then what only loopback needs.
        extra = [
            "--nodaemon",
            "-f",
            str(self.workdir / "config.ini"),
            f"--bind-address={self.local(node)}",  # host only: the port is in config.ini
            f"--ndb-connectstring={local}",
        ]
        self._spawn(node, self._chrooted(program + extra), "ndb_mgmd")

    def _start_ndbmtd(self, node: NodeSpec, initial: bool) -> None:
        """`initial` applies to the built-in command only: a rendered one runs as rendered
        (the containers never pass --initial; an empty file system starts initially)."""
        default = [
            f"{self.testbed.bin_in_root}/ndbmtd",
            f"--ndb-nodeid={node.node_id}",
            f"--ndb-connectstring={self.connectstring}",
            *(["--initial"] if initial else []),
        ]
        argv = [*self._localise(node, default), "--nodaemon"]
        self._spawn(node, self._chrooted(argv), "ndbmtd")

    def _start_mysqld(self, node: NodeSpec) -> None:
        folder = self._dir(node)
        cnf = folder / "my.cnf"
        paths = [
            f"--defaults-file={cnf}",
            f"--datadir={folder / 'data'}",
            f"--socket={folder / 'mysqld.sock'}",
            f"--pid-file={folder / 'mysqld.pid'}",
            f"--log-error={folder / 'error.log'}",
            f"--tmpdir={folder}",
        ]
        if not (folder / "data").exists():
            # --initialize turns ndbcluster off by itself; the engine overrides keep a
            # default_storage_engine=ndbcluster in the rendered file from failing it.
            # root@localhost has no password; the test harness's root@'127.%' (no password)
            # lets TCP clients in from any loopback address - the test process (127.0.0.1)
            # and haproxy, which connects from its own mapped address - also when the
            # rendered file sets skip-name-resolve.
            (folder / "init.sql").write_text(_INIT_SQL.format(clients=self.client_hosts))
            init = self._chrooted(
                [
                    self.testbed.mysqld,
                    *paths,
                    "--initialize-insecure",
                    f"--init-file={folder / 'init.sql'}",
                    "--user=root",
                    "--default-storage-engine=InnoDB",
                    "--default-tmp-storage-engine=InnoDB",
                ]
            )
            done = subprocess.run([*_PDEATHSIG, *init], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise TestbedError(
                    f"mysqld --initialize for node {node.node_id} failed:\n"
                    f"{done.stderr}\n{_tail(folder / 'error.log', 30)}"
                )
        # The node id as rendered (ndb-nodeid or ndb-cluster-connection-pool-nodeids) wins.
        has_id = _NDB_NODEID.search(cnf.read_text())
        extra = [] if has_id else [f"--ndb-nodeid={node.node_id}"]
        # Same address and port as rendered, mapped; mysqlx off since its port 33060 would
        # clash between SQL nodes (it listens on all addresses).
        self._spawn(
            node,
            self._chrooted(
                [
                    self.testbed.mysqld,
                    *paths,
                    "--user=root",
                    "--secure-file-priv=",
                    f"--bind-address={self.local(node)}",
                    f"--port={self._port(node)}",
                    "--mysqlx=OFF",
                    *extra,
                ]
            ),
            "mysqld",
        )

    def _exec_wrapper(self, name: str, argv: list[str]) -> Path:
        """An executable file that runs `argv` plus its own arguments in the root (what
        `docker exec -i <container>` is to a deployment's scripts)."""
        path = self.workdir / name
        path.write_text(f'#!/bin/sh\nexec {shlex.join(self._chrooted(argv))} "$@"\n')
        path.chmod(0o755)
        return path

    def _start_check(self, node: NodeSpec, deadline: float) -> None:
        """The SQL node's check agent, as its container runs it: its account created by the
        shipped script (root over the socket, the statements on stdin), its option file
        (0400), then the rendered command with this Python for mysqlsh, this cluster's
        addresses, and the root's mysql client (the host's is MariaDB's) for `mysql`."""
        check = self.files.checks.get(node.node_id or -1)
        if check is None:
            return
        folder = self._dir(node)
        root_password = folder / "root-password"  # the test bed's root has no password
        root_password.write_text("")
        env = {**os.environ, **check.account_environment,
               "SQL_ROOT_PASSWORD_FILE": str(root_password),
               "SQL_SOCKET": str(folder / "mysqld.sock"),
               "SQL_EXEC": str(self._exec_wrapper("sql-exec", []))}
        done = subprocess.run(["bash", "-c", check.account_script], env=env, text=True,
                              input=self.localise(check.account_sql), capture_output=True,
                              timeout=max(10.0, deadline - time.monotonic()), check=False)
        if done.returncode != 0:
            raise TestbedError(f"check account of SQL node {node.node_id} failed:\n"
                               f"{done.stdout}{done.stderr}")
        option_file = folder / "ndb-sql-check.cnf"
        option_file.unlink(missing_ok=True)
        option_file.touch(mode=0o400)
        option_file.write_text(check.option_file)
        assert check.command[0] == "mysqlsh", check.command
        options = check.command[check.command.index("--file") + 2:]
        local = [self.localise(o) for o in options]
        local[local.index("--defaults-file") + 1] = str(option_file)
        mysql = self._exec_wrapper("mysql", [self.testbed.mysql])
        listen = local[local.index("--listen") + 1]
        spec = NodeSpec("check", node.node_id, node.address, int(listen.rpartition(":")[2]))
        self._spawn(spec, [sys.executable, str(check.agent), *local, "--mysql", str(mysql)],
                    "ndb-sql-check")
        self._wait(deadline, f"check agent of SQL node {node.node_id} says 200",
                   partial(self._check_answer, spec))

    def _start_haproxy(self, node: NodeSpec) -> None:
        cfg = self._dir(node) / "haproxy.cfg"
        self._spawn(node, [self.testbed.haproxy, "-db", "-f", str(cfg)], "haproxy")

    def _kill(self, proc: _Proc) -> None:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(proc.popen.pid, signal.SIGKILL)
        try:
            proc.popen.wait(timeout=30)
            # The wrapper exits before the PID namespace it owned is torn down (a large
            # mysqld takes a moment to unmap); wait until the whole group is gone, so its
            # ports are free for the next cluster.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                os.killpg(proc.popen.pid, 0)
                time.sleep(0.1)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            pass
        print(f"[testbed] {proc.spec.kind} {proc.spec.node_id} did not die", file=sys.stderr)

    # --- waiting ------------------------------------------------------------------------

    def _check_alive(self) -> None:
        for key, proc in list(self._procs.items()):
            if proc.popen.poll() is not None and proc.spec.kind == "check":
                # What the container's restart policy does: an agent that exited (its mysqld
                # was unreachable for --exit-after) starts again.
                print(f"[testbed] check agent of SQL node {proc.spec.node_id} exited with "
                      f"{proc.popen.returncode}; starting it again", file=sys.stderr)
                argv = proc.popen.args
                assert isinstance(argv, list)
                del self._procs[key]
                self._spawn(proc.spec, argv[len(_PDEATHSIG):], "ndb-sql-check")
                continue
            if proc.popen.poll() is not None:
                raise TestbedError(
                    f"{proc.spec.kind} node {proc.spec.node_id} exited with "
                    f"{proc.popen.returncode}\n{self.log_tail(proc.spec.node_id, 30)}"
                )

    def _wait(self, deadline: float, what: str, probe: Callable[[], tuple[bool, str]]) -> str:
        """Poll probe() -> (done, status) until done; print status changes; raise on timeout."""
        last = ""
        print(f"[testbed] waiting: {what}", file=sys.stderr, flush=True)
        while True:
            self._check_alive()
            done, status = probe()
            if status != last:
                print(f"[testbed]   {status.strip()}", file=sys.stderr, flush=True)
                last = status
            if done:
                return status
            if time.monotonic() > deadline:
                raise TestbedError(
                    f"timed out waiting: {what}\nlast status:\n{last}\n{self.log_tail(lines=15)}"
                )
            time.sleep(2)

    def _mgm_answers(self) -> tuple[bool, str]:
        try:
            out = self.ndb_mgm("show", timeout=20)
        except subprocess.TimeoutExpired:
            return False, "ndb_mgm timed out"
        return "Cluster Configuration" in out, out

    def _wait_data_started(self, deadline: float, node_ids: list[int | None]) -> None:
        def probe() -> tuple[bool, str]:
            try:
                out = self.ndb_mgm("ALL STATUS", timeout=20)
            except subprocess.TimeoutExpired:
                return False, "ndb_mgm timed out"
            started = {int(i) for i in re.findall(r"Node (\d+): started", out)}
            return all(i in started for i in node_ids), out

        self._wait(deadline, f"data nodes {node_ids} started", probe)

    def _wait_mysqld(self, node: NodeSpec, deadline: float) -> None:
        n_data = len(self._of_kind("data"))
        query = "SELECT COUNT(*) FROM ndbinfo.nodes WHERE status = 'STARTED'"

        def probe() -> tuple[bool, str]:
            try:
                out = self.sql(node.node_id or 0, query, timeout=20).strip()
            except (TestbedError, subprocess.TimeoutExpired) as error:
                return False, str(error).splitlines()[0] if str(error) else "no answer"
            return out == str(n_data), f"data nodes STARTED seen by SQL node: {out}"

        self._wait(deadline, f"SQL node {node.node_id} connected to NDB", probe)

    def _tcp_open(self, node: NodeSpec) -> tuple[bool, str]:
        host, port = self.local(node), self._port(node)
        with socket.socket() as sock:
            sock.settimeout(2)
            ok = sock.connect_ex((host, port)) == 0
        return ok, f"{host}:{port} {'open' if ok else 'closed'}"


def _port_free_everywhere(port: int) -> bool:
    # Same test as ndb_mgmd's: bind *:port with SO_REUSEADDR (TIME_WAIT does not count).
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("", port))
        except OSError:
            return False
    return True


def _tail(path: Path, lines: int, spec: NodeSpec | None = None) -> str:
    head = f"--- {spec.kind} {spec.node_id}: {path}" if spec else f"--- {path}"
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        text = ["(no log)"]
    return "\n".join([head, *text])
