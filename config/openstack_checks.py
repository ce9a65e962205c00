"""Rules for the `openstack` keys that span several keys or the catalog."""

from __future__ import annotations

from config.addressing import API_ENDPOINT_MONITOR_PORT, PortClaim, usable_offsets
from config.catalog import load_catalog
from config.openstack_layout import (
    EPMD_PORT,
    MEMCACHED_PORT,
    RABBITMQ_DIST_PORT,
    RABBITMQ_PORT,
    ControlPlaneLayout,
    offsets_needed,
)
from config.problems import Problem, check_host_list
from config.settings import Settings
from config.virtual_address_checks import check_frontend_hosts


def check_openstack(settings: Settings) -> list[Problem]:
    known_hosts = {h.name for h in settings.hosts}
    problems = (_check_services(settings) + _check_placement(settings, known_hosts)
                + _check_controllers(settings, known_hosts))
    problems += check_frontend_hosts(settings, "openstack.api", settings.openstack.api.hosts)
    if not settings.multi_host and settings.openstack.services and not problems:
        subnet, needed = settings.network.subnet, offsets_needed(settings)
        if usable_offsets(settings) < needed:
            problems.append(Problem("network.subnet",
                                    f"{subnet} is too small for the enabled OpenStack services: "
                                    f"their catalog slots need {needed} addresses after the "
                                    f"network address, it has {usable_offsets(settings)}; use "
                                    "a larger subnet (a /24 holds slots 0-8)"))
    return problems


def _check_services(settings: Settings) -> list[Problem]:
    catalog = load_catalog()
    enabled = set(settings.openstack.services)
    problems = []
    for i, name in enumerate(settings.openstack.services):
        if name not in catalog.services:
            problems.append(Problem(f"openstack.services[{i}]",
                                    f"unknown service {name!r}; known: "
                                    f"{', '.join(catalog.services)}"))
            continue
        missing = [d for d in catalog.services[name].depends_on if d not in enabled]
        if missing:
            problems.append(Problem(f"openstack.services[{i}]",
                                    f"{name} needs {', '.join(missing)}: enable them too"))
    return problems


def _check_placement(settings: Settings, known_hosts: set[str]) -> list[Problem]:
    problems = []
    for name, hosts in settings.openstack.placement.items():
        key = f"openstack.placement.{name}"
        if name not in settings.openstack.services:
            problems.append(Problem(key, f"{name!r} is not in openstack.services"))
        problems += check_host_list(key, tuple(hosts), known_hosts, "one replica per host",
                                    left_out="")
        if not settings.multi_host and len(hosts) > 1:
            problems.append(Problem(key, "one host has one replica of each container"))
    return problems


def _check_controllers(settings: Settings, known_hosts: set[str]) -> list[Problem]:
    """`openstack.infrastructureHosts`: known, distinct hosts, one on a bridge network, and
    an odd count. A quorum queue (every service's, components/render/openstack.py) needs a
    majority of its members to accept a message, and `pause_minority` pauses the members of
    a partition that holds half or fewer: two members survive no loss (losing either stops
    every queue, and a partition pauses both), so they are worse than one; an even count
    above that tolerates no more losses than the odd count below it (4 as 3) and can split
    into halves that both pause. One member is allowed (no cluster); 3 survive one loss."""
    key = "openstack.infrastructureHosts"
    hosts = settings.openstack.infrastructure_hosts
    if hosts is None:
        return []
    problems = check_host_list(key, hosts, known_hosts,
                               "one RabbitMQ member and one memcached per host")
    if not hosts:
        return problems
    if not settings.multi_host and len(hosts) > 1:
        problems.append(Problem(key, "one host runs one RabbitMQ member and one memcached: "
                                "list it once"))
    elif len(hosts) % 2 == 0:
        problems.append(Problem(key, f"{len(hosts)} RabbitMQ members: use an odd count "
                                "(1, or 3 to survive the loss of one); quorum queues need a "
                                f"majority, so {len(hosts)} members survive no more losses "
                                f"than {len(hosts) - 1}" + (" (none)" if len(hosts) == 2 else "")
                                + ", and a partition into halves pauses both "
                                "(pause_minority)"))
    return problems


def openstack_ports(settings: Settings, layout: ControlPlaneLayout) -> list[PortClaim]:
    """Every port the control plane takes on a Docker host, with the key that placed it."""
    # The port itself is the catalog's (config/catalog.yaml), named in the owner.
    frontends = [PortClaim(api.host, port.port, f"openstack.api.hosts[{i}]",
                           f"{s.name} {name} API, catalog {s.name}.apis.{name}.port")
                 for i, api in enumerate(layout.api_endpoints)
                 for s in layout.services for name, port in s.spec.apis.items()]
    if layout.api_vip is not None:
        frontends += [PortClaim(m.host, API_ENDPOINT_MONITOR_PORT, "openstack.api.virtualAddress",
                                "the API HAProxy's monitor (keepalived's check)", fixed=True)
                      for m in layout.api_vip.members]
    if not settings.multi_host:
        return frontends if settings.openstack.api.publish else []
    key = "openstack.infrastructureHosts"
    out = [*frontends]
    for member in layout.rabbitmq:
        out += [PortClaim(member.host, port, key, f"{member.name} {what}") for port, what in (
            (RABBITMQ_PORT, "AMQP"), (RABBITMQ_DIST_PORT, "Erlang distribution"),
            (EPMD_PORT, "epmd"))]
    out += [PortClaim(m.host, MEMCACHED_PORT, key, m.name) for m in layout.memcached]
    for s in layout.services:
        out += [PortClaim(c.host, c.backend_port, f"openstack.placement.{s.name}", c.name)
                for c in s.containers if c.backend_port is not None]
    return out
