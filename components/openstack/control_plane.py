"""The control plane of one stack, in dependency order:

    SQL endpoint -> RabbitMQ, memcached, API HAProxy -> keystone (database, migrations +
    bootstrap, NDB gate, containers) -> the service project -> every other enabled service,
    each after the services it depends on (catalog `dependsOn`), registered in keystone.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack
import pulumi_random as random

from components.cluster import NdbCluster
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
from components.render.openstack import DOMAIN, SERVICE_PROJECT
from config.openstack_layout import ControlPlaneLayout
from config.settings import Settings
from config.topology import Topology

IDENTITY = "keystone"


@dataclass
class ControlPlane:
    infrastructure: ControlPlaneInfrastructure
    services: dict[str, OpenStackService]
    admin_password: pulumi.Output[str]


def build_control_plane(settings: Settings, topology: Topology, layout: ControlPlaneLayout,
                        cluster: NdbCluster, sql_admin: SqlAdmin) -> ControlPlane | None:
    if not layout.services:
        return None
    images = ImageCache(settings, cluster.hosts)
    infra = ControlPlaneInfrastructure("openstack-infra", ControlPlaneInfrastructureArgs(
        settings=settings, layout=layout, hosts=cluster.hosts, images=images,
        after=[cluster.sql.endpoint],
    ))
    admin = random.RandomPassword("openstack-admin-password", length=24, special=False)
    admin_password = admin.result.apply(pulumi.Output.secret)
    services: dict[str, OpenStackService] = {}
    catalog: KeystoneCatalog | None = None
    for service in layout.services:
        spec = service.service
        after: list[pulumi.Resource] = [cluster.sql.endpoint, infra]
        after += [services[d] for d in spec.depends_on if d in services]
        registers = spec.keystone is not None and spec.name != IDENTITY
        services[spec.name] = OpenStackService(spec.name, OpenStackServiceArgs(
            settings=settings, topology=topology, layout=layout, service=service,
            hosts=cluster.hosts, images=images, sql_admin=sql_admin,
            rabbitmq_password=infra.password, admin_password=admin_password,
            keystone=catalog if registers else None, after=after,
        ))
        if spec.name == IDENTITY:
            catalog = _keystone_catalog(settings, layout, admin_password, services[IDENTITY])
    return ControlPlane(infra, services, admin_password)


def _keystone_catalog(settings: Settings, layout: ControlPlaneLayout,
                      admin_password: pulumi.Output[str], keystone: OpenStackService
                      ) -> KeystoneCatalog:
    """A pulumi-openstack provider logged in as the bootstrap admin, through the published
    API endpoint, and the project that holds the service users."""
    os_s = settings.openstack
    provider = openstack.Provider(
        "keystone-admin",
        auth_url=layout.public_url(IDENTITY, "public") + "/v3",
        user_name=os_s.admin_user, password=admin_password, tenant_name=os_s.admin_project,
        user_domain_name=DOMAIN, project_domain_name=DOMAIN, region=os_s.region,
        opts=pulumi.ResourceOptions(depends_on=[keystone]),
    )
    opts = pulumi.ResourceOptions(provider=provider, depends_on=[keystone])
    project = openstack.identity.Project(
        "keystone-service-project", name=SERVICE_PROJECT, domain_id="default",
        description="OpenStack service users", opts=opts)
    role = openstack.identity.get_role_output(
        name="admin", opts=pulumi.InvokeOutputOptions(provider=provider, depends_on=[keystone]))
    return KeystoneCatalog(provider, project.id, role.id)
