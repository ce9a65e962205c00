"""The address/path rewriting of testbed.cluster (no test bed needed)."""

from __future__ import annotations

from pathlib import Path

from testbed.cluster import (
    NodeSpec,
    default_address_map,
    rewrite_addresses,
    rewrite_config_ini,
    rewrite_haproxy_cfg,
)


def test_default_map_counts_distinct_addresses_in_node_order() -> None:
    nodes = [
        NodeSpec("mgm", 1, "172.28.0.10", 1186),
        NodeSpec("data", 2, "172.28.0.11", None),
        NodeSpec("sql", 51, "172.28.0.10", 3306),  # shares the mgm host
        NodeSpec("haproxy", None, "vip", 3306),
    ]
    assert default_address_map(nodes) == {
        "172.28.0.10": "127.0.1.1",
        "172.28.0.11": "127.0.1.2",
        "vip": "127.0.1.3",
    }


def test_whole_tokens_only() -> None:
    mapping = {"172.28.0.1": "127.0.1.1", "172.28.0.10": "127.0.1.2", "db": "127.0.1.3"}
    text = "a=172.28.0.1:1186,172.28.0.10:1186 b=172.28.0.100 c=db d=db-1 e=mydb f=db.x"
    assert rewrite_addresses(text, mapping) == (
        "a=127.0.1.1:1186,127.0.1.2:1186 b=172.28.0.100 c=127.0.1.3 d=db-1 e=mydb f=db.x"
    )


def test_config_ini_dirs_go_to_workdir() -> None:
    ini = (
        "[ndbd default]\nDataDir=/var/lib/mysql-cluster\n"
        "[ndbd]\nHostName=172.28.0.11\nDataDir=/data\nBackupDataDir=/backup\nNodeId=2\n"
    )
    out = rewrite_config_ini(ini, {"172.28.0.11": "127.0.1.2"}, Path("/w"))
    assert out == (
        "[ndbd default]\nDataDir=/w/ndb\n"
        "[ndbd]\nHostName=127.0.1.2\nDataDir=/w/node-2\nBackupDataDir=/w/node-2\nNodeId=2\n"
    )


def test_haproxy_binds_own_address_and_drops_host_globals() -> None:
    cfg = (
        "global\n    chroot /var/lib/haproxy\n    user haproxy\n    maxconn 10\n"
        "defaults\n    mode tcp\n"
        "frontend f\n    bind *:3306\n    bind :9000\n"
        "backend b\n    server s 172.28.0.21:3306 check\n"
    )
    out = rewrite_haproxy_cfg(cfg, {"172.28.0.21": "127.0.1.4"}, "127.0.1.6")
    assert out == (
        "global\n    maxconn 10\n"
        "defaults\n    source 127.0.1.6\n    mode tcp\n"
        "frontend f\n    bind 127.0.1.6:3306\n    bind 127.0.1.6:9000\n"
        "backend b\n    server s 127.0.1.4:3306 check\n"
    )


def test_haproxy_gets_defaults_with_source_when_it_has_none() -> None:
    cfg = "listen mysql\n    bind 0.0.0.0:3306\n    server s 172.28.0.21:3306\n"
    out = rewrite_haproxy_cfg(cfg, {"172.28.0.21": "127.0.1.4"}, "127.0.1.6")
    assert out == (
        "defaults\n    source 127.0.1.6\n\n"
        "listen mysql\n    bind 127.0.1.6:3306\n    server s 127.0.1.4:3306\n"
    )
