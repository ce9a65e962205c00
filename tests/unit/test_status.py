"""tools/status.py's pure parts: `ndb_mgm -e show` parsed, the DataMemory bar, the text."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tools.status import (
    Access,
    Node,
    Status,
    bar,
    degraded,
    gather,
    parse_show,
    render_text,
    stack_access,
)

# ndb_mgm -e show on the test bed (NDB 9.7.2), data node 2 killed.
SHOW = """Connected to Management Server at: 127.0.6.1:1186
Cluster Configuration
---------------------
[ndbd(NDB)]\t2 node(s)
id=1\t@127.0.0.1  (mysql-9.7.2 ndb-9.7.2, Nodegroup: 0, *)
id=2 (not connected, accepting connect from 127.0.6.3)

[ndb_mgmd(MGM)]\t1 node(s)
id=145\t@127.0.6.1  (mysql-9.7.2 ndb-9.7.2)

[mysqld(API)]\t3 node(s)
id=147\t@127.0.6.4  (mysql-9.7.2 ndb-9.7.2)
id=148 (not connected, accepting connect from 127.0.6.5)
id=149 (not connected, accepting connect from any host)
"""


def test_show_is_parsed_with_state_address_version_and_node_group() -> None:
    nodes = parse_show(SHOW)
    assert [(n.kind, n.node_id) for n in nodes] == [
        ("NDB", 1), ("NDB", 2), ("MGM", 145), ("API", 147), ("API", 148), ("API", 149)]
    assert nodes[0] == Node(1, "NDB", "127.0.0.1", "9.7.2", 0, "connected")
    assert nodes[1] == Node(2, "NDB", None, None, None, "not connected")
    assert nodes[3].version == "9.7.2" and nodes[3].node_group is None


def test_bar_shows_the_share_and_the_sizes() -> None:
    assert bar(3 << 28, 1 << 30, width=10) == \
        "[########..]  75% (768.0 MiB of 1,024.0 MiB)"
    assert bar(0, 0, width=4) == "[....]   0% (0.0 MiB of 0.0 MiB)"


def test_text_lists_what_could_not_be_read() -> None:
    status = Status(time="t", nodes=parse_show(SHOW), problems=["no ndbinfo: refused"])
    text = render_text(status, "status")
    assert "Not shown:\n  no ndbinfo: refused" in text
    assert "Last backup: unknown (no ndbinfo)" in text  # not "none": it was not read
    status.sql_nodes_connected = 2
    assert "Last backup: none" in render_text(status, "status")
    assert "Cluster log: no ALERT events" in text


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_gather_asks_ndb_mgm_once_and_lists_what_failed_without_a_traceback(
        tmp_path: Path) -> None:
    argv_file = tmp_path / "argv"
    port = _closed_port()
    access = Access(
        # Records its arguments and fails as ndb_mgm does with no management node.
        ndb_mgm=["sh", "-c", 'printf "%s\\n" "$@" > "$0"; echo "ERROR: Unable to connect" >&2;'
                 " exit 255", str(argv_file)],
        sql_host="127.0.0.1", sql_port=port, sql_user="root", sql_password="",
        checks={"ndb-sql-1": f"http://127.0.0.1:{port}/"},
        cluster_log=[str(tmp_path / "no-such-program")])
    status = gather(access)
    # ndb_mgm's default is 12 attempts 5 s apart (56 s with the management node down).
    assert argv_file.read_text().split() == ["--connect-retries=1", "-e", "show"]
    assert status.problems[0] == "ndb_mgm -e show failed: ERROR: Unable to connect"
    assert status.problems[1].startswith(f"no ndbinfo through 127.0.0.1:{port}")
    assert status.problems[2].startswith("cluster log unreadable: [Errno 2]")
    assert status.backends["ndb-sql-1"].startswith("no answer")


def test_a_stack_not_deployed_or_unknown_is_said_without_a_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pulumi = tmp_path / "pulumi"
    pulumi.write_text("#!/bin/sh\necho \"error: no stack named 'dev' found\" >&2\nexit 255\n")
    pulumi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    with pytest.raises(SystemExit) as info:
        stack_access("dev")
    assert str(info.value).startswith(
        "pulumi stack output sqlEndpoint failed on stack dev: error: no stack named 'dev' "
        "found\n(is it deployed? `make up STACK=dev`")
    with pytest.raises(SystemExit) as info:
        stack_access("nope")
    assert str(info.value).startswith("no stack file Pulumi.nope.yaml")


def test_the_first_line_says_healthy_or_what_is_degraded() -> None:
    healthy = Status(time="t", nodes=[Node(1, "NDB", "a", "9.7.2", 0, "STARTED"),
                                      Node(145, "MGM", "b", "9.7.2", None, "connected")],
                     backends={"ndb-sql-1": "200 ready"})
    assert render_text(healthy, "s").splitlines()[1] == "HEALTHY"
    assert degraded(healthy) == []
    sick = Status(time="t", nodes=parse_show(SHOW), backends={"ndb-sql-2": "503 probe failed"})
    assert degraded(sick) == ["data node 2 not connected",
                              "ndb-sql-2 out of the SQL endpoint's rotation (503 probe failed)"]
    assert render_text(sick, "s").splitlines()[1].startswith("DEGRADED: data node 2")
