"""haproxy.cfg goes through `haproxy -c`, every script through shellcheck; the scripts run
as files and as shipped, with their parameters in the environment."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from components.render.artifacts import all_scripts, render_cluster
from components.render.control_plane import control_plane_scripts
from components.render.haproxy import render_haproxy_cfg
from components.render.shell import SCRIPTS_DIR, Script, script_file
from config import build_topology
from config.sql_check import check_port
from testbed.pytest_support import require_tool
from tests.stacks import STACKS, settings_for


@pytest.mark.parametrize("stack", STACKS)
def test_haproxy_cfg_lists_every_sql_node(stack: str) -> None:
    settings = settings_for(stack)
    topo = build_topology(settings)
    text = render_haproxy_cfg(settings, topo)
    for sql in topo.sql:
        port = check_port(settings, topo, sql)
        assert f"server {sql.name} {sql.address}:{sql.port} check port {port}\n" in text
    # Each SQL node's check agent, not the MySQL greeting, decides (components/render/sql_check.py).
    assert "option httpchk GET /\n    http-check expect status 200\n" in text
    assert "on-marked-down shutdown-sessions" in text
    assert "tcp-check" not in text


@pytest.mark.parametrize("stack", STACKS)
def test_haproxy_accepts_the_config(stack: str, tmp_path: Path) -> None:
    haproxy = require_tool("haproxy")
    settings = settings_for(stack)
    cfg = tmp_path / "haproxy.cfg"
    # The bind address belongs to the target host; check syntax with a local one.
    text = render_haproxy_cfg(settings, build_topology(settings))
    endpoint = build_topology(settings).endpoints[0].address
    cfg.write_text(text.replace(f"bind {endpoint}:", "bind 127.0.0.1:"))
    result = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_scripts_pass_shellcheck(stack: str, tmp_path: Path) -> None:
    shellcheck = require_tool("shellcheck")
    scripts = all_scripts(render_cluster(settings_for(stack)))
    paths = []
    for name, script in scripts.items():
        path = tmp_path / name
        path.write_text(script.text)
        paths.append(str(path))
    # SC1091 (not following a `source`): in the shipped text a body's `source` of the library
    # never runs, the library's text is above it; test_script_files_pass_shellcheck follows it.
    result = subprocess.run([shellcheck, "--severity=style", "--exclude=SC1091", *paths],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_script_files_pass_shellcheck() -> None:
    shellcheck = require_tool("shellcheck")
    files = sorted(str(p) for p in SCRIPTS_DIR.glob("*.sh"))
    assert len(files) == 11
    result = subprocess.run([shellcheck, "--severity=style", "--external-sources", *files],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_gate_scripts_carry_their_node_ids() -> None:
    artifacts = render_cluster(settings_for("prod"))
    assert artifacts.node_groups[0].group_gate.environment["NDB_NODE_IDS"] == "1 2"
    assert artifacts.sql_gate.environment["NDB_NODE_IDS"] == "147 148 149 150 151 152"
    assert artifacts.management_gates[1].environment["NDB_CONNECTSTRING"] == "10.20.0.12:1186"
    assert artifacts.sql_gate.environment["NDB_GATE_TIMEOUT_SECONDS"] == "900"
    # Nothing of the stack is formatted into a text: every gate ships the same files.
    gates = [s for name, s in all_scripts(artifacts).items() if name.startswith("gate-")]
    assert {s.text for s in gates} == {
        script_file("ndb-gate-lib.sh") + "\n" + script_file("ndb-gate.sh")}


def test_every_parameter_is_documented_at_the_top_of_its_script() -> None:
    settings = settings_for("prod")
    scripts = {**all_scripts(render_cluster(settings)), **control_plane_scripts(settings)}
    for name, script in scripts.items():
        for key in script.environment:
            assert re.search(rf"^#\s+{key}\b", script.text, re.MULTILINE), (name, key)


def _fake_ndb_mgm(tmp_path: Path, status: str) -> Path:
    """What NDB_MGM names: here a stub that answers every command with `status`."""
    (tmp_path / "status").write_text(status)
    stub = tmp_path / "ndb_mgm"
    stub.write_text(f"#!/bin/sh\ncat {tmp_path / 'status'}\n")
    stub.chmod(0o755)
    return stub


def _run(argv: list[str], script: Script, cwd: Path, **extra: str
         ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **script.environment, **extra}
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_a_gate_runs_as_shipped_and_as_its_file(tmp_path: Path) -> None:
    """The shipped text by `bash -c`, as the Command runs it, and the body file alone, which
    reads the library from beside itself: both wait on the same environment."""
    group = render_cluster(settings_for("dev")).node_groups[0].group_gate
    stub = str(_fake_ndb_mgm(tmp_path, "Node 1: started (mysql-9.7.2)\n"
                                       "Node 2: started (mysql-9.7.2)\n"))
    for argv in (["bash", "-c", group.text], ["bash", str(SCRIPTS_DIR / "ndb-gate.sh")]):
        done = _run(argv, group, tmp_path, NDB_MGM=stub)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "started gate for" in done.stdout
        assert "ready: data nodes started (nodes 1 2)" in done.stdout
    quick = {"NDB_MGM": stub, "NDB_GATE_TIMEOUT_SECONDS": "0", "NDB_GATE_POLL_SECONDS": "1"}
    done = _run(["bash", "-c", group.text], group, tmp_path, **quick, NDB_NODE_IDS="1 3")
    assert done.returncode == 1
    assert "node(s) 3 not ready after 0s" in done.stderr and "Node 2: started" in done.stderr


def test_a_script_refuses_a_missing_or_malformed_parameter(tmp_path: Path) -> None:
    restart = render_cluster(settings_for("dev")).node_groups[0].rolling_restart
    stub = str(_fake_ndb_mgm(tmp_path, ""))
    done = _run(["bash", "-c", restart.text], restart, tmp_path, NDB_MGM=stub,
                NDB_CONNECTSTRING="")
    assert done.returncode != 0 and "NDB_CONNECTSTRING" in done.stderr
    # bash arithmetic evaluates a subscript in a variable's value: ids[$(cmd)] would run cmd.
    done = _run(["bash", "-c", restart.text], restart, tmp_path, NDB_MGM=stub,
                NDB_GATE_TIMEOUT_SECONDS="ids[$(touch ran)]")
    assert done.returncode == 2 and "is not a number" in done.stderr
    assert not (tmp_path / "ran").exists()
    assert "restarting" not in done.stdout
