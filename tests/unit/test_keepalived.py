"""keepalived.conf and its container's files, as rendered for the prod stack's frontends."""

from __future__ import annotations

import json

import pytest

from components.render.haproxy import render_api_haproxy_cfg, render_haproxy_cfg
from components.render.keepalived import (
    CHECK_SCRIPT_PATH,
    KEEPALIVED_COMMAND,
    VRRP_PASSWORD_PATH,
    render_keepalived_conf,
    render_keepalived_config_json,
    render_vrrp_password,
)
from config.openstack_layout import build_layout
from config.topology import build_topology
from tests.stacks import settings_for


def test_prod_sql_virtual_address_has_a_member_per_endpoint_host() -> None:
    vip = build_topology(settings_for("prod")).sql_vip
    assert vip is not None
    assert (vip.address, vip.router_id, vip.monitor_port) == ("10.20.0.20", 51, 61313)
    assert [(m.host, m.address, m.interface, m.priority) for m in vip.members] == [
        ("db-a", "10.20.0.11", "eth0", 254), ("db-b", "10.20.0.12", "eth0", 253),
        ("db-c", "10.20.0.13", "eth0", 252)]
    assert build_layout(settings_for("prod")).api_vip.router_id == 52  # type: ignore[union-attr]


def test_conf_follows_kolla_ansible() -> None:
    vip = build_topology(settings_for("prod")).sql_vip
    assert vip is not None
    conf = render_keepalived_conf(vip, "db-b")
    for line in ("state BACKUP", "nopreempt", "interface eth0", "virtual_router_id 51",
                 "priority 253", "advert_int 1", "unicast_src_ip 10.20.0.12",
                 "10.20.0.20/32 dev eth0", "auth_type PASS", f"include {VRRP_PASSWORD_PATH}",
                 f'script "{CHECK_SCRIPT_PATH} 127.0.0.1 61313"', "fall 2", "rise 10"):
        assert line in conf, line
    peers = conf.split("unicast_peer {")[1].split("}")[0].split()
    assert peers == ["10.20.0.11", "10.20.0.13"]
    assert "auth_pass" not in conf  # the password is in its own, secret file
    with pytest.raises(ValueError, match="not a member"):
        render_keepalived_conf(vip, "elsewhere")


def test_vrrp_password_file_holds_the_password_alone() -> None:
    vip = build_topology(settings_for("prod")).sql_vip
    assert vip is not None
    assert render_vrrp_password(vip, "Ab3dEf7h") == "auth_pass Ab3dEf7h\n"
    for bad in ("", "nine-char", "123456789", "with sp"):
        with pytest.raises(ValueError, match="1-8 letters and digits"):
            render_vrrp_password(vip, bad)


def test_config_json_copies_files_as_kolla_does_and_never_dumps_the_config() -> None:
    document = json.loads(render_keepalived_config_json())
    assert document["command"] == KEEPALIVED_COMMAND
    assert " -d" not in KEEPALIVED_COMMAND and "-nld" not in KEEPALIVED_COMMAND
    perms = {f["dest"]: f["perm"] for f in document["config_files"]}
    assert perms == {"/etc/keepalived/keepalived.conf": "0600", VRRP_PASSWORD_PATH: "0600",
                     CHECK_SCRIPT_PATH: "0700"}


def test_frontends_with_a_virtual_address_bind_every_address_and_answer_a_monitor() -> None:
    prod, dev = settings_for("prod"), settings_for("dev")
    sql = render_haproxy_cfg(prod, build_topology(prod))
    assert "bind *:3306" in sql and "bind 127.0.0.1:61313" in sql and "monitor-uri /" in sql
    api = render_api_haproxy_cfg(build_layout(prod))
    assert "bind *:5000" in api and "bind 127.0.0.1:61314" in api
    # One host: no keepalived, no monitor, the container's own address.
    assert "monitor" not in render_haproxy_cfg(dev, build_topology(dev))
    assert "monitor" not in render_api_haproxy_cfg(build_layout(dev))
