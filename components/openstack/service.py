"""OpenStackService: any catalog entry, deployed the same way.

    ServiceDatabase -> bootstrap container (its migrations, NDB adaptation on) -> NDB gate
    (the bootstrap's exit code, then ndb_fit on its databases), and registration in keystone
    (the description of components/render/registration.py as pulumi-openstack resources) ->
    service containers (health checked, one replica at a time).

What the service is comes from config/catalog.yaml; every file, command and script was
rendered up front (components/render/service.py, `ServiceArtifacts`): this module only wires.
Generated secrets reach the containers as their own files, never inside a plain one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_command as command
import pulumi_docker as docker
import pulumi_openstack as openstack
import pulumi_random as random

from components.containers import ContainerSpec, HostResources, Upload, container
from components.database import ServiceDatabase, ServiceDatabaseArgs, collation_for
from components.openstack.images import ImageCache
from components.render.kolla import kolla_source
from components.render.openstack import fernet_key
from components.render.registration import Domain
from components.render.service import ContainerArtifacts, ServiceArtifacts, fernet_files
from components.render.shell import Script
from components.wiring import GATE_INTERPRETER
from config.addressing import Endpoint
from config.service_secrets import SECRET_KEY_FILE, ServiceSecrets
from config.settings import Settings

# How the NDB gate runs ndb_fit: the program's own virtualenv, from the project directory
# (pulumi runs local commands there), so the gate checks with the code that is deployed.
NDB_FIT_COMMAND = ".venv/bin/python -m ndb_fit"


@dataclass
class SqlAdmin:
    """How the deploying machine reaches the SQL pool endpoint as its administrator."""

    endpoint: Endpoint
    user: str
    password: pulumi.Output[str]


@dataclass
class KeystoneCatalog:
    """What registration needs: a provider logged in as the admin, the service project, and
    the ids of the roles registrations grant, by name."""

    provider: openstack.Provider
    service_project_id: pulumi.Output[str]
    role_ids: dict[str, pulumi.Output[str]]


@dataclass
class OpenStackServiceArgs:
    settings: Settings
    artifacts: ServiceArtifacts
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
        self._name = name
        self._args = args
        spec = args.artifacts.layout.spec
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
        # A signing key of its own (Horizon's SECRET_KEY) when one of its files names it.
        self.secret_key: pulumi.Output[str] = pulumi.Output.from_input("")
        if any(SECRET_KEY_FILE in c.secret_files for c in args.artifacts.containers):
            self.secret_key = random.RandomPassword(
                f"{name}-secret-key", length=64, special=False, opts=child).result
        self.fernet_keys = {dest: random.RandomBytes(f"{name}-fernet-{i}", length=32, opts=child)
                            for i, dest in enumerate(spec.fernet_keys)}
        self.secrets: pulumi.Output[ServiceSecrets] = pulumi.Output.all(
            self.database_password, self.keystone_password,
            args.rabbitmq_password, args.admin_password, self.domain_admin_password,
            self.secret_key,
        ).apply(lambda v: ServiceSecrets(*v))
        ready: list[pulumi.Resource] = list(args.after)
        self.database: ServiceDatabase | None = None
        if spec.databases:
            self.database = ServiceDatabase(f"{name}-database", ServiceDatabaseArgs(
                admin_host=args.sql_admin.endpoint.host,
                admin_port=args.sql_admin.endpoint.port,
                admin_user=args.sql_admin.user, admin_password=args.sql_admin.password,
                databases=list(spec.databases), user_name=spec.db_user,
                user_password=self.database_password,
                charset=args.settings.openstack.database_charset,
                collation=collation_for(args.settings.openstack.database_charset),
            ), pulumi.ResourceOptions(parent=self, depends_on=ready))
            ready = [self.database]
        self.bootstrap: docker.Container | None = None
        self.gate: command.local.Command | None = None
        bootstrap = args.artifacts.bootstrap
        if bootstrap is not None and args.artifacts.ndb_gate_script is not None:
            self.bootstrap = self._container(f"{name}-bootstrap", bootstrap, ready,
                                             one_shot=True)
            self.gate = self._ndb_gate(name, args.artifacts.ndb_gate_script, bootstrap,
                                       self.bootstrap)
            ready = [self.gate]
        # Registered before its containers start: they authenticate as the service's user at
        # start (nova-conductor exits when placement refuses its credentials), and a
        # container that never gets healthy would hold `pulumi up` at its health wait.
        self.registration: list[pulumi.Resource] = []
        if args.keystone is not None and args.artifacts.registration is not None:
            self.registration = self._register(name, args.keystone, list(args.after))
            ready = [*ready, *self.registration]
        self.containers: list[docker.Container] = []
        previous: dict[str, docker.Container] = {}
        for artifacts in args.artifacts.containers:
            placed = artifacts.placed
            role = artifacts.role
            # Replicas of one role one at a time: a replacement never takes them all down.
            after_replica: list[pulumi.Resource] = [previous[role]] if role in previous else []
            suffix = placed.name.removeprefix(f"{spec.name}-")
            created = self._container(f"{name}-{suffix}", artifacts, ready + after_replica)
            previous[role] = created
            self.containers.append(created)
        self.register_outputs({
            "containers": [c.name for c in self.containers],
            "databases": list(spec.databases),
        })

    # -- steps -----------------------------------------------------------------------------

    def _uploads(self, artifacts: ContainerArtifacts) -> list[Upload]:
        out = [Upload(f.path, f.text, f.mode) for f in artifacts.files]
        texts = self.secrets.apply(artifacts.render_secrets)
        out += [Upload(kolla_source(n), pulumi.Output.secret(_pick(texts, n)), "0600")
                for n in artifacts.secret_files]
        fernet = fernet_files(self._args.artifacts.layout)
        out += [Upload(fernet[dest], pulumi.Output.secret(key.base64.apply(fernet_key)), "0600")
                for dest, key in self.fernet_keys.items()]
        return out

    def _container(self, name: str, artifacts: ContainerArtifacts,
                   ready: Sequence[pulumi.Resource], *, one_shot: bool = False
                   ) -> docker.Container:
        a = self._args
        placed = artifacts.placed
        return container(a.settings, ContainerSpec(
            name=name, container_name=placed.container_name, hosts=a.hosts[placed.host],
            address=placed.address, role=artifacts.label,
            image=a.images.kolla(placed.host, artifacts.image),
            memory_limit=a.settings.openstack.memory_limit, envs=artifacts.envs,
            uploads=self._uploads(artifacts), health=artifacts.healthcheck, one_shot=one_shot,
        ), parent=self, depends_on=ready)

    def _ndb_gate(self, name: str, script: Script, artifacts: ContainerArtifacts,
                  bootstrap: docker.Container) -> command.local.Command:
        a = self._args
        return command.local.Command(
            f"{name}-ndb-gate",
            create=script.text,
            interpreter=GATE_INTERPRETER,
            environment={
                **script.environment,
                "MIGRATION_EXIT_CODE": bootstrap.exit_code.apply(str),
                "MIGRATION_CONTAINER": artifacts.placed.container_name,
                "DOCKER_HOST": a.hosts[artifacts.placed.host].host.endpoint,
                "NDB_FIT": NDB_FIT_COMMAND,
                "NDB_FIT_HOST": a.sql_admin.endpoint.host,
                "NDB_FIT_PORT": str(a.sql_admin.endpoint.port),
                "NDB_FIT_USER": a.sql_admin.user,
            },
            # The password on standard input: an environment variable would show in
            # /proc/<pid>/environ and in the command's inputs.
            stdin=a.sql_admin.password.apply(pulumi.Output.secret),
            triggers=[bootstrap.id],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bootstrap]),
        )

    def _register(self, name: str, keystone: KeystoneCatalog,
                  after: list[pulumi.Resource]) -> list[pulumi.Resource]:
        """The service's registration (components/render/registration.py), as resources."""
        reg = self._args.artifacts.registration
        assert reg is not None
        opts = pulumi.ResourceOptions(parent=self, provider=keystone.provider, depends_on=after)
        user = openstack.identity.User(
            f"{name}-keystone-user", name=reg.name, password=self.keystone_password,
            domain_id=reg.user_domain_id, default_project_id=keystone.service_project_id,
            opts=opts)
        # admin keeps the resource name it always had (a new name would replace the grant).
        roles = [openstack.identity.RoleAssignment(
            f"{name}-keystone-role" if role == "admin" else f"{name}-keystone-role-{role}",
            user_id=user.id, project_id=keystone.service_project_id,
            role_id=keystone.role_ids[role], opts=opts) for role in reg.project_roles]
        service = openstack.identity.ServiceV3(
            f"{name}-keystone-service", name=reg.name, type=reg.type,
            description=reg.description, opts=opts)
        endpoints = [
            openstack.identity.EndpointV3(
                f"{name}-endpoint-{e.interface}", service_id=service.id, interface=e.interface,
                endpoint_region=e.region, url=e.url, opts=opts)
            for e in reg.endpoints
        ]
        return [user, *roles, service, *endpoints, *self._domain(name, reg.domain, opts)]

    def _domain(self, name: str, domain: Domain | None, opts: pulumi.ResourceOptions
                ) -> list[pulumi.Resource]:
        """The service's own domain, its administrator (admin on the domain) and roles."""
        if domain is None:
            return []
        keystone = self._args.keystone
        assert keystone is not None
        created = openstack.identity.Project(
            f"{name}-domain", name=domain.name, is_domain=True,
            description=domain.description, opts=opts)
        admin = openstack.identity.User(
            f"{name}-domain-admin", name=domain.admin, domain_id=created.id,
            password=self.domain_admin_password, opts=opts)
        grant = openstack.identity.RoleAssignment(
            f"{name}-domain-admin-role", user_id=admin.id, domain_id=created.id,
            role_id=keystone.role_ids[domain.admin_role], opts=opts)
        roles = [openstack.identity.Role(f"{name}-role-{role}", name=role, opts=opts)
                 for role in domain.roles]
        return [created, admin, grant, *roles]


def _pick(texts: pulumi.Output[dict[str, str]], name: str) -> pulumi.Output[str]:
    return texts.apply(lambda t: t[name])
