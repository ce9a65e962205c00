"""How tests get the test bed and tools: present, or skipped with the fix - and under CI=true,
failed.

CI must never pass by skipping silently (a missing test bed there is a broken install step)."""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

from testbed.cluster import Testbed, TestbedError, TestCluster

# What every real-server test claims to run on (the README, docs/ndb-compatibility.md): Oracle
# MySQL 9.7, the series of the NDB image the stacks pin. Checked on each server they start.
MYSQL_SERIES = "9.7"


def unavailable(reason: str) -> NoReturn:
    """Something a test needs is missing: skip with the fix, or under CI=true fail."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def require_testbed() -> Testbed:
    try:
        return Testbed.load()
    except (TestbedError, OSError) as error:
        unavailable(f"no NDB test bed ({error}); run `make testbed` (testbed/provision.sh)")


def require_tool(name: str) -> str:
    """A program from a Debian package (.ci/run installs them), on PATH or in /usr/sbin."""
    path = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))
    if path is None:
        unavailable(f"{name} is not installed (.ci/run installs it)")
    return path


def check_mysql_series(version: str, where: str) -> None:
    """``version`` is SELECT VERSION() of the server at ``where``: fail unless it is 9.7."""
    if not version.startswith(f"{MYSQL_SERIES}."):
        raise AssertionError(f"{where} runs MySQL {version!r}, not {MYSQL_SERIES}.x: the tests "
                             f"on it would prove nothing about {MYSQL_SERIES}")


def check_sql_nodes_series(cluster: TestCluster) -> None:
    """Every SQL node of a started cluster runs MySQL 9.7."""
    for node in cluster.files.nodes:
        if node.kind == "sql" and node.node_id is not None:
            version = cluster.sql(node.node_id, "SELECT VERSION()").strip()
            check_mysql_series(version, f"SQL node {node.node_id}")
