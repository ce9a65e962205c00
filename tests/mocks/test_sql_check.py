"""The SQL node check under Pulumi mocks: per SQL node a check container beside it and its
account, both secret where they hold the password, and HAProxy started after them."""

from __future__ import annotations

import pytest

from components.render.sql_check import AGENT_PATH, CHECK_CNF_PATH, agent_text
from config import build_topology
from tests.mock_program import SECRET_SIG
from tests.mocks.test_openstack import SECRET_KEY, unwrap
from tests.mocks.test_program import COMMAND, CONTAINER, run
from tests.stacks import settings_for

PASSWORD = "mock-password-ndb-sql-check-password"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_sql_node_has_its_check_container_and_account(stack: str) -> None:
    r = run(stack)
    settings = settings_for(stack)
    topo = build_topology(settings)
    endpoints = [r.by_name(f"ndb-sql-endpoint-{i + 1}") for i in range(len(topo.endpoints))]
    assert len([c for c in r.of_type(CONTAINER) if c.name.endswith("-check")]) == len(topo.sql)
    for node in topo.sql:
        check = r.by_name(f"{node.name}-check")
        assert check.type == CONTAINER
        assert check.inputs["name"] == f"{node.container_name}-check"
        assert check.inputs["image"] == r.by_name(node.name).inputs["image"]  # the NDB image
        assert check.inputs["command"][:4] == ["mysqlsh", "--py", "--file", AGENT_PATH]
        assert check.inputs["memory"] == settings.sql_nodes.check_memory_limit >> 20
        files = {u["file"]: u for u in unwrap(check.inputs["uploads"])}
        assert files[AGENT_PATH]["content"] == agent_text()
        cnf = files[CHECK_CNF_PATH]
        assert cnf["permissions"] == "0400"
        assert unwrap(cnf["content"]) == f"[client]\npassword={PASSWORD}\n"
        assert _secret_somewhere(check.raw_inputs["uploads"])  # the option file is secret
        assert PASSWORD not in " ".join(check.inputs["command"])
        assert not [e for e in check.inputs.get("envs") or [] if PASSWORD in e]
        if stack == "dev":
            assert check.inputs["networkMode"] == f"container:{node.name}-id"
        else:
            assert check.inputs["networkMode"] == "host"

        account = r.by_name(f"{node.name}-check-account")
        assert account.type == COMMAND
        env = account.inputs["environment"]
        assert env["SQL_EXEC"] == f"docker exec -i {node.container_name}"
        assert env["DOCKER_HOST"] == settings.host(node.host).endpoint
        assert account.raw_inputs["stdin"].get(SECRET_KEY) == SECRET_SIG
        statements = unwrap(account.inputs["stdin"])
        assert f"CREATE USER IF NOT EXISTS 'ndb_sql_check'@'{node.address}'" in statements
        assert PASSWORD in statements and PASSWORD not in str(env)
        # After the SQL node's gate (mysqld up); again when its container is replaced.
        assert r.depends_transitively(account, r.by_name(f"{node.name}-gate"))
        assert account.inputs["triggers"] == [f"{node.name}-id"]
        # HAProxy sends no client before every agent can log in.
        for endpoint in endpoints:
            assert r.depends_transitively(endpoint, account)
            assert r.depends_transitively(endpoint, check)


def _secret_somewhere(value: object) -> bool:
    if isinstance(value, dict):
        return value.get(SECRET_KEY) == SECRET_SIG or any(
            _secret_somewhere(v) for v in value.values())
    if isinstance(value, list):
        return any(_secret_somewhere(v) for v in value)
    return False
