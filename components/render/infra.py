"""RabbitMQ's and memcached's configuration, and the openrc a user sources."""

from __future__ import annotations

import re
import shlex

from components.render.common import HEADER
from components.render.openstack import DOMAIN
from config.addressing import bind_address
from config.openstack_layout import (
    MEMCACHED_PORT,
    RABBITMQ_PORT,
    RABBITMQ_USER,
    RABBITMQ_VHOST,
    ControlPlaneLayout,
)
from config.settings import Settings

# RabbitMQ (3.9 and later) reads every file of its config directory, RABBITMQ_CONFIG_FILES
# (default /etc/rabbitmq/conf.d; the image keeps its own 10-defaults.conf there), in name
# order: the plain settings, then a file holding the password alone.
RABBITMQ_CONF_DIR = "/etc/rabbitmq/conf.d"
RABBITMQ_CONF_PATH = f"{RABBITMQ_CONF_DIR}/80-openstack-ndb.conf"
RABBITMQ_PASSWORD_PATH = f"{RABBITMQ_CONF_DIR}/90-openstack-ndb-password.conf"
MEMCACHED_MEMORY_MB = 256
# The infrastructure containers' Docker health checks (test form). memcached's asks on the
# container's own loopback: it binds every address of its network namespace.
RABBITMQ_HEALTHCHECK = ("CMD", "rabbitmq-diagnostics", "-q", "ping")
MEMCACHED_HEALTHCHECK = ("CMD-SHELL", f"echo stats | nc -w 2 127.0.0.1 {MEMCACHED_PORT} "
                         "| grep -q uptime")
_URL_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+")  # RFC 3986: never percent-encoded
# Queues that are neither durable nor exclusive: the combination RabbitMQ 4 deprecates.
DENIED_DEPRECATED_FEATURE = "transient_nonexcl_queues"


def render_rabbitmq_conf(layout: ControlPlaneLayout) -> str:
    """The OpenStack user and vhost, created by RabbitMQ on its first boot (default_user);
    the password is in the file of `render_rabbitmq_password`.

    Transient non-exclusive queues are denied: RabbitMQ 4.1 (the image) deprecates them and
    still permits them, 4.3 refuses them by default (release notes, "Deprecated Features are
    Now Disabled by Default"). The services declare none with the [oslo_messaging_rabbit]
    options of components/render/openstack.py (quorum and stream queues); denying them here
    makes a service configured otherwise fail now, not at the next RabbitMQ upgrade. The key
    exists since RabbitMQ 3.13."""
    bind = bind_address(layout.network_mode, layout.rabbitmq.address)
    return f"""{HEADER}listeners.tcp.default = {bind}:{RABBITMQ_PORT}
default_vhost = {RABBITMQ_VHOST}
default_user = {RABBITMQ_USER}
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
default_user_tags.administrator = true
loopback_users = none
log.console = true
deprecated_features.permit.{DENIED_DEPRECATED_FEATURE} = false
"""


def render_rabbitmq_password(password: str) -> str:
    """The secret half of the RabbitMQ config: the OpenStack user's password, alone.

    Raises ValueError unless the password is made of URL-unreserved characters (the program
    generates letters and digits): RabbitMQ 4 reads `default_pass = a:b` as a tagged value
    (`a:` like `encrypted:`; its boot failed with bad_config_entry_decoder when tried), and
    oslo.messaging 18.3.1 quotes the password again for kombu but keeps a "/", which kombu
    then takes for the start of the port (tried too: "Port could not be cast")."""
    if not _URL_UNRESERVED.fullmatch(password):
        raise ValueError("openstack-ndb: the RabbitMQ password (openstack-infra-rabbitmq-"
                         "password) must be letters, digits and -._~ only")
    return f"default_pass = {password}\n"


def memcached_command(layout: ControlPlaneLayout) -> list[str]:
    bind = bind_address(layout.network_mode, layout.memcached.address)
    return ["memcached", "-m", str(MEMCACHED_MEMORY_MB), "-p", str(MEMCACHED_PORT),
            "-l", bind, "-U", "0"]


def render_openrc(settings: Settings, layout: ControlPlaneLayout, password: str) -> str:
    """What `source openrc` needs for the openstack CLI, as the stack's admin."""
    auth_url = layout.identity_url("public")
    values = {
        "OS_AUTH_URL": auth_url,
        "OS_USERNAME": settings.openstack.admin_user,
        "OS_PASSWORD": password,
        "OS_PROJECT_NAME": settings.openstack.admin_project,
        "OS_USER_DOMAIN_NAME": DOMAIN,
        "OS_PROJECT_DOMAIN_NAME": DOMAIN,
        "OS_REGION_NAME": settings.openstack.region,
        "OS_IDENTITY_API_VERSION": "3",
        "OS_INTERFACE": "public",
    }
    lines = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items())
    return f"# openrc of the {settings.name_prefix} cloud (written by make openrc)\n{lines}"
