"""RabbitMQ's and memcached's configuration, and the openrc a user sources."""

from __future__ import annotations

import shlex

from components.render.ndb import HEADER
from config.openstack_layout import (
    MEMCACHED_PORT,
    RABBITMQ_PORT,
    RABBITMQ_USER,
    RABBITMQ_VHOST,
    ControlPlaneLayout,
)
from config.settings import Settings

RABBITMQ_CONF_PATH = "/etc/rabbitmq/rabbitmq.conf"
MEMCACHED_MEMORY_MB = 256


def render_rabbitmq_conf(layout: ControlPlaneLayout, password: str) -> str:
    """The OpenStack user and vhost, created by RabbitMQ on its first boot (default_user)."""
    bind = "0.0.0.0" if layout.network_mode == "bridge" else layout.rabbitmq.address
    return f"""{HEADER}listeners.tcp.default = {bind}:{RABBITMQ_PORT}
default_vhost = {RABBITMQ_VHOST}
default_user = {RABBITMQ_USER}
default_pass = {password}
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
default_user_tags.administrator = true
loopback_users = none
log.console = true
"""


def memcached_command(layout: ControlPlaneLayout) -> list[str]:
    bind = "0.0.0.0" if layout.network_mode == "bridge" else layout.memcached.address
    return ["memcached", "-m", str(MEMCACHED_MEMORY_MB), "-p", str(MEMCACHED_PORT),
            "-l", bind, "-U", "0"]


def render_openrc(settings: Settings, layout: ControlPlaneLayout, password: str) -> str:
    """What `source openrc` needs for the openstack CLI, as the stack's admin."""
    auth_url = layout.public_url("keystone", "public") + "/v3"
    values = {
        "OS_AUTH_URL": auth_url,
        "OS_USERNAME": settings.openstack.admin_user,
        "OS_PASSWORD": password,
        "OS_PROJECT_NAME": settings.openstack.admin_project,
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_REGION_NAME": settings.openstack.region,
        "OS_IDENTITY_API_VERSION": "3",
        "OS_INTERFACE": "public",
    }
    lines = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items())
    return f"# openrc of the {settings.name_prefix} cloud (written by make openrc)\n{lines}"
