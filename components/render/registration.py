"""What the program registers in keystone, as data: one description, two users of it.

`pulumi up` turns it into pulumi-openstack resources (components/openstack/control_plane.py
and service.py); where pulumi cannot run, the tests register the same description through
openstacksdk (tests/openstack/register.py). Neither adds anything of its own, so what the
tests exercise is what a deployment registers.

Keystone's own entry, its admin, admin project and the `admin`/`service`/`member` roles
come from `keystone-manage bootstrap` (the identity service's bootstrap), not from here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from components.render.openstack import SERVICE_PROJECT, SERVICE_USER_ROLES
from config.openstack_layout import ControlPlaneLayout, Interface, ServiceLayout
from config.settings import Settings

# The roles registrations grant, all made by keystone's bootstrap: a service user's on the
# service project, and a service domain administrator's on its domain.
DOMAIN_ADMIN_ROLE = "admin"
GRANTED_ROLES = tuple(dict.fromkeys((*SERVICE_USER_ROLES, DOMAIN_ADMIN_ROLE)))
# The domain that keystone's bootstrap creates; its id is "default".
DEFAULT_DOMAIN_ID = "default"
SERVICE_PROJECT_DESCRIPTION = "OpenStack service users"
# (keystone endpoint interface, the layout's URL kind): admin is served at the internal URL.
INTERFACES: tuple[tuple[str, Interface], ...] = (
    ("public", "public"), ("internal", "internal"), ("admin", "internal"))


@dataclass(frozen=True)
class Project:
    name: str
    domain_id: str
    description: str


@dataclass(frozen=True)
class Endpoint:
    interface: str  # public | internal | admin
    url: str
    region: str


@dataclass(frozen=True)
class Domain:
    """A service's own domain (heat's stack users) with its administrator, who holds `admin`
    on the domain, and the roles the service creates for its users."""

    name: str
    description: str
    admin: str
    admin_role: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class ServiceRegistration:
    """One service: its user (password generated per stack) holding `project_roles` on the
    service project, its catalog entry, its endpoints and, for heat, its domain."""

    name: str  # the catalog name: service name and user name
    type: str  # the catalog type (image, compute, ...)
    description: str
    user_domain_id: str
    project: Project
    project_roles: tuple[str, ...]
    endpoints: tuple[Endpoint, ...]
    domain: Domain | None

    def as_json(self) -> dict[str, Any]:
        """The description as plain JSON types, for a process in another venv."""
        return asdict(self)


def service_project() -> Project:
    """The project that holds every service user (Kolla-Ansible's `service`)."""
    return Project(SERVICE_PROJECT, DEFAULT_DOMAIN_ID, SERVICE_PROJECT_DESCRIPTION)


def service_registration(settings: Settings, layout: ControlPlaneLayout,
                         service: ServiceLayout) -> ServiceRegistration | None:
    """What `service` registers in keystone, or None: the identity service registers itself
    (its bootstrap), and a service without a catalog `keystone` entry (Horizon) registers
    nothing. URLs are the layout's (`registered_url`); the region is `openstack.region`."""
    spec = service.spec
    if spec.keystone is None or spec.name == layout.identity:
        return None
    region = settings.openstack.region
    endpoints = tuple(Endpoint(interface, layout.registered_url(spec.name, kind), region)
                      for interface, kind in INTERFACES)
    domain = None
    if spec.keystone_domain is not None:
        d = spec.keystone_domain
        domain = Domain(d.name, f"{d.name} (owned by the {spec.name} service)", d.admin,
                        DOMAIN_ADMIN_ROLE, tuple(d.roles))
    return ServiceRegistration(
        name=spec.name, type=spec.keystone.type, description=spec.description,
        user_domain_id=DEFAULT_DOMAIN_ID, project=service_project(),
        project_roles=SERVICE_USER_ROLES, endpoints=endpoints, domain=domain)
