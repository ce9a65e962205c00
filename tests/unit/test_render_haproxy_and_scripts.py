"""haproxy.cfg goes through `haproxy -c`, every script through shellcheck."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.render.artifacts import all_scripts, render_cluster
from components.render.haproxy import render_haproxy_cfg
from config import build_topology
from testbed.pytest_support import require_tool
from tests.stacks import STACKS, settings_for


@pytest.mark.parametrize("stack", STACKS)
def test_haproxy_cfg_lists_every_sql_node(stack: str) -> None:
    settings = settings_for(stack)
    topo = build_topology(settings)
    text = render_haproxy_cfg(settings, topo)
    for sql in topo.sql:
        assert f"server {sql.name} {sql.address}:{sql.port} check" in text
    assert "tcp-check expect rbinary" in text  # the MySQL greeting, no login


@pytest.mark.parametrize("stack", STACKS)
def test_haproxy_accepts_the_config(stack: str, tmp_path: Path) -> None:
    haproxy = require_tool("haproxy")
    settings = settings_for(stack)
    cfg = tmp_path / "haproxy.cfg"
    # The bind address belongs to the target host; check syntax with a local one.
    text = render_haproxy_cfg(settings, build_topology(settings))
    endpoint = build_topology(settings).endpoint.address
    cfg.write_text(text.replace(f"bind {endpoint}:", "bind 127.0.0.1:"))
    result = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_scripts_pass_shellcheck(stack: str, tmp_path: Path) -> None:
    shellcheck = require_tool("shellcheck")
    scripts = all_scripts(render_cluster(settings_for(stack)))
    paths = []
    for name, text in scripts.items():
        path = tmp_path / name
        path.write_text(text)
        paths.append(str(path))
    result = subprocess.run([shellcheck, "--severity=style", *paths],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_gate_scripts_carry_their_node_ids() -> None:
    artifacts = render_cluster(settings_for("prod"))
    assert "ids=(1 2)" in artifacts.node_groups[0].group_gate
    assert "ids=(147 148 149 150 151 152)" in artifacts.sql_gate
    assert "connectstring='10.20.0.12:1186'" in artifacts.management_gates[1]
    assert "timeout=900" in artifacts.sql_gate
