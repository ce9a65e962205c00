"""RabbitMQ's and memcached's configuration, and the openrc a user sources."""

from __future__ import annotations

import re
import shlex

from components.render.common import HEADER
from components.render.openstack import DOMAIN
from config.addressing import bind_address
from config.openstack_layout import (
    MEMCACHED_PORT,
    RABBITMQ_DIST_PORT,
    RABBITMQ_PORT,
    RABBITMQ_USER,
    RABBITMQ_VHOST,
    ControlPlaneLayout,
    Placed,
)
from config.settings import Settings

# RabbitMQ (3.9 and later) reads every file of its config directory, RABBITMQ_CONFIG_FILES
# (default /etc/rabbitmq/conf.d; the image keeps its own 10-defaults.conf there), in name
# order: the plain settings, then a file holding the password alone.
RABBITMQ_CONF_DIR = "/etc/rabbitmq/conf.d"
RABBITMQ_CONF_PATH = f"{RABBITMQ_CONF_DIR}/80-openstack-ndb.conf"
RABBITMQ_PASSWORD_PATH = f"{RABBITMQ_CONF_DIR}/90-openstack-ndb-password.conf"
# The Erlang cookie every member of a cluster shares (and the CLI tools use to reach their
# node): the rabbitmq user's home in the image (HOME=/var/lib/rabbitmq; /root/.erlang.cookie
# links to it for `docker exec` as root). Erlang refuses a cookie file others may read.
RABBITMQ_DATA_DIR = "/var/lib/rabbitmq"  # a named volume per member: restarts keep the node
ERLANG_COOKIE_PATH = f"{RABBITMQ_DATA_DIR}/.erlang.cookie"
ERLANG_COOKIE_MODE = "0400"
# As Kolla-Ansible's rabbitmq role (rabbitmq_cluster_partition_handling): on a partition the
# members on the minority side pause, so no two halves accept messages on their own.
RABBITMQ_PARTITION_HANDLING = "pause_minority"
MEMCACHED_MEMORY_MB = 256
# The infrastructure containers' Docker health checks (test form). memcached's asks on the
# container's own loopback: it binds every address of its network namespace.
RABBITMQ_HEALTHCHECK = ("CMD", "rabbitmq-diagnostics", "-q", "ping")
MEMCACHED_HEALTHCHECK = ("CMD-SHELL", f"echo stats | nc -w 2 127.0.0.1 {MEMCACHED_PORT} "
                         "| grep -q uptime")
_URL_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+")  # RFC 3986: never percent-encoded
# Queues that are neither durable nor exclusive: the combination RabbitMQ 4 deprecates.
DENIED_DEPRECATED_FEATURE = "transient_nonexcl_queues"


def render_rabbitmq_conf(layout: ControlPlaneLayout, member: Placed) -> str:
    """One member's settings: its listener, the OpenStack user and vhost, created by
    RabbitMQ on its first boot (default_user); the password is in the file of
    `render_rabbitmq_password`.

    Several members (`layout.rabbitmq_clustered`) also get what Kolla-Ansible's
    rabbitmq.conf.j2 writes for a cluster: `cluster_partition_handling = pause_minority` and
    classic_config peer discovery listing every member's node name (`rabbitmq_node`), the
    same list, in the same order, on every member. One member gets neither.

    Transient non-exclusive queues are denied: RabbitMQ 4.1 (the image) deprecates them and
    still permits them, 4.3 refuses them by default (release notes, "Deprecated Features are
    Now Disabled by Default"). The services declare none with the [oslo_messaging_rabbit]
    options of components/render/openstack.py (quorum and stream queues); denying them here
    makes a service configured otherwise fail now, not at the next RabbitMQ upgrade. The key
    exists since RabbitMQ 3.13."""
    bind = bind_address(layout.network_mode, member.address)
    cluster = ""
    if layout.rabbitmq_clustered:
        nodes = "".join(f"cluster_formation.classic_config.nodes.{i} = {layout.rabbitmq_node(m)}\n"
                        for i, m in enumerate(layout.rabbitmq, start=1))
        cluster = (f"cluster_partition_handling = {RABBITMQ_PARTITION_HANDLING}\n"
                   "cluster_formation.peer_discovery_backend = classic_config\n" + nodes)
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
{cluster}"""


def rabbitmq_environment(layout: ControlPlaneLayout, member: Placed) -> dict[str, str]:
    """The member container's environment (never a secret): its node name, which the
    server and the CLI tools of the health check both read; with host networking also epmd
    on the member's address only, as Kolla-Ansible's rabbitmq-env.conf.j2 binds it
    (ERL_EPMD_ADDRESS; epmd adds the loopback itself), and the distribution port pinned to
    RabbitMQ's default, which config/openstack_checks.py claims beside epmd's. The cookie
    is a file (`render_erlang_cookie`), not RABBITMQ_ERLANG_COOKIE, which RabbitMQ
    deprecates."""
    env = {"RABBITMQ_NODENAME": layout.rabbitmq_node(member)}
    if layout.network_mode == "host":
        env["ERL_EPMD_ADDRESS"] = member.address
        env["RABBITMQ_DIST_PORT"] = str(RABBITMQ_DIST_PORT)
    return env


def render_erlang_cookie(cookie: str) -> str:
    """The secret Erlang cookie file's content: the cookie alone, no newline (as RabbitMQ
    writes one it generates). Raises ValueError unless it is 20-255 characters, letters,
    digits and -._~ only (the program generates 32 letters and digits): Erlang takes the
    file's first line as the cookie, and nothing here needs quoting anywhere."""
    if not (20 <= len(cookie) <= 255 and _URL_UNRESERVED.fullmatch(cookie)):
        raise ValueError("openstack-ndb: the Erlang cookie (openstack-infra-erlang-cookie) "
                         "must be 20-255 letters, digits and -._~")
    return cookie


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


def memcached_command(layout: ControlPlaneLayout, server: Placed) -> list[str]:
    """One memcached's command line: MEMCACHED_MEMORY_MB MiB, TCP only, on its address."""
    bind = bind_address(layout.network_mode, server.address)
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
