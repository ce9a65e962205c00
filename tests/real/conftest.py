"""Fixtures of the real-server tests: one Oracle MySQL 9.7 server for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.real.mysql_server import MysqlServer
from tests.real.mysql_server import mysql_server as start_mysql_server


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[MysqlServer]:
    """Started once (it takes seconds), stopped and removed at the end, even on failures."""
    with start_mysql_server() as server:
        yield server
