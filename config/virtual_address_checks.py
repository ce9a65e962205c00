"""Rules for the frontends' hosts and virtual addresses (the SQL endpoint, the API endpoint).

Each returns Problems naming the key path and the reason, before any resource exists."""

from __future__ import annotations

import ipaddress

from config.problems import Problem, check_host_list
from config.settings import Settings


def check_frontend_hosts(settings: Settings, prefix: str,
                         listed: tuple[str, ...] | None) -> list[Problem]:
    """`<prefix>.hosts`: known, distinct, not empty; several only with a virtual address."""
    if listed is None:
        return []
    return check_host_list(f"{prefix}.hosts", listed, {h.name for h in settings.hosts},
                           "one HAProxy per host")


def check_virtual_addresses(settings: Settings) -> list[Problem]:
    """Both frontends' virtual addresses against the hosts and each other.

    - several hosts for a frontend need its virtual address (clients need one address);
    - a virtual address needs several Docker hosts (host networking: keepalived adds it to a
      host's interface; on one host's bridge network there is nothing to move it to);
    - it is no host's own address, the two frontends' differ, as do their VRRP router ids
      (one router id per VRRP instance on a network segment);
    - every member host has an `interface` (where VRRP runs and the address is added)."""
    api = settings.openstack.api
    frontends = (("endpoint", settings.endpoint.hosts, settings.endpoint.virtual_address,
                  settings.endpoint.virtual_router_id),
                 ("openstack.api", api.hosts, api.virtual_address, api.virtual_router_id))
    problems: list[Problem] = []
    addresses = {h.address: h.name for h in settings.hosts if h.address is not None}
    seen_vips: dict[ipaddress.IPv4Address, str] = {}
    seen_ids: dict[int, str] = {}
    keepalived_for: dict[int, list[str]] = {}  # hosts[i] without interface -> frontends' keys
    for prefix, hosts, vip, router_id in frontends:
        key = f"{prefix}.virtualAddress"
        if vip is None:
            if hosts is not None and len(hosts) > 1:
                problems.append(Problem(key, f"required when {prefix}.hosts lists "
                                             f"{len(hosts)} hosts: clients need one address "
                                             "that keepalived moves to a live HAProxy"))
            continue
        if not settings.multi_host:
            problems.append(Problem(key, "only applies with several hosts (host networking); "
                                         "on one host clients use the HAProxy's own address: "
                                         "remove it"))
            continue
        if vip in addresses:
            problems.append(Problem(key, f"{vip} is the own address of host "
                                         f"{addresses[vip]!r}; a virtual address must be a "
                                         "free address of the hosts' network"))
        if (vip.is_multicast or vip.is_loopback or vip.is_unspecified or vip.is_link_local
                or vip.is_reserved):
            problems.append(Problem(key, f"{vip} cannot be a virtual address: it is a "
                                         "loopback, multicast, link-local, reserved or "
                                         "unspecified address; use a free unicast address of "
                                         "the hosts' network"))
        members = hosts or (settings.hosts[0].name,)
        if len(members) < 2:
            problems.append(Problem(key, f"{prefix}.hosts lists {len(members)} host: a virtual "
                                         "address moves between at least two; list two or "
                                         "more hosts, or remove virtualAddress"))
        if vip in seen_vips:
            problems.append(Problem(key, f"{vip} is also {seen_vips[vip]}: each frontend "
                                         "needs its own virtual address"))
        seen_vips.setdefault(vip, key)
        id_key = f"{prefix}.virtualRouterId"
        if router_id in seen_ids:
            problems.append(Problem(id_key, f"{router_id} is also {seen_ids[router_id]}: "
                                            "each VRRP instance needs its own router id"))
        seen_ids.setdefault(router_id, id_key)
        for name in hosts or (settings.hosts[0].name,):
            index = next((i for i, h in enumerate(settings.hosts) if h.name == name), None)
            if index is not None and settings.hosts[index].interface is None:
                keepalived_for.setdefault(index, []).append(key)
    for index, keys in keepalived_for.items():
        problems.append(Problem(f"hosts[{index}].interface",
                                f"required: {settings.hosts[index].name!r} runs keepalived for "
                                f"{' and '.join(keys)} (the network interface that carries "
                                "the host's address)"))
    return problems
