"""The config files of an OpenStack service's containers, from the settings and the catalog.

Pure functions. What every service shares - the database connection through the SQL pool
endpoint, keystone_authtoken, transport_url, cache, client credentials - is written here once
from the catalog's flags; each entry adds its own sections.

Every option is either plain or secret. Plain options go to the files the catalog names and
are rendered without any secret at all, so those files are plain text that `pulumi preview
--diff` shows. Secret options (a password, a URL that carries one, anything that uses a
secret placeholder) go to one INI file per container, `SECRET_CONFIG`, in the service's
oslo.config directory `<config dir>/<service>.conf.d/`: oslo.config reads that directory by
default after the config files (oslo_config.cfg.find_config_dirs: ~/.<project>/, ~/,
/etc/<project>/, /etc/), so the options merge into the same sections.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import quote

from components.render.common import HEADER
from components.render.ndb import SERVICE_SQL_MODE
from config.catalog import FILE_MARKER, ConfigFile, Container, DatabaseRef, Service
from config.openstack_layout import (
    RABBITMQ_USER,
    RABBITMQ_VHOST,
    ControlPlaneLayout,
    Placed,
    ServiceContainer,
)
from config.placeholders import SECRET_PLACEHOLDERS, Placeholders
from config.service_secrets import SECRET_FILES, ServiceSecrets
from config.settings import Settings
from config.topology import Topology

SERVICE_PROJECT = "service"
DOMAIN = "Default"
# The roles every service user holds on SERVICE_PROJECT, as Kolla-Ansible grants them. admin:
# the services' privileged calls to each other (nova binding ports in neutron, ...). service:
# `keystone-manage bootstrap` creates it; keystonemiddleware's service_token_roles (with
# service_token_roles_required, rendered below) accept a service token only with it, and the
# services' policies give service-to-service APIs to it (nova 34: server external events,
# which cinder sends on volume attach and extend, are service_or_admin, with a note to drop
# admin after 2026.1).
SERVICE_USER_ROLES = ("admin", "service")
# oslo.db's own MySQL driver; charset=utf8 is what Kolla-Ansible and the services' docs use.
DB_DRIVER = "mysql+pymysql"
# The connection character set in the URL, by `openstack.databaseCharset`. utf8mb3 keeps
# the `utf8` that was always rendered (MySQL and PyMySQL read it as utf8mb3 on the wire), so
# existing stacks' files do not change.
URL_CHARSETS = {"utf8mb3": "utf8", "utf8mb4": "utf8mb4"}
# Groups that oslo.db registers with mysql_sql_mode (placement's own group does not have it).
_SQL_MODE_GROUPS = frozenset({"database", "api_database"})
# oslo.messaging's RabbitMQ driver as Kolla-Ansible configures it for RabbitMQ 4 (its
# om_enable_rabbitmq_stream_fanout and om_rabbitmq_qos_prefetch_count defaults): every queue
# durable - quorum queues for RPC topics, replies and notifications, one stream per fanout -
# so none is transient and non-exclusive, which RabbitMQ 4.1 deprecates and 4.3 refuses
# (components/render/infra.py denies it). oslo.messaging 18 refuses stream fanout without
# transient quorum queues and a prefetch count. use_queue_manager names reply and fanout
# queues <hostname>:<processname>:<n> instead of random ones, so a restarted process reuses
# its queues. heartbeat_in_pthread, which Kolla still writes, is gone from oslo.messaging 18.
RABBIT_OPTIONS = {
    "rabbit_quorum_queue": "true",
    "rabbit_transient_quorum_queue": "true",
    "rabbit_stream_fanout": "true",
    "rabbit_qos_prefetch_count": "50",
    "use_queue_manager": "true",
}
SECRET_CONFIG = "secrets.conf"  # the secret options' file, by its upload name

Sections = dict[str, dict[str, str]]


@dataclass
class SplitSections:
    """INI sections split by whether an option's value holds a secret."""

    plain: Sections = field(default_factory=dict)
    secret: Sections = field(default_factory=dict)

    def set(self, section: str, key: str, value: str, *, secret: bool = False) -> None:
        (self.secret if secret else self.plain).setdefault(section, {})[key] = value


def database_url(topology: Topology, service: Service, ref: DatabaseRef, password: str,
                 charset: str = "utf8mb3") -> str:
    """Through the SQL pool endpoint (HAProxy), never one SQL node."""
    endpoint = topology.client_endpoint
    return (f"{DB_DRIVER}://{service.db_user}:{quote(password, safe='')}@"
            f"{endpoint}/{ref.database}?charset={URL_CHARSETS[charset]}")


def transport_url(layout: ControlPlaneLayout, password: str) -> str:
    """oslo.messaging's URL listing every RabbitMQ member, as Kolla-Ansible renders
    rpc_transport_url: rabbit://user:pass@h1:5672,user:pass@h2:5672/vhost. The driver
    connects to one and moves to the next when it is lost."""
    login = f"{RABBITMQ_USER}:{quote(password, safe='')}"
    hosts = ",".join(f"{login}@{endpoint}" for endpoint in layout.rabbitmq_endpoints)
    return f"rabbit://{hosts}/{RABBITMQ_VHOST}"


def placeholders(settings: Settings, layout: ControlPlaneLayout, service: Service,
                 where: Placed, secrets: ServiceSecrets) -> dict[str, str]:
    """The values of the catalog's ${name} fields for one container (config/placeholders.py)."""
    api_port = where.backend_port if isinstance(where, ServiceContainer) else None
    if api_port is None and service.apis:
        api_port = next(iter(service.apis.values())).backend_port
    return Placeholders(
        bind_host=where.address,
        api_port=str(api_port or ""),
        keystone_internal_url=layout.identity_url("internal"),
        keystone_public_url=layout.identity_url("public"),
        region=settings.openstack.region,
        memcache_servers=layout.memcache_servers,
        public_host=layout.public_host,
        admin_user=settings.openstack.admin_user,
        admin_project=settings.openstack.admin_project,
        workers=str(settings.openstack.workers),
        database_port=str(layout.sql_endpoint.port),
        transport_url=transport_url(layout, secrets.rabbitmq_password),
        service_password=secrets.keystone_password,
        domain_admin_password=secrets.domain_admin_password,
    ).values({name: api.backend_port for name, api in service.apis.items()})


def lock_path(service: Service) -> str:
    """oslo.concurrency's external locks: /var/lib/<service>/tmp, as Kolla-Ansible sets it."""
    return f"/var/lib/{service.name}/tmp"


def process_name(service: Service, where: Placed) -> str:
    """The container's name within its service as Kolla-Ansible names it (nova-api,
    nova-conductor, ..., and <service>-bootstrap): oslo.messaging's processname."""
    role = where.role if isinstance(where, ServiceContainer) else "bootstrap"
    return f"{service.name}-{role}"


def standard_sections(topology: Topology, layout: ControlPlaneLayout, service: Service,
                      values: Mapping[str, str], secrets: ServiceSecrets, *,
                      process: str, charset: str) -> SplitSections:
    """The sections every service writes the same way, chosen by the catalog's flags;
    `process` is the container's `process_name`."""
    out = SplitSections()
    out.set("DEFAULT", "use_stderr", "true")  # docker logs
    for ref in service.database_refs:
        out.set(ref.section, "connection",
                database_url(topology, service, ref, secrets.database_password, charset),
                secret=True)
        if ref.section in _SQL_MODE_GROUPS:
            # oslo.db's default mode (TRADITIONAL) includes NO_ENGINE_SUBSTITUTION, which turns
            # the SQL nodes' InnoDB -> NDBCLUSTER substitution into error 3161.
            out.set(ref.section, "mysql_sql_mode", SERVICE_SQL_MODE)
    if service.messaging:
        out.set("DEFAULT", "transport_url", values["transport_url"], secret=True)
        for key, value in RABBIT_OPTIONS.items():
            out.set("oslo_messaging_rabbit", key, value)
        # The queue manager's names hold the process name, by default the program's: under
        # uWSGI that is "uwsgi" for nova-api, neutron-server, heat-api and cinder-api alike.
        # With host networking their containers share the host's name and would declare
        # the same reply queues, each taking the others' replies (Kolla-Ansible sets it too).
        out.set("oslo_messaging_rabbit", "processname", process)
        # The queue manager keeps its per-host counters under an external (file) lock:
        # without lock_path heat-api fails its first RPC call (RequiredOptError, a 500 on
        # `stack create`) while every health check passes. Kolla's path, in the service's home.
        out.set("oslo_concurrency", "lock_path", lock_path(service))
    if service.cache:
        for key, value in (("backend", "oslo_cache.memcache_pool"), ("enabled", "true"),
                           ("memcache_servers", values["memcache_servers"])):
            out.set("cache", key, value)

    def credentials(section: str) -> None:
        """keystoneauth's password plugin as the service's own user. Only these: how a client
        then picks the other service's endpoint differs per service and option (nova's
        valid_interfaces, neutron's endpoint_type, cinder's interface, ...), so the catalog
        entry says it in its own sections."""
        for key, value in (("auth_type", "password"),
                           ("auth_url", values["keystone_internal_url"]),
                           ("project_domain_name", DOMAIN), ("user_domain_name", DOMAIN),
                           ("project_name", SERVICE_PROJECT), ("username", service.name)):
            out.set(section, key, value)
        out.set(section, "password", secrets.keystone_password, secret=True)

    if service.authtoken:
        out.set("keystone_authtoken", "www_authenticate_uri", values["keystone_public_url"])
        out.set("keystone_authtoken", "memcached_servers", values["memcache_servers"])
        out.set("keystone_authtoken", "service_token_roles_required", "true")
        out.set("keystone_authtoken", "region_name", values["region"])
        credentials("keystone_authtoken")
    for client in service.clients:
        credentials(client)
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


def _merged(*layers: Mapping[str, Mapping[str, str]]) -> Sections:
    out: Sections = {}
    for layer in layers:
        for section, options in layer.items():
            out.setdefault(section, {}).update(options)
    return out


def _uses_secret(value: object) -> bool:
    if not isinstance(value, str):
        return False
    found = {named or braced
             for _, named, braced, _ in string.Template.pattern.findall(value)}
    return bool(found & SECRET_PLACEHOLDERS)


def worker_options(service: Service, where: Placed, values: Mapping[str, str]) -> Sections:
    """The INI options the container's catalog entry names as taking openstack.workers."""
    if not isinstance(where, ServiceContainer):
        return {}
    out: Sections = {}
    for option in service.containers[where.role].workers or ():
        section, key = option.split(".", 1)
        out.setdefault(section, {})[key] = values["workers"]
    return out


def own_sections(file: ConfigFile, values: Mapping[str, str]) -> SplitSections:
    """A catalog file's INI sections with ${name} fields filled, split by secrecy."""
    out = SplitSections()
    for section, options in (file.sections or {}).items():
        for key, v in options.items():
            text = string.Template(v).substitute(values) if isinstance(v, str) else _ini_value(v)
            out.set(section, key, text, secret=_uses_secret(v))
    return out


def _main_file(service: Service) -> str | None:
    """The service's first INI file: it carries the standard sections."""
    return next((n for n, f in service.config_files.items() if f.sections is not None), None)


def render_service_files(settings: Settings, topology: Topology, layout: ControlPlaneLayout,
                         service: Service, *, where: Placed) -> dict[str, str]:
    """Every plain config file of one container, by its name in `file_dests`: no secret
    reaches this function, so none can reach these texts."""
    values = placeholders(settings, layout, service, where, ServiceSecrets())
    standard = standard_sections(topology, layout, service, values, ServiceSecrets(),
                                 process=process_name(service, where),
                                 charset=settings.openstack.database_charset)
    main = _main_file(service)
    out = {}
    for name, file in service.config_files.items():
        if file.template is not None:  # the catalog refuses secret fields in templates
            text = string.Template(file.template).substitute(values)
            out[name] = FILE_MARKER.sub(lambda m: file_path(service, where, m[1], m[2]), text)
            continue
        own = own_sections(file, values)
        if name != main:
            out[name] = render_ini(own.plain)
            continue
        workers = worker_options(service, where, values)
        out[name] = render_ini(_merged(standard.plain, own.plain, workers))
    uwsgi = _uwsgi(service, where)
    if uwsgi is not None:
        name, container = uwsgi
        out[name] = render_uwsgi_ini(container, values)
    return out


def secret_sections(settings: Settings, topology: Topology, layout: ControlPlaneLayout,
                    service: Service, *, where: Placed, secrets: ServiceSecrets) -> Sections:
    """Every secret option of one container's files, merged (one oslo.config namespace)."""
    values = placeholders(settings, layout, service, where, secrets)
    standard = standard_sections(topology, layout, service, values, secrets,
                                 process=process_name(service, where),
                                 charset=settings.openstack.database_charset)
    own = [own_sections(f, values).secret for f in service.config_files.values()]
    return _merged(standard.secret, *own)


def has_secret_config(settings: Settings, topology: Topology, layout: ControlPlaneLayout,
                      service: Service, where: Placed) -> bool:
    return bool(secret_sections(settings, topology, layout, service, where=where,
                                secrets=ServiceSecrets()))


def render_secret_files(settings: Settings, topology: Topology, layout: ControlPlaneLayout,
                        service: Service, *, where: Placed, secrets: ServiceSecrets,
                        names: tuple[str, ...]) -> dict[str, str]:
    """The texts of the secret files `names` (from `secret_dests`): `SECRET_CONFIG` holds
    only secret options; a {secret:<file>} file holds just its secret."""
    out = {}
    for name in names:
        if name == SECRET_CONFIG:
            out[name] = render_ini(secret_sections(settings, topology, layout, service,
                                                   where=where, secrets=secrets))
        else:
            out[name] = SECRET_FILES[name](secrets)
    return out


def _uwsgi(service: Service, where: Placed) -> tuple[str, Container] | None:
    """(the uWSGI ini's file name, the container) when `where` serves a WSGI module."""
    if not isinstance(where, ServiceContainer):
        return None
    spec = service.containers[where.role]
    return (f"uwsgi-{where.role}.ini", spec) if spec.wsgi is not None else None


def template_secret_files(service: Service) -> list[str]:
    """The {secret:<file>} files the service's config templates name: every container that
    gets the config files gets these too."""
    return sorted({name for f in service.config_files.values() if f.template is not None
                   for kind, name in FILE_MARKER.findall(f.template) if kind == "secret"})


def file_path(service: Service, where: Placed, kind: str, name: str) -> str:
    """A {conf:<file>} or {secret:<file>} marker -> that file's path in the container."""
    return file_dests(service, where)[name] if kind == "conf" else secret_dest(service, name)


def file_dests(service: Service, where: Placed) -> dict[str, str]:
    """Plain file name -> where kolla_start puts it, for every plain file of one container."""
    out = {name: f.dest for name, f in service.config_files.items()}
    uwsgi = _uwsgi(service, where)
    if uwsgi is not None:
        out[uwsgi[0]] = f"{config_dir(service)}/{uwsgi[0]}"
    return out


def secret_config_dest(service: Service) -> str:
    """Where the secret options land: the oslo.config directory of the service's project."""
    return f"{config_dir(service)}/{service.name}.conf.d/{SECRET_CONFIG}"


def secret_dest(service: Service, name: str) -> str:
    """Where a {secret:<file>} lands in the container: beside the service's main config."""
    return f"{config_dir(service)}/{name}"


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
    master, openstack.workers processes, each loading the app itself (lazy-apps: no sockets
    or DB connections shared across fork), as the container's user (`uid`, as Kolla-Ansible
    sets it for every service: an image without a USER, such as Horizon's, starts as root),
    then the catalog's own options for this container, which replace a default of the same
    name (Horizon's one thread per process).

    The workers parse HTTP themselves (http-socket; Kolla-Ansible puts uWSGI's `http` router
    in front instead, whose http-chunked-input / http-raw-body pass chunked bodies through):
    a chunked request body reaches the app through uwsgi.chunked_read() either way.
    socket-timeout is Kolla's 30 s: uWSGI's default (4 s) is also how long chunked_read
    waits for the next chunk of an upload."""
    options: dict[str, object] = {
        "http-socket": f"{values['bind_host']}:{values['api_port']}",
        "module": container.wsgi,
        "master": True,
        "processes": values["workers"],
        "threads": 2,
        "enable-threads": True,
        "lazy-apps": True,
        "need-app": True,
        "die-on-term": True,
        "buffer-size": 65535,
        "socket-timeout": 30,
        "add-header": "Connection: close",
        "uid": container.user,
        **container.uwsgi,
    }
    lines = "".join(f"{k} = {_ini_value(v)}\n" for k, v in options.items())
    env = "".join(f"env = {k}={v}\n" for k, v in container.env.items())
    return f"{HEADER}[uwsgi]\n{lines}{env}"


def config_dir(service: Service) -> str:
    """The service's own directory: the catalog's configDir, else its first file's."""
    if service.config_dir is not None:
        return service.config_dir
    first = next(iter(service.config_files.values()))
    return str(PurePosixPath(first.dest).parent)


def fernet_key(random_base64: str) -> str:
    """A Fernet key from 32 random bytes given in standard base64 (pulumi-random's
    RandomBytes.base64): Fernet wants the URL-safe alphabet."""
    return random_base64.replace("+", "-").replace("/", "_")
