"""A stack's hosts as Linux network namespaces on this machine: each host has its own network
stack, its rendered address on its rendered interface (a veth end), and a link to one bridge
that joins them, so a host can be cut off (its link down) as a whole machine would be.

Needs root and Debian's iproute2. Names carry a prefix of their own so that runs never touch
anything else on the machine; `close()` (or the context manager) removes every namespace,
link and bridge it made, and a run finds and removes the leftovers of an earlier one.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

IP = "ip"
DEFAULT_PREFIX = "osndb"  # namespaces osndb-<host>, bridge osndb-br, links osndb-<n>


@dataclass
class NamespaceHost:
    """One host: its namespace, address, interface, and the processes started in it."""

    name: str
    namespace: str
    address: str
    interface: str
    bridge_link: str  # the veth end on the bridge side, in the root namespace
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` run inside this host's namespace."""
        return [IP, "netns", "exec", self.namespace, *argv]

    def run(self, argv: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(argv), capture_output=True, text=True,  # type: ignore[call-overload, no-any-return]
                              **kwargs)

    def start(self, argv: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
        """A long-running process in this host, its output appended to `log`; in a process
        group of its own, so a host loss kills it and its children."""
        with log.open("ab") as out:
            proc = subprocess.Popen(self.command(argv), stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.processes.append(proc)
        return proc

    def addresses(self) -> list[str]:
        """The IPv4 addresses on the host's interface now (with a virtual one it holds)."""
        out = self.run([IP, "-4", "-o", "addr", "show", "dev", self.interface]).stdout
        return [line.split()[3].split("/")[0] for line in out.splitlines()]

    def kill_all(self) -> None:
        """SIGKILL every process started in this host (their whole process groups)."""
        for proc in self.processes:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.processes.clear()


class NamespaceHosts:
    """Namespaces for `hosts` (name -> (address, interface)) on one /24 (or the given
    network), joined by a bridge."""

    def __init__(self, hosts: dict[str, tuple[str, str]], network: str | None = None,
                 prefix: str = DEFAULT_PREFIX):
        if os.geteuid() != 0 or shutil.which(IP) is None:
            raise RuntimeError("network namespaces need root and iproute2 (ip)")
        self.prefix = prefix
        self.bridge = f"{prefix}-br"
        first = next(iter(hosts.values()))[0]
        self.network = ipaddress.IPv4Network(network or f"{first}/24", strict=False)
        self.hosts: dict[str, NamespaceHost] = {}
        self.lost: set[str] = set()  # hosts down: what their namespaces hold does not count
        self._remove_leftovers()
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("link", "set", self.bridge, "up")
        for index, (name, (address, interface)) in enumerate(hosts.items()):
            self.add(name, address, interface, index)

    def add(self, name: str, address: str, interface: str, index: int | None = None
            ) -> NamespaceHost:
        """One more host (a client machine, say) on the bridge."""
        index = len(self.hosts) if index is None else index
        namespace, outside, inside = (f"{self.prefix}-{name}", f"{self.prefix}-{index}",
                                      f"{self.prefix}-{index}i")
        _ip("netns", "add", namespace)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", outside, "master", self.bridge, "up")
        _ip("link", "set", inside, "netns", namespace)
        in_ns = ("-n", namespace)
        _ip(*in_ns, "link", "set", inside, "name", interface)
        _ip(*in_ns, "addr", "add", f"{address}/{self.network.prefixlen}", "dev", interface)
        _ip(*in_ns, "link", "set", interface, "up")
        _ip(*in_ns, "link", "set", "lo", "up")
        host = NamespaceHost(name, namespace, address, interface, outside)
        self.hosts[name] = host
        return host

    def attach_root(self, address: str) -> None:
        """Give this machine's own (root) namespace `address` on the bridge: the test
        process then reaches every host, and the virtual addresses, as a client would."""
        _ip("addr", "add", f"{address}/{self.network.prefixlen}", "dev", self.bridge)

    def cut(self, name: str) -> None:
        """Take the host off the network: its link to the bridge goes down (no FIN, no RST
        reaches the others: as a pulled cable or a dead machine)."""
        _ip("link", "set", self.hosts[name].bridge_link, "down")

    def reconnect(self, name: str) -> None:
        """The host back on the network as after a reboot: its interface holds only its own
        address again (a process killed with SIGKILL, keepalived say, leaves a virtual
        address it held on the interface, which a rebooted machine would not have)."""
        host = self.hosts[name]
        for address in host.addresses():
            if address != host.address:
                _ip("-n", host.namespace, "addr", "del",
                    f"{address}/32", "dev", host.interface)
        _ip("link", "set", host.bridge_link, "up")
        self.lost.discard(name)

    @property
    def live(self) -> dict[str, NamespaceHost]:
        return {name: host for name, host in self.hosts.items() if name not in self.lost}

    def lose(self, name: str, *, power_loss: bool = True) -> float:
        """A whole host lost. `power_loss`: its link cut first, then its processes killed, so
        the others hear nothing (no FIN, no RST) and detect the loss by their own timeouts.
        Otherwise (a host going down with its processes): every process killed first, so
        their peers see their connections closed, then the link cut. Returns the monotonic
        time the loss began."""
        at = time.monotonic()
        if power_loss:
            self.cut(name)
            self.hosts[name].kill_all()
        else:
            self.hosts[name].kill_all()
            self.cut(name)
        self.lost.add(name)
        return at

    def holders(self, address: str) -> list[str]:
        """The live hosts whose interface holds `address` now."""
        return [h.name for h in self.live.values() if address in h.addresses()]

    def close(self) -> None:
        for host in self.hosts.values():
            host.kill_all()
        self._remove_leftovers()
        self.hosts.clear()

    def _remove_leftovers(self) -> None:
        listed = subprocess.run([IP, "netns", "list"], capture_output=True, text=True).stdout
        for line in listed.splitlines():
            namespace = line.split()[0] if line.split() else ""
            if namespace.startswith(f"{self.prefix}-"):
                subprocess.run([IP, "netns", "del", namespace], capture_output=True)
        links = subprocess.run([IP, "-o", "link", "show"], capture_output=True, text=True).stdout
        for line in links.splitlines():
            link = line.split(":")[1].strip().split("@")[0]
            if link.startswith(f"{self.prefix}-"):
                subprocess.run([IP, "link", "del", link], capture_output=True)

    def __enter__(self) -> NamespaceHosts:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _ip(*args: str) -> None:
    result = subprocess.run([IP, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
