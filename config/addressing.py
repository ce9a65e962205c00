"""One address plan for every container of a stack, and one rule for what a process binds.

On a bridge network (one host) each container has its own static address at a fixed offset
in `network.subnet`, by kind, so that growing one kind never moves another kind's containers
(an address change replaces a container):

    .2-.3     management nodes          .194   RabbitMQ
    .4        the SQL endpoint (HAProxy) .195  memcached
    .10-.49   SQL nodes                 .196   the API endpoint (HAProxy)
    .50-.193  data nodes                .197+  OpenStack services: `SERVICE_BLOCK` addresses
                                               per catalog `slot` (its bootstrap, then its
                                               containers)

With host networking (several hosts) a container listens on its host's address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from config.settings import MAX_DATA_NODES, Settings

NetworkMode = Literal["bridge", "host"]


@dataclass(frozen=True)
class Block:
    """Offsets `first` .. `first + size - 1` of the subnet."""

    first: int
    size: int

    def offset(self, index: int) -> int:
        if not 0 <= index < self.size:
            raise IndexError(f"index {index} outside a block of {self.size}")
        return self.first + index

    @property
    def last(self) -> int:
        return self.first + self.size - 1


MANAGEMENT = Block(2, 2)
SQL_ENDPOINT = Block(4, 1)
MONITORING = Block(5, 3)  # Prometheus, Grafana, the ndbinfo exporter (config/monitoring.py)
SQL_NODES = Block(10, 40)
DATA_NODES = Block(50, MAX_DATA_NODES)
RABBITMQ = Block(194, 1)
MEMCACHED = Block(195, 1)
API_ENDPOINT = Block(196, 1)
SERVICES_FIRST = 197
SERVICE_BLOCK = 6  # per catalog slot: its bootstrap container, then up to five containers


# Each HAProxy answers `GET /` with 200 on the host's loopback at its monitor port
# (`monitor-uri /`), which keepalived's check asks. Kolla-Ansible's haproxy_monitor_port is
# 61313 (ansible/group_vars/all/haproxy.yml); the SQL and API HAProxies of one host each
# need their own.
MONITOR_ADDRESS = "127.0.0.1"
SQL_ENDPOINT_MONITOR_PORT = 61313
API_ENDPOINT_MONITOR_PORT = 61314


def service_block(slot: int) -> Block:
    """The addresses of the catalog entry in `slot` (config/catalog.yaml)."""
    return Block(SERVICES_FIRST + SERVICE_BLOCK * slot, SERVICE_BLOCK)


def usable_offsets(settings: Settings) -> int:
    """The highest offset a host may take in the subnet (network and broadcast excluded)."""
    return int(settings.network.subnet.num_addresses) - 2


def container_address(settings: Settings, host: str, offset: int) -> str:
    """Where a container is reached: its own bridge address, or its host's address."""
    if settings.multi_host:
        return str(settings.host(host).address)
    return str(settings.network.subnet.network_address + offset)


def bind_address(network_mode: NetworkMode, address: str) -> str:
    """What a server in a container binds: every interface of its own network namespace on
    a bridge network (its address is the container's), only its address with host networking
    (the host's other services share the ports)."""
    return "0.0.0.0" if network_mode == "bridge" else address


class PortClaim(NamedTuple):
    """A port something takes on a Docker host, and the config key that put it there."""

    host: str
    port: int
    key: str  # camelCase key path below openstack-ndb:, e.g. management.publishPort
    owner: str  # what takes it, for the message: "ndb-mgmd-1", "nova api API"
    # A port no key sets (HAProxy's monitor ports): a clash is the other claim's to move.
    fixed: bool = False

    def __str__(self) -> str:
        return f"{self.key} ({self.owner})"


class Endpoint(NamedTuple):
    """host:port as a value, never a string to split."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"
