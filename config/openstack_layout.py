"""Where every OpenStack container lives: host, address, ports and names.

A pure function of the settings and the catalog, like `config/topology.py` for NDB. On a
bridge network (one host) each container has its own address: RabbitMQ, memcached and the API
HAProxy at fixed offsets, then one block of `BLOCK` addresses per catalog entry, by catalog
position, so enabling or disabling a service never moves another service's containers (an
address change replaces a container). With host networking (several hosts) a container
listens on its host's address at its catalog ports; the catalog's ports are distinct, so
services can share a host.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.catalog import Catalog, Service, load_catalog
from config.settings import Settings
from config.topology import bridge_address

RABBITMQ_OFFSET, MEMCACHED_OFFSET, API_ENDPOINT_OFFSET = 194, 195, 196
SERVICES_OFFSET = 197
BLOCK = 6  # per catalog entry: its bootstrap container, then up to five containers
RABBITMQ_PORT, MEMCACHED_PORT = 5672, 11211
RABBITMQ_USER, RABBITMQ_VHOST = "openstack", "openstack"


@dataclass(frozen=True)
class Placed:
    """One container of the control plane."""

    name: str  # Pulumi resource name, unique in the stack: nova-conductor-1
    container_name: str
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
    service: Service
    hosts: tuple[str, ...]
    bootstrap: Placed | None
    containers: tuple[ServiceContainer, ...]

    def serving(self, api: str) -> tuple[ServiceContainer, ...]:
        return tuple(c for c in self.containers if c.api == api)


@dataclass(frozen=True)
class ControlPlaneLayout:
    network_mode: str
    services: tuple[ServiceLayout, ...]  # in deployment order (dependencies first)
    rabbitmq: Placed
    memcached: Placed
    api_endpoint: Placed
    public_host: str  # where users reach the APIs: the API host's address

    def service(self, name: str) -> ServiceLayout:
        return next(s for s in self.services if s.service.name == name)

    @property
    def enabled(self) -> tuple[str, ...]:
        return tuple(s.service.name for s in self.services)

    def internal_url(self, service: str, api: str) -> str:
        port = self.service(service).service.apis[api].port
        return f"http://{self.api_endpoint.address}:{port}"

    def public_url(self, service: str, api: str) -> str:
        port = self.service(service).service.apis[api].port
        return f"http://{self.public_host}:{port}"

    @property
    def transport_url(self) -> str:
        """Without the password: the renderer adds it (it is a secret)."""
        return f"rabbit://{RABBITMQ_USER}@{self.rabbitmq.address}:{RABBITMQ_PORT}/{RABBITMQ_VHOST}"

    @property
    def memcache_servers(self) -> str:
        return f"{self.memcached.address}:{MEMCACHED_PORT}"


def build_layout(settings: Settings, catalog: Catalog | None = None) -> ControlPlaneLayout:
    catalog = catalog or load_catalog()
    os_s = settings.openstack
    first = settings.hosts[0].name
    host_mode = settings.multi_host
    positions = {name: i for i, name in enumerate(catalog.services)}

    def address(host: str, offset: int) -> str:
        if host_mode:
            return str(settings.host(host).address)
        return bridge_address(settings, offset)

    def placed(name: str, host: str, offset: int) -> Placed:
        return Placed(name, f"{settings.name_prefix}-{name}", host, address(host, offset))

    infra_host = os_s.infrastructure_host or first
    api_host = os_s.api.host or first
    services = []
    for service in catalog.ordered(tuple(os_s.services)):
        hosts = os_s.placement.get(service.name) or (first,)
        base = SERVICES_OFFSET + BLOCK * positions[service.name]
        bootstrap = (placed(f"{service.name}-bootstrap", hosts[0], base)
                     if service.bootstrap is not None else None)
        containers = []
        for replica, host in enumerate(hosts):
            for slot, (role, spec) in enumerate(service.containers.items(), start=1):
                p = placed(f"{service.name}-{role}-{replica + 1}", host, base + slot)
                containers.append(ServiceContainer(
                    p.name, p.container_name, p.host, p.address, service=service.name,
                    role=role, replica=replica, api=spec.api,
                    backend_port=service.apis[spec.api].backend_port if spec.api else None,
                ))
        services.append(ServiceLayout(service, tuple(hosts), bootstrap, tuple(containers)))
    api = placed("openstack-api", api_host, API_ENDPOINT_OFFSET)
    api_address = settings.host(api_host).address
    return ControlPlaneLayout(
        network_mode="host" if host_mode else "bridge",
        services=tuple(services),
        rabbitmq=placed("rabbitmq", infra_host, RABBITMQ_OFFSET),
        memcached=placed("memcached", infra_host, MEMCACHED_OFFSET),
        api_endpoint=api,
        public_host=str(api_address) if api_address is not None else "127.0.0.1",
    )


def offsets_needed(catalog: Catalog | None = None) -> int:
    """The highest bridge offset the control plane can use (the subnet must hold it)."""
    catalog = catalog or load_catalog()
    return SERVICES_OFFSET + BLOCK * len(catalog.services) - 1
