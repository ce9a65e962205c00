"""Hosts of their own on one machine: a network namespace per host, each with its address on
a veth into one bridge, which lives in a namespace of its own too. Nothing is added to the
machine's own network (no address, route or link), so the rendered prod addresses are used
as they are and no other test's network can clash with them. Needs root and iproute2.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass

_COUNTER = itertools.count()


def ip(*args: str) -> None:
    """`ip` with `args`; raises AssertionError with its output when it fails."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"ip {' '.join(args)}: {done.stderr.strip()}"


@dataclass(frozen=True)
class Lan:
    """Namespaces by host name, on one bridge."""

    namespaces: dict[str, str]  # host -> netns name
    switch: str  # the bridge's netns

    def run(self, host: str, argv: list[str]) -> list[str]:
        """`argv` run inside `host`'s network namespace."""
        return ["ip", "netns", "exec", self.namespaces[host], *argv]

    def cut(self, host: str) -> None:
        """Take `host`'s link down: no packet in or out, no reset sent to anyone."""
        ip("-n", self.namespaces[host], "link", "set", "eth0", "down")

    def mend(self, host: str) -> None:
        ip("-n", self.namespaces[host], "link", "set", "eth0", "up")


@contextmanager
def lan(addresses: Mapping[str, str], prefix: int = 24) -> Iterator[Lan]:
    """A namespace per host of `addresses` (host -> IPv4 address) with loopback up and
    `eth0` at the address, all bridged; every namespace deleted afterwards (kill the
    processes inside first: a process keeps its namespace alive)."""
    tag = f"osr{os.getpid() % 100000}x{next(_COUNTER)}"
    switch = f"{tag}-sw"
    made = [switch]
    ip("netns", "add", switch)
    try:
        ip("-n", switch, "link", "add", "br0", "type", "bridge")
        ip("-n", switch, "link", "set", "br0", "up")
        namespaces = {}
        for i, (host, address) in enumerate(addresses.items()):
            ns = f"{tag}-{i}"
            ip("netns", "add", ns)
            made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", switch, "link", "add", f"p{i}", "type", "veth", "peer", "name", "eth0",
               "netns", ns)
            ip("-n", switch, "link", "set", f"p{i}", "master", "br0", "up")
            ip("-n", ns, "addr", "add", f"{address}/{prefix}", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            namespaces[host] = ns
        yield Lan(namespaces, switch)
    finally:
        for ns in reversed(made):
            with suppress(AssertionError):
                ip("netns", "del", ns)
