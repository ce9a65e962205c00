"""Where every OpenStack container lives: host, address, ports and names.

A pure function of the settings and the catalog, like `config/topology.py` for NDB. On a
bridge network (one host) each container has its own address (config/addressing.py):
RabbitMQ, memcached and the API HAProxy at fixed offsets, then one block per catalog `slot`,
so enabling, disabling or adding a service never moves another service's containers (an
address change replaces a container). With host networking (several hosts) a container
listens on its host's address at its catalog ports; the catalog's ports are distinct, so
services can share a host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from config.addressing import (
    API_ENDPOINT,
    API_ENDPOINT_MONITOR_PORT,
    MEMCACHED,
    RABBITMQ,
    Endpoint,
    NetworkMode,
    container_address,
    service_block,
)
from config.catalog import Catalog, Service, load_catalog
from config.settings import Settings
from config.topology import build_topology
from config.virtual_addresses import VirtualAddress, build_virtual_address, frontend_hosts

RABBITMQ_PORT, MEMCACHED_PORT = 5672, 11211
# Erlang distribution between RabbitMQ members: epmd's port, and the inter-node port RabbitMQ
# takes by default (its AMQP port + 20000), both taken on every member's host.
EPMD_PORT, RABBITMQ_DIST_PORT = 4369, RABBITMQ_PORT + 20000
RABBITMQ_USER, RABBITMQ_VHOST = "openstack", "openstack"
Interface = Literal["public", "internal"]


@dataclass(frozen=True)
class Placed:
    """One container of the control plane."""

    name: str  # unique in the stack: nova-conductor-1 (HAProxy server names, resource names)
    container_name: str  # Docker container name and hostname
    host: str
    address: str  # where it listens and where the others reach it


@dataclass(frozen=True)
class ServiceContainer(Placed):
    service: str
    role: str  # the catalog's container name: api, conductor, ...
    replica: int  # 0.. over the service's hosts
    api: str | None
    backend_port: int | None


@dataclass(frozen=True)
class ServiceLayout:
    spec: Service
    hosts: tuple[str, ...]
    bootstrap: Placed | None
    containers: tuple[ServiceContainer, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    def serving(self, api: str) -> tuple[ServiceContainer, ...]:
        return tuple(c for c in self.containers if c.api == api)


@dataclass(frozen=True)
class ControlPlaneLayout:
    network_mode: NetworkMode
    services: tuple[ServiceLayout, ...]  # in deployment order (dependencies first)
    identity: str | None  # the enabled identity service's name (keystone), if any
    rabbitmq: tuple[Placed, ...]  # the members of one RabbitMQ cluster, one per controller
    memcached: tuple[Placed, ...]  # one memcached per controller
    api_endpoints: tuple[Placed, ...]  # the API HAProxy instances, one per listed host
    api_address: str  # where the services reach the APIs: the virtual address, or the one
    #                   HAProxy's own address (its bridge address on one host)
    public_host: str  # where users reach the APIs: the virtual address or the API host's
    sql_endpoint: Endpoint  # the NDB cluster's SQL endpoint (HAProxy), every database's
    api_vip: VirtualAddress | None = None  # keepalived's address in front of api_endpoints
    # Where each API HAProxy serves its metrics (monitoring.haproxyMetricsPort + 1), or None
    # without monitoring (config/monitoring.py).
    api_metrics_port: int | None = None

    def service(self, name: str) -> ServiceLayout:
        return next(s for s in self.services if s.name == name)

    @property
    def enabled(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.services)

    def url(self, service: str, api: str, interface: Interface) -> str:
        """An API's base URL: through the API endpoint inside the cloud, or as users reach
        it (the endpoint's published address)."""
        port = self.service(service).spec.apis[api].port
        host = self.public_host if interface == "public" else self.api_address
        return f"http://{host}:{port}"

    def internal_url(self, service: str, api: str) -> str:
        return self.url(service, api, "internal")

    def public_url(self, service: str, api: str) -> str:
        return self.url(service, api, "public")

    def registered_url(self, service: str, interface: Interface) -> str:
        """The URL a service registers in keystone: its API's URL and the catalog's path."""
        spec = self.service(service).spec
        assert spec.keystone is not None, f"{service} registers no endpoint"
        return self.url(service, spec.keystone.api, interface) + spec.keystone.path

    def identity_url(self, interface: Interface) -> str:
        """keystone's identity URL (e.g. http://host:5000/v3); empty without keystone."""
        return "" if self.identity is None else self.registered_url(self.identity, interface)

    @property
    def rabbitmq_endpoints(self) -> tuple[Endpoint, ...]:
        """Every RabbitMQ member's AMQP address, in member order."""
        return tuple(Endpoint(m.address, RABBITMQ_PORT) for m in self.rabbitmq)

    @property
    def rabbitmq_clustered(self) -> bool:
        """Several members: they form one cluster (peer discovery, partition handling)."""
        return len(self.rabbitmq) > 1

    def rabbitmq_node(self, member: Placed) -> str:
        """A member's Erlang node name, rabbit@<its container name> (a short name: the
        members reach each other by the /etc/hosts entries of `rabbitmq_hosts`)."""
        return f"rabbit@{member.container_name}"

    @property
    def rabbitmq_hosts(self) -> dict[str, str]:
        """/etc/hosts entries of every member: container name -> address. With host
        networking a container's hostname is its host's, so the node names' host parts are
        made to resolve to the members' addresses here, on every member."""
        return {m.container_name: m.address for m in self.rabbitmq}

    @property
    def memcache_servers(self) -> str:
        """host:port of every memcached, comma separated (oslo.cache's memcache_servers and
        keystonemiddleware's memcached_servers, as Kolla-Ansible lists them)."""
        return ",".join(f"{m.address}:{MEMCACHED_PORT}" for m in self.memcached)


def build_layout(settings: Settings, catalog: Catalog | None = None) -> ControlPlaneLayout:
    catalog = catalog or load_catalog()
    os_s = settings.openstack
    first = settings.hosts[0].name

    def placed(name: str, host: str, offset: int) -> Placed:
        return Placed(name, f"{settings.name_prefix}-{name}", host,
                      container_address(settings, host, offset))

    controllers = os_s.infrastructure_hosts or (first,)
    api_hosts = frontend_hosts(settings, os_s.api.hosts)
    services = []
    for service in catalog.ordered(tuple(os_s.services)):
        hosts = os_s.placement.get(service.name) or (first,)
        block = service_block(service.slot)
        bootstrap = (placed(f"{service.name}-bootstrap", hosts[0], block.offset(0))
                     if service.bootstrap is not None else None)
        containers = []
        for replica, host in enumerate(hosts):
            for index, (role, spec) in enumerate(service.containers.items(), start=1):
                p = placed(f"{service.name}-{role}-{replica + 1}", host, block.offset(index))
                containers.append(ServiceContainer(
                    p.name, p.container_name, p.host, p.address, service=service.name,
                    role=role, replica=replica, api=spec.api,
                    backend_port=service.apis[spec.api].backend_port if spec.api else None,
                ))
        services.append(ServiceLayout(service, tuple(hosts), bootstrap, tuple(containers)))
    identity = catalog.identity.name
    api_endpoints = tuple(placed(f"openstack-api-{i + 1}", host, API_ENDPOINT.first)
                          for i, host in enumerate(api_hosts))
    vip = build_virtual_address(settings, "openstack-api", api_hosts, os_s.api.virtual_address,
                                os_s.api.virtual_router_id, "openstack.api.virtualAddress",
                                API_ENDPOINT_MONITOR_PORT)
    host_address = settings.host(api_hosts[0]).address
    public = vip.address if vip else str(host_address) if host_address else "127.0.0.1"
    return ControlPlaneLayout(
        network_mode=settings.network_mode,
        services=tuple(services),
        identity=identity if identity in os_s.services else None,
        rabbitmq=tuple(placed(f"rabbitmq-{i}", host, RABBITMQ.first)
                       for i, host in enumerate(controllers, start=1)),
        memcached=tuple(placed(f"memcached-{i}", host, MEMCACHED.first)
                        for i, host in enumerate(controllers, start=1)),
        api_endpoints=api_endpoints,
        api_address=vip.address if vip else api_endpoints[0].address,
        public_host=public,
        api_vip=vip,
        sql_endpoint=build_topology(settings).client_endpoint,
        api_metrics_port=(settings.monitoring.haproxy_metrics_port + 1
                          if settings.monitoring.enabled else None),
    )


def offsets_needed(settings: Settings, catalog: Catalog | None = None) -> int:
    """The highest bridge offset the enabled services use (the subnet must hold it)."""
    catalog = catalog or load_catalog()
    slots = [catalog.services[n].slot for n in settings.openstack.services
             if n in catalog.services]
    return service_block(max(slots)).last if slots else API_ENDPOINT.last
