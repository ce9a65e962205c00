"""ControlPlane: the OpenStack control plane of one stack, one top-level component.

Its children, in dependency order:

    SQL endpoint -> RabbitMQ, memcached, API HAProxy -> the identity service (database,
    migrations + bootstrap, NDB gate, containers) -> the service project -> every other
    enabled service, each after the services it depends on (catalog `dependsOn`),
    registered in keystone.

It owns the control plane's images, the admin password, and the keystone provider that
registers the services.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_openstack as openstack
import pulumi_random as random

from components.containers import HostResources
from components.openstack.images import ImageCache
from components.openstack.infrastructure import (
    ControlPlaneInfrastructure,
    ControlPlaneInfrastructureArgs,
)
from components.openstack.service import (
    KeystoneCatalog,
    OpenStackService,
    OpenStackServiceArgs,
    SqlAdmin,
)
from components.render.openstack import DOMAIN
from components.render.registration import GRANTED_ROLES, service_project
from components.render.service import ServiceArtifacts
from config.openstack_layout import ControlPlaneLayout
from config.settings import Settings


@dataclass
class ControlPlaneArgs:
    settings: Settings
    layout: ControlPlaneLayout
    services: tuple[ServiceArtifacts, ...]  # rendered, in deployment order
    hosts: dict[str, HostResources]  # the cluster's: providers, images, network
    sql_admin: SqlAdmin
    after: list[pulumi.Resource] = field(default_factory=list)  # the SQL endpoint


class ControlPlane(pulumi.ComponentResource):
    """Children are named `<name>-...`: with the name "openstack", `openstack-infra`,
    `openstack-keystone`, `openstack-nova`, ..."""

    def __init__(self, name: str, args: ControlPlaneArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("openstack-ndb:openstack:ControlPlane", name, None, opts)
        settings, layout, hosts, after = args.settings, args.layout, args.hosts, args.after
        services, sql_admin = args.services, args.sql_admin
        child = pulumi.ResourceOptions(parent=self)
        images = ImageCache(settings, hosts, name, self)
        self.infrastructure = ControlPlaneInfrastructure(
            f"{name}-infra", ControlPlaneInfrastructureArgs(
                settings=settings, layout=layout, hosts=hosts, images=images, after=after,
            ), child)
        admin = random.RandomPassword(f"{name}-admin-password", length=24, special=False,
                                      opts=child)
        self.admin_password: pulumi.Output[str] = admin.result.apply(pulumi.Output.secret)
        self.services: dict[str, OpenStackService] = {}
        catalog: KeystoneCatalog | None = None
        for artifacts in services:
            spec = artifacts.layout.spec
            ready: list[pulumi.Resource] = [*after, self.infrastructure]
            ready += [self.services[d] for d in spec.depends_on if d in self.services]
            identity = spec.name == layout.identity
            registers = spec.keystone is not None and not identity
            self.services[spec.name] = OpenStackService(
                f"{name}-{spec.name}", OpenStackServiceArgs(
                    settings=settings, artifacts=artifacts, hosts=hosts, images=images,
                    sql_admin=sql_admin, rabbitmq_password=self.infrastructure.password,
                    admin_password=self.admin_password,
                    keystone=catalog if registers else None, after=ready,
                ), child)
            if identity:
                catalog = self._keystone_catalog(name, settings, layout,
                                                 self.services[spec.name])
        self.register_outputs({"services": list(self.services),
                               "adminPassword": self.admin_password})

    def _keystone_catalog(self, name: str, settings: Settings, layout: ControlPlaneLayout,
                          keystone: OpenStackService) -> KeystoneCatalog:
        """A pulumi-openstack provider logged in as the bootstrap admin, through the published
        API endpoint, and the project that holds the service users."""
        os_s = settings.openstack
        provider = openstack.Provider(
            f"{name}-keystone-admin",
            auth_url=layout.identity_url("public"),
            user_name=os_s.admin_user, password=self.admin_password,
            tenant_name=os_s.admin_project, user_domain_name=DOMAIN,
            project_domain_name=DOMAIN, region=os_s.region,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[keystone]),
        )
        opts = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[keystone])
        described = service_project()
        project = openstack.identity.Project(
            f"{name}-service-project", name=described.name, domain_id=described.domain_id,
            description=described.description, opts=opts)
        invoke = pulumi.InvokeOutputOptions(parent=self, provider=provider,
                                            depends_on=[keystone])
        roles = {name: openstack.identity.get_role_output(name=name, opts=invoke).id
                 for name in GRANTED_ROLES}
        return KeystoneCatalog(provider, project.id, roles)
