"""OpenStackService: any catalog entry, deployed the same way.

    ServiceDatabase -> bootstrap container (its migrations, NDB adaptation on) -> NDB gate
    (the bootstrap's exit code, then ndb_fit on its databases) -> service containers (health
    checked, one replica at a time) -> registration in keystone (user, role, service,
    endpoints, with pulumi-openstack).

What the service is (images, files, commands, ports) comes from config/catalog.yaml; every
file is rendered by components/render/ (openstack.py, kolla.py); this module only wires.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_command as command
import pulumi_docker as docker
import pulumi_openstack as openstack
import pulumi_random as random

import ndb_adapt
from components.database import ServiceDatabase, ServiceDatabaseArgs
from components.hosts import HostResources
from components.openstack.images import ImageCache
from components.render.control_plane import render_bootstrap, secret_files
from components.render.kolla import (
    BOOTSTRAP_COMMAND,
    BOOTSTRAP_SCRIPT,
    KOLLA_ENV,
    fernet_source,
    kolla_source,
    render_config_json,
    render_ndb_gate_script,
)
from components.render.openstack import (
    ServiceSecrets,
    container_command,
    fernet_key,
    file_dests,
    render_healthcheck,
    render_service_files,
)
from components.wiring import GATE_INTERPRETER, container_labels, placement_args, upload
from config.openstack_layout import ControlPlaneLayout, Placed, ServiceContainer, ServiceLayout
from config.settings import Settings
from config.topology import Topology

# How the NDB gate runs ndb_fit: the program's own virtualenv, from the project directory
# (pulumi runs local commands there), so the gate checks with the code that is deployed.
NDB_FIT_COMMAND = ".venv/bin/python -m ndb_fit"
HEALTH_INTERVAL = "10s"


@dataclass
class SqlAdmin:
    """How the deploying machine reaches the SQL pool endpoint as its administrator."""

    host: str
    port: int
    user: str
    password: pulumi.Output[str]


@dataclass
class KeystoneCatalog:
    """What registration needs: a provider logged in as the admin, and the service project."""

    provider: openstack.Provider
    service_project_id: pulumi.Output[str]
    admin_role_id: pulumi.Output[str]


@dataclass
class OpenStackServiceArgs:
    settings: Settings
    topology: Topology
    layout: ControlPlaneLayout
    service: ServiceLayout
    hosts: dict[str, HostResources]
    images: ImageCache
    sql_admin: SqlAdmin
    rabbitmq_password: pulumi.Output[str]
    admin_password: pulumi.Output[str]
    keystone: KeystoneCatalog | None  # None for keystone itself and services without one
    after: list[pulumi.Resource] = field(default_factory=list)


class OpenStackService(pulumi.ComponentResource):
    def __init__(self, name: str, args: OpenStackServiceArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("openstack-ndb:openstack:OpenStackService", name, None, opts)
        self._args = args
        spec = args.service.service
        child = pulumi.ResourceOptions(parent=self)
        self.database_password: pulumi.Output[str] = pulumi.Output.from_input("")
        if spec.databases:
            self.database_password = random.RandomPassword(
                f"{name}-db-password", length=32, special=False, opts=child).result
        # The service's own keystone user (keystone_authtoken); keystone and horizon have none.
        self.keystone_password: pulumi.Output[str] = pulumi.Output.from_input("")
        if args.keystone is not None:
            self.keystone_password = random.RandomPassword(
                f"{name}-keystone-password", length=32, special=False, opts=child).result
        self.domain_admin_password: pulumi.Output[str] = pulumi.Output.from_input("")
        if args.keystone is not None and spec.keystone_domain is not None:
            self.domain_admin_password = random.RandomPassword(
                f"{name}-domain-admin-password", length=32, special=False, opts=child).result
        self.fernet_keys = {dest: random.RandomBytes(f"{name}-fernet-{i}", length=32, opts=child)
                            for i, dest in enumerate(spec.fernet_keys)}
        self.secrets = pulumi.Output.all(
            self.database_password, self.keystone_password,
            args.rabbitmq_password, args.admin_password, self.domain_admin_password,
        ).apply(lambda v: ServiceSecrets(*v))
        ready: list[pulumi.Resource] = list(args.after)
        self.database: ServiceDatabase | None = None
        if spec.databases:
            self.database = ServiceDatabase(f"{name}-database", ServiceDatabaseArgs(
                admin_host=args.sql_admin.host, admin_port=args.sql_admin.port,
                admin_user=args.sql_admin.user, admin_password=args.sql_admin.password,
                databases=list(spec.databases), user_name=spec.db_user,
                user_password=self.database_password,
            ), pulumi.ResourceOptions(parent=self, depends_on=ready))
            ready = [self.database]
        self.bootstrap: docker.Container | None = None
        self.gate: command.local.Command | None = None
        if args.service.bootstrap is not None:
            self.bootstrap = self._bootstrap(name, args.service.bootstrap, ready)
            self.gate = self._ndb_gate(name, self.bootstrap)
            ready = [self.gate]
        self.containers: list[docker.Container] = []
        previous: dict[str, docker.Container] = {}
        for placed in args.service.containers:
            # Replicas of one role one at a time: a replacement never takes them all down.
            after_replica: list[pulumi.Resource] = (
                [previous[placed.role]] if placed.role in previous else [])
            container = self._service_container(placed, ready + after_replica)
            previous[placed.role] = container
            self.containers.append(container)
        self.registration: list[pulumi.Resource] = []
        if args.keystone is not None and spec.keystone is not None:
            self.registration = self._register(name, args.keystone)
        self.register_outputs({
            "containers": [c.name for c in self.containers],
            "databases": list(spec.databases),
        })

    # -- steps -----------------------------------------------------------------------------

    def _files(self, where: Placed) -> pulumi.Output[dict[str, str]]:
        a = self._args
        return self.secrets.apply(lambda s: render_service_files(
            a.settings, a.topology, a.layout, a.service.service, where=where, secrets=s))

    def _uploads(self, where: Placed, command_: str, user: str,
                 secret_files: dict[str, str]) -> list[docker.ContainerUploadArgs]:
        spec = self._args.service.service
        files = self._files(where)
        dests = file_dests(spec, where)
        out = [upload(kolla_source("config.json"),
                      render_config_json(spec, command_, user, dests, secret_files))]
        out += [upload(kolla_source(n), pulumi.Output.secret(_pick(files, n)), "0600")
                for n in dests]
        out += [upload(kolla_source(n), pulumi.Output.secret(self._args.admin_password), "0600")
                for n in secret_files]
        out += [upload(fernet_source(dest),
                       pulumi.Output.secret(key.base64.apply(fernet_key)), "0600")
                for dest, key in self.fernet_keys.items()]
        out += [upload(f"{ndb_adapt.CONTAINER_ROOT}/{path}", text)
                for path, text in ndb_adapt.files().items()]
        return out

    def _env(self) -> list[str]:
        return [f"{k}={v}" for k, v in {**KOLLA_ENV, **ndb_adapt.CONTAINER_ENV}.items()]

    def _bootstrap(self, name: str, where: Placed, ready: Sequence[pulumi.Resource]
                   ) -> docker.Container:
        a = self._args
        spec = a.service.service
        assert spec.bootstrap is not None
        secrets = secret_files(spec)
        script = render_bootstrap(a.settings, a.layout, a.service)
        uploads = self._uploads(where, BOOTSTRAP_COMMAND,
                                spec.bootstrap.user, secrets)
        uploads.append(upload(kolla_source(BOOTSTRAP_SCRIPT), script.text, "0755"))
        hosts = a.hosts[where.host]
        # attach: `pulumi up` waits for the migrations to finish; a failed run is recorded in
        # exit_code (not an error of the provider), which the NDB gate reports with the logs.
        return docker.Container(
            f"{name}-bootstrap",
            image=a.images.kolla(a.settings, where.host, spec.bootstrap.image).image_id,
            envs=self._env() + [f"{k}={v}" for k, v in script.environment.items()],
            uploads=uploads,
            attach=True, logs=True, must_run=False, restart="no",
            memory=a.settings.openstack.memory_limit >> 20,
            labels=container_labels(a.settings, f"{spec.name}-bootstrap"),
            **placement_args(hosts, where.container_name, where.address, {}),
            opts=pulumi.ResourceOptions(parent=self, provider=hosts.provider,
                                        delete_before_replace=True, depends_on=list(ready)),
        )

    def _ndb_gate(self, name: str, bootstrap: docker.Container) -> command.local.Command:
        a = self._args
        spec = a.service.service
        where = a.service.bootstrap
        assert where is not None
        script = render_ndb_gate_script(spec, list(spec.databases))
        return command.local.Command(
            f"{name}-ndb-gate",
            create=script.text,
            interpreter=GATE_INTERPRETER,
            environment={
                **script.environment,
                "MIGRATION_EXIT_CODE": bootstrap.exit_code.apply(str),
                "MIGRATION_CONTAINER": where.container_name,
                "DOCKER_HOST": a.hosts[where.host].host.endpoint,
                "NDB_FIT": NDB_FIT_COMMAND,
                "NDB_FIT_HOST": a.sql_admin.host,
                "NDB_FIT_PORT": str(a.sql_admin.port),
                "NDB_FIT_USER": a.sql_admin.user,
                "NDB_FIT_PASSWORD": a.sql_admin.password.apply(pulumi.Output.secret),
            },
            triggers=[bootstrap.id],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bootstrap]),
        )

    def _service_container(self, placed: ServiceContainer, ready: Sequence[pulumi.Resource]
                           ) -> docker.Container:
        a = self._args
        spec = a.service.service
        role = spec.containers[placed.role]
        hosts = a.hosts[placed.host]
        return docker.Container(
            placed.name,
            image=a.images.kolla(a.settings, placed.host, role.image).image_id,
            envs=self._env(),
            uploads=self._uploads(placed, container_command(spec, placed), role.user, {}),
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=render_healthcheck(a.settings, a.layout, spec, placed),
                interval=HEALTH_INTERVAL, timeout="10s", retries=3,
                start_period="30s"),
            wait=True, wait_timeout=a.settings.gates.timeout_seconds,
            memory=a.settings.openstack.memory_limit >> 20,
            restart="unless-stopped", must_run=True,
            labels=container_labels(a.settings, f"{spec.name}-{role.image}"),
            **placement_args(hosts, placed.container_name, placed.address, {}),
            opts=pulumi.ResourceOptions(parent=self, provider=hosts.provider,
                                        delete_before_replace=True, depends_on=list(ready)),
        )

    def _register(self, name: str, keystone: KeystoneCatalog) -> list[pulumi.Resource]:
        a = self._args
        spec = a.service.service
        assert spec.keystone is not None
        opts = pulumi.ResourceOptions(parent=self, provider=keystone.provider,
                                      depends_on=list(self.containers))
        user = openstack.identity.User(
            f"{name}-keystone-user", name=spec.name, password=self.keystone_password,
            domain_id="default", default_project_id=keystone.service_project_id, opts=opts)
        role = openstack.identity.RoleAssignment(
            f"{name}-keystone-role", user_id=user.id, project_id=keystone.service_project_id,
            role_id=keystone.admin_role_id, opts=opts)
        service = openstack.identity.ServiceV3(
            f"{name}-keystone-service", name=spec.name, type=spec.keystone.type,
            description=spec.description, opts=opts)
        endpoints = [
            openstack.identity.EndpointV3(
                f"{name}-endpoint-{interface}", service_id=service.id, interface=interface,
                endpoint_region=a.settings.openstack.region,
                url=url(spec.name, spec.keystone.api) + spec.keystone.path,
                opts=opts)
            for interface, url in (("public", a.layout.public_url),
                                   ("internal", a.layout.internal_url),
                                   ("admin", a.layout.internal_url))
        ]
        return [user, role, service, *endpoints, *self._domain(name, keystone, opts)]

    def _domain(self, name: str, keystone: KeystoneCatalog, opts: pulumi.ResourceOptions
                ) -> list[pulumi.Resource]:
        """The service's own domain, its administrator (admin on the domain) and roles."""
        spec = self._args.service.service.keystone_domain
        if spec is None:
            return []
        domain = openstack.identity.Project(
            f"{name}-domain", name=spec.name, is_domain=True,
            description=f"{spec.name} (owned by the {name} service)", opts=opts)
        admin = openstack.identity.User(
            f"{name}-domain-admin", name=spec.admin, domain_id=domain.id,
            password=self.domain_admin_password, opts=opts)
        grant = openstack.identity.RoleAssignment(
            f"{name}-domain-admin-role", user_id=admin.id, domain_id=domain.id,
            role_id=keystone.admin_role_id, opts=opts)
        roles = [openstack.identity.Role(f"{name}-role-{role}", name=role, opts=opts)
                 for role in spec.roles]
        return [domain, admin, grant, *roles]


def _pick(files: pulumi.Output[dict[str, str]], name: str) -> pulumi.Output[str]:
    return files.apply(lambda f: f[name])
