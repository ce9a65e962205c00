"""The config files of an OpenStack service's containers, from the settings and the catalog.

Pure functions: the secrets come in as plain strings (the component resolves them from
Pulumi outputs, which stay secret) and text comes out. What every service shares - the
database connection through the SQL pool endpoint, keystone_authtoken, transport_url, cache -
is written here once from the catalog's flags; each entry adds its own sections.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote

from components.render.ndb import HEADER, SERVICE_SQL_MODE
from config.catalog import ConfigFile, Container, DatabaseRef, Service
from config.openstack_layout import (
    RABBITMQ_PORT,
    RABBITMQ_USER,
    RABBITMQ_VHOST,
    ControlPlaneLayout,
    Placed,
    ServiceContainer,
)
from config.settings import Settings
from config.topology import Topology

SERVICE_PROJECT = "service"
DOMAIN = "Default"
# oslo.db's own MySQL driver; charset=utf8 is what Kolla-Ansible and the services' docs use.
DB_DRIVER = "mysql+pymysql"
# Groups that oslo.db registers with mysql_sql_mode (placement's own group does not have it).
_SQL_MODE_GROUPS = frozenset({"database", "api_database"})


@dataclass(frozen=True)
class ServiceSecrets:
    database_password: str = ""
    keystone_password: str = ""  # the service's own keystone user
    rabbitmq_password: str = ""
    admin_password: str = ""  # keystone's bootstrap only
    domain_admin_password: str = ""  # the admin of the service's own domain (heat)


def database_url(topology: Topology, service: Service, ref: DatabaseRef, password: str) -> str:
    """Through the SQL pool endpoint (HAProxy), never one SQL node."""
    endpoint = topology.endpoint
    return (f"{DB_DRIVER}://{service.db_user}:{quote(password, safe='')}@"
            f"{endpoint.address}:{endpoint.port}/{ref.database}?charset=utf8")


def placeholders(settings: Settings, layout: ControlPlaneLayout, service: Service,
                 where: Placed, secrets: ServiceSecrets) -> dict[str, str]:
    """The values of the catalog's ${name} fields for one container."""
    api_port = where.backend_port if isinstance(where, ServiceContainer) else None
    if api_port is None and service.apis:
        api_port = next(iter(service.apis.values())).backend_port
    keystone_path = "/v3"
    return {
        "bind_host": where.address,
        "api_port": str(api_port or ""),
        "keystone_internal_url": layout.internal_url("keystone", "public") + keystone_path,
        "keystone_public_url": layout.public_url("keystone", "public") + keystone_path,
        "region": settings.openstack.region,
        "memcache_servers": layout.memcache_servers,
        "transport_url": transport_url(layout, secrets.rabbitmq_password),
        "service_password": secrets.keystone_password,
        "public_host": layout.public_host,
        "admin_user": settings.openstack.admin_user,
        "admin_project": settings.openstack.admin_project,
        "domain_admin_password": secrets.domain_admin_password,
        **{f"port_{name}": str(api.backend_port) for name, api in service.apis.items()},
    }


def transport_url(layout: ControlPlaneLayout, password: str) -> str:
    return (f"rabbit://{RABBITMQ_USER}:{quote(password, safe='')}@{layout.rabbitmq.address}:"
            f"{RABBITMQ_PORT}/{RABBITMQ_VHOST}")


def standard_sections(topology: Topology, layout: ControlPlaneLayout, service: Service,
                      values: Mapping[str, str], secrets: ServiceSecrets
                      ) -> dict[str, dict[str, str]]:
    """The sections every service writes the same way, chosen by the catalog's flags."""
    out: dict[str, dict[str, str]] = {"DEFAULT": {"use_stderr": "true"}}  # docker logs
    for ref in service.database_refs:
        section = {"connection": database_url(topology, service, ref,
                                              secrets.database_password)}
        if ref.section in _SQL_MODE_GROUPS:
            # oslo.db's default mode (TRADITIONAL) includes NO_ENGINE_SUBSTITUTION, which turns
            # the SQL nodes' InnoDB -> NDBCLUSTER substitution into error 3161.
            section["mysql_sql_mode"] = SERVICE_SQL_MODE
        out[ref.section] = section
    if service.messaging:
        out["DEFAULT"]["transport_url"] = values["transport_url"]
    if service.cache:
        out["cache"] = {"backend": "oslo_cache.memcache_pool", "enabled": "true",
                        "memcache_servers": values["memcache_servers"]}

    def credentials() -> dict[str, str]:
        return {"auth_type": "password", "auth_url": values["keystone_internal_url"],
                "project_domain_name": DOMAIN, "user_domain_name": DOMAIN,
                "project_name": SERVICE_PROJECT, "username": service.name,
                "password": secrets.keystone_password, "region_name": values["region"]}

    if service.authtoken:
        out["keystone_authtoken"] = {
            "www_authenticate_uri": values["keystone_public_url"],
            "memcached_servers": values["memcache_servers"],
            "service_token_roles_required": "true",
            **credentials(),
        }
    for flag, client in ((service.placement_client, "placement"),
                         (service.nova_client, "nova"), (service.neutron_client, "neutron")):
        if flag:
            out[client] = {**credentials(), "valid_interfaces": "internal"}
    return out


def render_ini(sections: Mapping[str, Mapping[str, object]]) -> str:
    lines = [HEADER.rstrip("\n")]
    for name, options in sections.items():
        lines.append(f"\n[{name}]")
        lines += [f"{key} = {_ini_value(value)}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


def _ini_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _merged(*layers: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for layer in layers:
        for section, options in layer.items():
            out.setdefault(section, {}).update(options)
    return out


def render_config_file(file: ConfigFile, values: Mapping[str, str],
                       standard: Mapping[str, Mapping[str, str]] | None) -> str:
    """One file: INI sections (standard ones first, if this is the service's main file) or a
    text template; ${name} fields filled from `values`."""
    if file.template is not None:
        return string.Template(file.template).substitute(values)
    assert file.sections is not None
    own = {section: {key: string.Template(str(v)).substitute(values)
                     if isinstance(v, str) else _ini_value(v) for key, v in options.items()}
           for section, options in file.sections.items()}
    return render_ini(_merged(standard or {}, own))


def render_service_files(settings: Settings, topology: Topology, layout: ControlPlaneLayout,
                         service: Service, *, where: Placed, secrets: ServiceSecrets
                         ) -> dict[str, str]:
    """Every config file of one container of `service`, by its name in `file_dests`. The
    first INI file is the service's main file and carries the standard sections."""
    values = placeholders(settings, layout, service, where, secrets)
    standard = standard_sections(topology, layout, service, values, secrets)
    out = {}
    main = next((n for n, f in service.config_files.items() if f.sections is not None), None)
    for name, file in service.config_files.items():
        out[name] = render_config_file(file, values, standard if name == main else None)
    uwsgi = _uwsgi(service, where)
    if uwsgi is not None:
        name, container = uwsgi
        out[name] = render_uwsgi_ini(container, values)
    return out


def _uwsgi(service: Service, where: Placed) -> tuple[str, Container] | None:
    """(the uWSGI ini's file name, the container) when `where` serves a WSGI module."""
    if not isinstance(where, ServiceContainer):
        return None
    spec = service.containers[where.role]
    return (f"uwsgi-{where.role}.ini", spec) if spec.wsgi is not None else None


def file_dests(service: Service, where: Placed) -> dict[str, str]:
    """File name -> where kolla_start puts it, for every file of one container."""
    out = {name: f.dest for name, f in service.config_files.items()}
    uwsgi = _uwsgi(service, where)
    if uwsgi is not None:
        out[uwsgi[0]] = f"{config_dir(service)}/{uwsgi[0]}"
    return out


def container_command(service: Service, where: ServiceContainer) -> str:
    """What kolla_start runs: the catalog's command, or uWSGI with the rendered ini."""
    uwsgi = _uwsgi(service, where)
    if uwsgi is not None:
        return f"uwsgi --ini {config_dir(service)}/{uwsgi[0]}"
    command = service.containers[where.role].command
    assert command is not None  # the catalog gives a command or a wsgi module
    return command


def render_healthcheck(settings: Settings, layout: ControlPlaneLayout, service: Service,
                       where: ServiceContainer) -> list[str]:
    """The container's Docker health check: the catalog's Kolla script, at its address."""
    values = placeholders(settings, layout, service, where, ServiceSecrets())
    spec = service.containers[where.role]
    return ["CMD", *(string.Template(part).substitute(values) for part in spec.healthcheck)]


def render_uwsgi_ini(container: Container, values: Mapping[str, str]) -> str:
    """uWSGI serving the service's WSGI module at the container's API backend port: one
    master, a few workers, each loading the app itself (lazy-apps: no sockets or DB
    connections shared across fork)."""
    env = "".join(f"env = {k}={v}\n" for k, v in container.env.items())
    return f"""{HEADER}[uwsgi]
http-socket = {values["bind_host"]}:{values["api_port"]}
module = {container.wsgi}
master = true
processes = 2
threads = 2
enable-threads = true
lazy-apps = true
need-app = true
die-on-term = true
buffer-size = 65535
add-header = Connection: close
{env}"""


def config_dir(service: Service) -> str:
    first = next(iter(service.config_files.values()))
    return str(PurePosixPath(first.dest).parent)


def secret_dest(service: Service, name: str) -> str:
    """Where a secret file lands in the container: beside the service's main config file."""
    return f"{config_dir(service)}/{name}"


def fernet_key(random_base64: str) -> str:
    """A Fernet key from 32 random bytes given in standard base64 (pulumi-random's
    RandomBytes.base64): Fernet wants the URL-safe alphabet."""
    return random_base64.replace("+", "-").replace("/", "_")
