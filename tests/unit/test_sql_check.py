"""The SQL node check without a server: the agent's decision on the status values, the agent
as a process against a stand-in `mysql`, its account script against a stand-in `mysql`, what
is rendered for it, and where its ports go."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from components.render.artifacts import render_cluster
from components.render.shell import SCRIPTS_DIR
from components.render.sql_check import (
    AGENT_FILE,
    CHECK_USER,
    render_check_account_sql,
    render_check_cnf,
)
from config import build_topology
from config.loader import SettingsError, load_settings
from config.sql_check import check_port
from tests.stacks import modified, settings_for

AGENT = SCRIPTS_DIR / AGENT_FILE
def _agent_module() -> ModuleType:
    # Imported under its own name, so that it defines its functions and runs nothing.
    spec = importlib.util.spec_from_file_location("ndb_sql_check", AGENT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ndb_sql_check"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


agent = _agent_module()


# --- the decision ----------------------------------------------------------------------

READY = ("Ndb_cluster_node_id\t147\nNdb_number_of_ready_data_nodes\t2\n"
         "ndbinfo_started_data_nodes\t2\n")
COUNTERS = {"Ndb_cluster_node_id": "147", "Ndb_number_of_ready_data_nodes": "2"}


def test_ready_when_connected_with_ready_and_started_data_nodes() -> None:
    ok, reason = agent.decide(agent.parse(READY), None, None)
    assert ok and reason == "ready: node id 147, 2 data node(s) ready, 2 started (ndbinfo)"


@pytest.mark.parametrize(("values", "reason"), [
    ({**COUNTERS, "Ndb_cluster_node_id": "0", "ndbinfo_started_data_nodes": "0"},
     "not connected to the cluster (Ndb_cluster_node_id 0)"),
    ({**COUNTERS, "Ndb_number_of_ready_data_nodes": "0", "ndbinfo_started_data_nodes": "2"},
     "no data node ready (Ndb_number_of_ready_data_nodes 0, node id 147)"),
    ({**COUNTERS, "ndbinfo_started_data_nodes": "0"},
     "ndbinfo.nodes shows no started data node (node id 147)"),
    ({"Ndb_number_of_ready_data_nodes": "2", "ndbinfo_started_data_nodes": "2"},
     "no NDB status (Ndb_cluster_node_id missing): is ndbcluster enabled?"),
])
def test_unfit_on_a_zero_or_missing_counter(values: dict[str, str], reason: str) -> None:
    assert agent.decide(values, None, True) == (False, reason)


def test_a_failed_login_is_unfit_with_its_message_on_one_line() -> None:
    error = "mysql exit 1: ERROR 1045 (28000): Access denied\nfor user"
    assert agent.decide({}, error, True) == (
        False, "probe failed: mysql exit 1: ERROR 1045 (28000): Access denied for user")


def test_a_hung_read_is_a_cut_only_when_no_cluster_node_answers() -> None:
    """Measured: cut off, the counters stay as they were and the ndbinfo read hangs; one data
    node lost, the read hangs as well, on every SQL node, but the others still answer."""
    hung = "no answer within 0.5 s"
    assert agent.decide(COUNTERS, hung, True) == (
        True, "degraded: ndbinfo read: no answer within 0.5 s; the cluster is reachable "
              "(node id 147)")
    assert agent.decide(COUNTERS, hung, False) == (
        False, "cut off: no management or data node reachable (node id 147); ndbinfo read: "
               "no answer within 0.5 s")
    failed = "mysql exit 1: ERROR 1296 (HY000) at line 1: Got error 157 'Connection to NDB"
    assert agent.decide(COUNTERS, failed, None)[1].startswith("cut off:")


def test_a_read_refused_for_a_grant_is_no_degraded_node() -> None:
    error = ("mysql exit 1: ERROR 1356 (HY000) at line 1: View 'ndbinfo.nodes' references "
             "invalid table(s)")
    assert agent.decide(COUNTERS, error, True) == (False, f"probe failed: {error}")


def test_parse_reads_name_tab_value_lines_only() -> None:
    assert agent.parse("a\t1\nnoise\nb\t 2 \n") == {"a": "1", "b": "2"}


def test_the_monitor_keeps_the_counters_of_a_probe_killed_before_them() -> None:
    now = [100.0]
    monitor = agent.Monitor(stale_after=2.0, clock=lambda: now[0])
    assert monitor.verdict() == (False, "starting: no probe finished yet")
    monitor.record(agent.Outcome(agent.parse(READY), None))
    assert monitor.verdict()[0]
    hung = "no answer within 0.5 s"
    monitor.record(agent.Outcome({}, hung, timed_out=True, peers_reachable=True))
    assert monitor.verdict()[1].startswith("degraded: ndbinfo read: no answer within 0.5 s")
    monitor.record(agent.Outcome({}, hung, timed_out=True, peers_reachable=False))
    assert monitor.verdict()[1].startswith("cut off:")
    now[0] += 2.5
    assert monitor.verdict() == (False, "no probe finished for 2.5 s")


@contextmanager
def _silent_peer() -> Iterator[tuple[str, int]]:
    """A local address whose SYNs go unanswered, as behind a DROP rule: a listener with a full
    accept queue (backlog 0, filled, never accepted) drops further SYNs."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(server.getsockname())
            fillers.append(filler)
        time.sleep(0.2)
        try:
            yield server.getsockname()
        finally:
            for filler in fillers:
                filler.close()


def test_reachable_counts_an_answer_or_a_refusal_not_silence() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert agent.reachable([server.getsockname()], "127.0.0.1", 0.5)
    assert agent.reachable([("127.0.0.1", _free_port())], None, 0.5)  # refused: a path
    with _silent_peer() as silent:
        started = time.monotonic()
        assert not agent.reachable([silent], "127.0.0.1", 0.3)
        assert 0.3 <= time.monotonic() - started < 1.0
        assert agent.reachable([silent, ("127.0.0.1", _free_port())], None, 0.3)


# --- the agent as a process ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _until(url: str, status: int, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    seen: tuple[int, str] = (0, "")
    while time.monotonic() < deadline:
        try:
            seen = _get(url)
        except OSError:
            seen = (0, "not listening")
        if seen[0] == status:
            return seen[1]
        time.sleep(0.1)
    raise AssertionError(f"{url}: wanted {status}, last {seen}")


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as exits:
        yield exits


@pytest.fixture
def running_agent(tmp_path: Path, stack: ExitStack) -> Iterator[dict[str, Any]]:
    """The agent on 127.0.0.1 asking a stand-in mysql that answers what `answer` holds; while
    `hang` exists its ndbinfo read hangs after the counters. Its only peer is a port that a
    never answers. The stand-in records its argv."""
    (tmp_path / "answer").write_text(READY)
    fake = tmp_path / "mysql"
    fake.write_text(f"""#!/bin/sh
printf '%s\\n' "$@" > {tmp_path}/argv
head -n 2 {tmp_path}/answer
while [ -e {tmp_path}/hang ]; do sleep 0.1; done
tail -n +3 {tmp_path}/answer
""")
    fake.chmod(0o755)
    cnf = tmp_path / "check.cnf"
    cnf.write_text(render_check_cnf("s3cretPassw0rd"))
    cnf.chmod(0o400)
    port = _free_port()
    silent = stack.enter_context(_silent_peer())
    argv = [sys.executable, str(AGENT), "--listen", f"127.0.0.1:{port}", "--host", "127.0.0.1",
            "--port", "3306", "--bind-address", "127.0.0.1", "--user", CHECK_USER,
            "--defaults-file", str(cnf), "--mysql", str(fake), "--interval", "0.2",
            "--timeout", "0.5", "--peers", f"{silent[0]}:{silent[1]}"]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        yield {"url": f"http://127.0.0.1:{port}/", "dir": tmp_path, "proc": proc}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_agent_answers_200_then_503_with_the_reason(running_agent: dict[str, Any]) -> None:
    url, folder = running_agent["url"], running_agent["dir"]
    body = _until(url, 200)
    assert body == "ready: node id 147, 2 data node(s) ready, 2 started (ndbinfo)\n"
    (folder / "answer").write_text(READY.replace("ready_data_nodes\t2", "ready_data_nodes\t0"))
    assert "no data node ready" in _until(url, 503)
    (folder / "answer").write_text(READY)
    _until(url, 200)
    # An ndbinfo read that hangs, and no management or data node answers: cut off. (With
    # one that answers it is "degraded": test_a_hung_read_is_a_cut_only_when_...)
    (folder / "hang").touch()
    hung = time.monotonic()
    body = _until(url, 503)
    assert body == ("cut off: no management or data node reachable (node id 147); ndbinfo "
                    "read: no answer within 0.5 s\n"), body
    assert time.monotonic() - hung <= 2.0
    (folder / "hang").unlink()
    _until(url, 200)
    # The password is in the option file only: never an argument of the client.
    argv = (folder / "argv").read_text().splitlines()
    assert argv[0] == f"--defaults-file={folder / 'check.cnf'}"
    assert f"--user={CHECK_USER}" in argv and "--bind-address=127.0.0.1" in argv
    assert not [a for a in argv if "s3cret" in a]


def test_the_agent_exits_on_sigterm(running_agent: dict[str, Any]) -> None:
    _until(running_agent["url"], 200)
    proc = running_agent["proc"]
    proc.terminate()  # docker stop
    assert proc.wait(timeout=5) == 0


def test_the_agent_exits_when_mysqld_stays_unreachable(tmp_path: Path) -> None:
    fake = tmp_path / "mysql"
    fake.write_text("#!/bin/sh\necho \"ERROR 2003 (HY000): Can't connect\" >&2\nexit 1\n")
    fake.chmod(0o755)
    argv = [sys.executable, str(AGENT), "--listen", f"127.0.0.1:{_free_port()}", "--host", "h",
            "--port", "1", "--user", "u", "--defaults-file", "f", "--mysql", str(fake),
            "--interval", "0.1", "--timeout", "0.5", "--exit-after", "1"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    assert done.returncode == 3, done.stderr
    assert "mysqld unreachable" in done.stderr


# --- the account script ----------------------------------------------------------------


def _account_run(tmp_path: Path, fail_first: int) -> subprocess.CompletedProcess[str]:
    """scripts/sql-check-account.sh as shipped, SQL_EXEC putting a stand-in mysql first on
    PATH: it fails `fail_first` times, then records its argv, option file and stdin."""
    stub = tmp_path / "bin"
    stub.mkdir()
    (tmp_path / "failures").write_text("")
    mysql = stub / "mysql"
    mysql.write_text(f"""#!/bin/bash
if [ "$(wc -c < {tmp_path}/failures)" -lt {fail_first} ]; then
  printf x >> {tmp_path}/failures
  echo "ERROR 2002 (HY000): Can't connect to local MySQL server through socket" >&2
  exit 1
fi
printf '%s\\n' "$@" > {tmp_path}/argv
for a in "$@"; do
  case $a in --defaults-extra-file=*) cat "${{a#*=}}" > {tmp_path}/options ;; esac
done
cat > {tmp_path}/stdin
""")
    mysql.chmod(0o755)
    (tmp_path / "root-password").write_text("r00tPassword")
    check = render_cluster(settings_for("dev")).sql_checks[0]
    env = {**os.environ, **check.account.environment,
           "SQL_ROOT_PASSWORD_FILE": str(tmp_path / "root-password"),
           "SQL_EXEC": f"env PATH={stub}:/usr/bin:/bin",
           "SQL_CHECK_ACCOUNT_POLL_SECONDS": "1", "SQL_CHECK_ACCOUNT_TIMEOUT_SECONDS": "5"}
    statements = render_check_account_sql(check.node, "checkPassw0rd")
    return subprocess.run(["bash", "-c", check.account.text], input=statements, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_account_script_hands_root_password_in_an_option_file(tmp_path: Path) -> None:
    done = _account_run(tmp_path, fail_first=1)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not yet: ERROR 2002" in done.stdout
    assert "done: check account on ndb-sql-1" in done.stdout
    argv = (tmp_path / "argv").read_text().splitlines()
    assert argv[0].startswith("--defaults-extra-file=/dev/fd/")
    assert "--socket=/var/lib/mysql/mysql.sock" in argv
    assert not [a for a in argv if "r00t" in a or "checkPassw0rd" in a]
    assert (tmp_path / "options").read_text() == "[client]\nuser=root\npassword=r00tPassword\n"
    assert (tmp_path / "stdin").read_text() == render_check_account_sql(
        build_topology(settings_for("dev")).sql[0], "checkPassw0rd")


def test_the_account_script_gives_up_after_its_timeout(tmp_path: Path) -> None:
    done = _account_run(tmp_path, fail_first=100)
    assert done.returncode == 1
    assert "FAILED: check account on ndb-sql-1 after 5s" in done.stderr
    assert "ERROR 2002" in done.stderr


# --- what is rendered ------------------------------------------------------------------


def test_account_statements_and_option_file() -> None:
    node = build_topology(settings_for("dev")).sql[1]
    assert render_check_account_sql(node, "pw12345678") == (
        "CREATE USER IF NOT EXISTS 'ndb_sql_check'@'172.28.0.11' IDENTIFIED BY 'pw12345678';\n"
        "ALTER USER 'ndb_sql_check'@'172.28.0.11' IDENTIFIED BY 'pw12345678';\n"
        "GRANT SELECT ON ndbinfo.nodes TO 'ndb_sql_check'@'172.28.0.11';\n"
        "GRANT SELECT ON ndbinfo.`ndb$nodes` TO 'ndb_sql_check'@'172.28.0.11';\n")
    assert render_check_cnf("pw12345678") == "[client]\npassword=pw12345678\n"
    for bad in ("short", "quote'd-password", "new\nline-password"):
        with pytest.raises(ValueError, match="password"):
            render_check_cnf(bad)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_sql_node_has_its_agent_on_its_own_address(stack: str) -> None:
    artifacts = render_cluster(settings_for(stack))
    for check, sql in zip(artifacts.sql_checks, artifacts.topology.sql, strict=True):
        command = list(check.command)
        assert command[:4] == ["mysqlsh", "--py", "--file", "/opt/openstack-ndb/ndb_sql_check.py"]
        options = dict(zip(command[4::2], command[5::2], strict=True))
        assert options["--listen"] == f"{sql.address}:4569"
        assert options["--host"] == options["--bind-address"] == sql.address
        assert options["--port"] == str(sql.port)
        assert options["--defaults-file"] == "/run/secrets/ndb-sql-check.cnf"
        # What a cut-off node cannot reach: management nodes, data nodes with a fixed port;
        # never the SQL node's own host, whose nodes answer it even when it is cut off.
        peers = options["--peers"].split(",")
        assert [f"{m.address}:{m.port}" for m in artifacts.topology.management
                if m.address != sql.address] == [p for p in peers if p.endswith(":1186")]
        assert not [p for p in peers if p.startswith(f"{sql.address}:")]
        fixed = [d for d in artifacts.topology.data if d.port is not None]  # host networking
        assert len(peers) == len([n for n in (*artifacts.topology.management, *fixed)
                                  if n.address != sql.address])
        assert f"server {sql.name} {sql.endpoint} check port 4569\n" in artifacts.haproxy_cfg


def test_sql_nodes_sharing_a_host_take_consecutive_check_ports() -> None:
    settings = load_settings(modified("prod", "sqlNodes.hosts", ["db-a", "db-b", "db-a"]))
    topo = build_topology(settings)
    assert [check_port(settings, topo, n) for n in topo.sql] == [4569, 4569, 4570]


def _problems(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SettingsError) as info:
        load_settings(raw)
    return {p.path: p.message for p in info.value.problems}


def test_a_check_port_taken_on_a_host_is_rejected_with_its_key() -> None:
    found = _problems(modified("prod", "sqlNodes.checkPort", 3307))  # the SQL nodes' port
    assert "sqlNodes.checkPort" in found
    assert "3307" in found["sqlNodes.checkPort"]


def test_the_check_port_is_not_mysqlds_on_one_host() -> None:
    found = _problems(modified("dev", "sqlNodes.checkPort", 3306))
    assert "network namespace" in found["sqlNodes.checkPort"]
