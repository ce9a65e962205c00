"""The `${name}` fields a catalog text may use, typed once: the catalog's checks, its header
and the renderer all read this class, so a new field is one line here.

Secret fields never enter a text that is shown (bootstrap lines, templates, health checks):
the renderer writes options that use them into the service's secret config file only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Annotated, NamedTuple, get_type_hints

# port_<api>: the backend port of each of the service's APIs (api_port is the one this
# container serves). Not a field: the names depend on the entry.
PORT_PREFIX = "port_"


class Doc(NamedTuple):
    text: str
    secret: bool = False


@dataclass(frozen=True)
class Placeholders:
    """The values of the catalog's fields for one container."""

    bind_host: Annotated[str, Doc("the container's own address, where it listens")]
    api_port: Annotated[str, Doc("the backend port of the API this container serves")]
    keystone_internal_url: Annotated[str, Doc("keystone's identity URL inside the cloud")]
    keystone_public_url: Annotated[str, Doc("keystone's identity URL as users reach it")]
    region: Annotated[str, Doc("openstack.region")]
    memcache_servers: Annotated[str, Doc("host:port of every memcached, comma separated")]
    public_host: Annotated[str, Doc("where users reach the APIs")]
    admin_user: Annotated[str, Doc("openstack.adminUser")]
    admin_project: Annotated[str, Doc("openstack.adminProject")]
    workers: Annotated[str, Doc("openstack.workers: processes of each OpenStack server")]
    database_port: Annotated[str, Doc("the SQL endpoint's port, as the services reach it")]
    transport_url: Annotated[str, Doc("RabbitMQ URL with its password", secret=True)]
    service_password: Annotated[str, Doc("the service's own keystone password", secret=True)]
    domain_admin_password: Annotated[
        str, Doc("the password of the admin of the service's keystone domain", secret=True)]

    def values(self, ports: dict[str, int]) -> dict[str, str]:
        """Every field by name, plus port_<api> for each API name -> backend port."""
        return {**asdict(self), **{PORT_PREFIX + api: str(p) for api, p in ports.items()}}


def _docs() -> dict[str, Doc]:
    hints = get_type_hints(Placeholders, include_extras=True)
    return {f.name: hints[f.name].__metadata__[0] for f in fields(Placeholders)}


DOCS: dict[str, Doc] = _docs()
PLACEHOLDERS: frozenset[str] = frozenset(DOCS)
SECRET_PLACEHOLDERS: frozenset[str] = frozenset(n for n, d in DOCS.items() if d.secret)


def is_known(name: str, api_names: frozenset[str] | set[str]) -> bool:
    return name in PLACEHOLDERS or (name.startswith(PORT_PREFIX)
                                    and name[len(PORT_PREFIX):] in api_names)


def placeholder_reference() -> list[str]:
    """One line per field, `name  what it holds` (secret fields say so): the list in the
    catalog's header, which a unit test keeps equal to this."""
    rows = [(n, d.text + (" (secret)" if d.secret else "")) for n, d in DOCS.items()]
    rows.append((PORT_PREFIX + "<api>", "the backend port of each of the service's APIs"))
    width = max(len(n) for n, _ in rows)
    return [f"{n:<{width}}  {text}" for n, text in rows]
