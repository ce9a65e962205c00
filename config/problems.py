"""One thing wrong with the stack config, by key path."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    path: str  # camelCase key path below `openstack-ndb:`, e.g. dataNodes.hosts[1]
    message: str


def check_host_list(key: str, listed: tuple[str, ...], known: set[str],
                    one_per_host: str, left_out: str = ": the first host") -> list[Problem]:
    """A list of host names at `key`: not empty, every name known and listed once.
    `one_per_host` says what a host runs one of, for the message on a repeat; `left_out`
    what leaving the key out means, for the message on an empty list."""
    if not listed:
        return [Problem(key, f"must name at least one host (or be left out{left_out})")]
    problems = []
    for i, name in enumerate(listed):
        if name not in known:
            problems.append(Problem(f"{key}[{i}]", unknown_host(name, known)))
        elif name in listed[:i]:
            problems.append(Problem(f"{key}[{i}]",
                                    f"host {name!r} is listed twice: {one_per_host}"))
    return problems


def unknown_host(name: str, known: set[str]) -> str:
    return f"unknown host {name!r}; hosts are: {', '.join(sorted(known))}"
