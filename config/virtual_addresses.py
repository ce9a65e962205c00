"""The virtual addresses keepalived holds in front of a frontend's HAProxy instances.

A frontend (the SQL endpoint, the API endpoint) with `virtualAddress` set runs one HAProxy on
each of its hosts and one keepalived beside each: the VRRP instance of every host sends its
advertisements to the others (unicast, from the host's address, on the host's `interface`);
the live member with the highest priority holds the virtual address and the others take it
over when its advertisements stop (3 x advert_int plus a skew, about 3 s) or its check of the
local HAProxy fails. Kolla-Ansible's loadbalancer role is the model
(ansible/roles/loadbalancer/templates/keepalived/keepalived.conf.j2, docs/high-availability.md).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from config.settings import Settings

# The preferred holder is the first host listed; every member starts as BACKUP with
# `nopreempt` (Kolla-Ansible), so a member coming back does not take the address away again.
# High priorities: a backup waits 3 advertisement intervals plus (256 - priority) / 256 s
# before it takes over (RFC 3768 Skew_Time), 0.02 s at 251 where Kolla-Ansible's 1..N wait up
# to a second more (measured here: 3.5 s with 99, the first backup of 100, 99, 98).
TOP_PRIORITY = 254


@dataclass(frozen=True)
class VrrpMember:
    """One host's keepalived in a VRRP instance."""

    host: str  # DockerHost.name
    address: str  # the host's address: the unicast source the other members accept
    interface: str  # where VRRP runs and the virtual address is added
    priority: int  # 1..254, higher wins an election


@dataclass(frozen=True)
class VirtualAddress:
    """A virtual IPv4 address, its VRRP instance and the members that may hold it."""

    frontend: str  # "ndb-endpoint", "openstack-api": names the instance and the containers
    address: str
    router_id: int  # VRRP virtual_router_id, unique per network segment
    key: str  # the config key that set it, for messages: "endpoint.virtualAddress"
    members: tuple[VrrpMember, ...]
    monitor_port: int  # the HAProxy's monitor URI port that each member checks on its host

    def member(self, host: str) -> VrrpMember:
        return next(m for m in self.members if m.host == host)

    def peers(self, host: str) -> tuple[str, ...]:
        """The other members' addresses, where `host` sends its advertisements."""
        return tuple(m.address for m in self.members if m.host != host)


def frontend_hosts(settings: Settings, listed: tuple[str, ...] | None) -> tuple[str, ...]:
    """The hosts that run a frontend's HAProxy: those listed, or the first host."""
    return listed if listed else (settings.hosts[0].name,)


def build_virtual_address(settings: Settings, frontend: str, hosts: tuple[str, ...],  # noqa: PLR0917
                          address: ipaddress.IPv4Address | None, router_id: int,
                          key: str, monitor_port: int) -> VirtualAddress | None:
    """The frontend's virtual address with one member per host (priority by list order), or
    None when it has none. Assumes settings already checked (config/checks.py): every
    member's host has an address and an interface."""
    if address is None:
        return None
    members = tuple(
        VrrpMember(host=name, address=str(settings.host(name).address),
                   interface=str(settings.host(name).interface), priority=TOP_PRIORITY - i)
        for i, name in enumerate(hosts)
    )
    return VirtualAddress(frontend, str(address), router_id, key, members, monitor_port)
