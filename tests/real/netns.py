"""Hosts of their own on one machine for the RabbitMQ cluster test: testbed/hosts.py's
namespaces (a namespace per host with its rendered address on `eth0`, all on one bridge), seen
through the few calls that test makes."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from testbed.hosts import NamespaceHosts


class Lan:
    """Namespaces by host name, on one bridge."""

    def __init__(self, hosts: NamespaceHosts):
        self._hosts = hosts
        self.namespaces = {name: host.namespace for name, host in hosts.hosts.items()}

    def run(self, host: str, argv: list[str]) -> list[str]:
        """`argv` run inside `host`'s network namespace."""
        return self._hosts.hosts[host].command(argv)

    def cut(self, host: str) -> None:
        """Take `host`'s link down: no packet in or out, no reset sent to anyone."""
        self._hosts.cut(host)

    def mend(self, host: str) -> None:
        self._hosts.reconnect(host)


@contextmanager
def lan(addresses: Mapping[str, str], prefix: int = 24) -> Iterator[Lan]:
    """A namespace per host of `addresses` (host -> IPv4 address), `eth0` at the address,
    all bridged; every namespace and link removed afterwards."""
    first = next(iter(addresses.values()))
    with NamespaceHosts({h: (a, "eth0") for h, a in addresses.items()},
                        network=f"{first}/{prefix}", prefix=f"osr{os.getpid() % 10000}") as hosts:
        yield Lan(hosts)
