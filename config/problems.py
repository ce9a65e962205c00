"""One thing wrong with the stack config, by key path."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    path: str  # camelCase key path below `openstack-ndb:`, e.g. dataNodes.hosts[1]
    message: str


def unknown_host(name: str, known: set[str]) -> str:
    return f"unknown host {name!r}; hosts are: {', '.join(sorted(known))}"
