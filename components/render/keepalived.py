"""keepalived.conf and Kolla's config.json for the keepalived beside each HAProxy of a
frontend with a virtual address (config/virtual_addresses.py).

Kolla-Ansible's loadbalancer role is the model (keepalived.conf.j2, keepalived.json.j2;
docs/high-availability.md): every member starts as BACKUP with `nopreempt`, advertises every
second (VRRP version 2, `advert_int 1`) to the other members by unicast, authenticates with a
generated password, and tracks its HAProxy with a script (interval 2 s, fall 2, rise 10).
The backups take the address over when the holder's advertisements stop: after three missed
advertisements plus a skew of (256 - priority) / 256 s, about 3 s. The address is added to
the member's `interface` as a /32: only the holder answers ARP for it, and it sends
gratuitous ARPs when it takes it.
"""

from __future__ import annotations

import json

from components.render.common import HEADER
from components.render.kolla import kolla_source
from config.addressing import MONITOR_ADDRESS
from config.virtual_addresses import VirtualAddress

KEEPALIVED_CONF_PATH = "/etc/keepalived/keepalived.conf"
# The password alone, in its own file that keepalived.conf includes (keepalived reads an
# `include` anywhere, also inside `authentication`; seen with keepalived 2.2.7): the conf
# stays plain text a `pulumi preview --diff` shows, the secret stays a secret upload.
VRRP_PASSWORD_PATH = "/etc/keepalived/vrrp-password.conf"
CHECK_SCRIPT = "haproxy-alive.sh"  # components/render/scripts/
CHECK_SCRIPT_PATH = f"/etc/keepalived/{CHECK_SCRIPT}"
# The same script in the HAProxy container, as its Docker health check (haproxy_healthcheck).
HAPROXY_CHECK_PATH = f"/usr/local/etc/haproxy/{CHECK_SCRIPT}"
# Kolla-Ansible's keepalived.json command is `keepalived -nld`: foreground, log to the
# console, dump the configuration. Without -d: the dump prints the VRRP password to the log.
KEEPALIVED_COMMAND = "/usr/sbin/keepalived -nl -p /run/keepalived.pid"
# VRRP version 2's simple password: keepalived uses its first 8 characters only.
VRRP_PASSWORD_LENGTH = 8
ADVERT_INTERVAL_SECONDS = 1
# Linux capabilities keepalived needs to add addresses and send VRRP (raw IP protocol 112)
# and gratuitous ARP; Kolla-Ansible runs the container privileged instead.
KEEPALIVED_CAPABILITIES = ("NET_ADMIN", "NET_BROADCAST", "NET_RAW")


def render_vrrp_password(vip: VirtualAddress, password: str) -> str:
    """The file keepalived.conf includes in its `authentication` block: the password alone.

    Raises ValueError unless the password is 1-8 letters and digits (keepalived would cut a
    longer one, and read a blank as the end of the value)."""
    if not (1 <= len(password) <= VRRP_PASSWORD_LENGTH and password.isalnum()):
        raise ValueError(f"the VRRP password of {vip.frontend} must be 1-"
                         f"{VRRP_PASSWORD_LENGTH} letters and digits")
    return f"auth_pass {password}\n"


def render_keepalived_conf(vip: VirtualAddress, host: str) -> str:
    """keepalived.conf of `host`'s member of `vip` (plain text: the password is included
    from VRRP_PASSWORD_PATH). The check asks the local HAProxy's monitor URI.

    Raises ValueError when `host` is not a member of `vip`."""
    if host not in {m.host for m in vip.members}:
        raise ValueError(f"{host!r} is not a member of {vip.frontend}'s virtual address")
    me = vip.member(host)
    peers = "".join(f"        {address}\n" for address in vip.peers(host))
    unicast_peers = f"    unicast_peer {{\n{peers}    }}\n" if peers else ""
    instance = f"{vip.frontend}-{vip.router_id}"
    return f"""{HEADER}global_defs {{
    router_id {host}-{vip.frontend}
    script_user root
    enable_script_security
}}

vrrp_script {vip.frontend}-haproxy {{
    script "{CHECK_SCRIPT_PATH} {MONITOR_ADDRESS} {vip.monitor_port}"
    interval 2
    timeout 2
    fall 2
    rise 10
}}

vrrp_instance {instance} {{
    state BACKUP
    nopreempt
    interface {me.interface}
    virtual_router_id {vip.router_id}
    priority {me.priority}
    advert_int {ADVERT_INTERVAL_SECONDS}
    unicast_src_ip {me.address}
{unicast_peers}    virtual_ipaddress {{
        {vip.address}/32 dev {me.interface}
    }}
    authentication {{
        auth_type PASS
        include {VRRP_PASSWORD_PATH}
    }}
    track_script {{
        {vip.frontend}-haproxy
    }}
}}
"""


def render_keepalived_config_json() -> str:
    """Kolla's config.json for keepalived: the conf and the password (0600) and the check
    script (0700, root's: `enable_script_security` refuses a script others may write)
    copied into place."""
    document = {
        "command": KEEPALIVED_COMMAND,
        "config_files": [
            {"source": kolla_source("keepalived.conf"), "dest": KEEPALIVED_CONF_PATH,
             "owner": "root", "perm": "0600"},
            {"source": kolla_source("vrrp-password.conf"), "dest": VRRP_PASSWORD_PATH,
             "owner": "root", "perm": "0600"},
            {"source": kolla_source(CHECK_SCRIPT), "dest": CHECK_SCRIPT_PATH,
             "owner": "root", "perm": "0700"},
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def haproxy_healthcheck(vip: VirtualAddress | None) -> list[str] | None:
    """Docker's health check of a frontend's HAProxy (["CMD", ...]): the check keepalived
    runs, HAProxy's monitor URI on MONITOR_ADDRESS:`vip.monitor_port`, from HAPROXY_CHECK_PATH
    in the container (bash and its /dev/tcp: the haproxy image has no HTTP client). None
    without a virtual address: one HAProxy, no monitor frontend (render_monitor)."""
    if vip is None:
        return None
    return ["CMD", "bash", HAPROXY_CHECK_PATH, MONITOR_ADDRESS, str(vip.monitor_port)]
