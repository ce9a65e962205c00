"""The dev stack's cluster on the test bed, from the program's own rendered files.

The program sizes NDB's dictionary for the stack's OpenStack services
(``openstack.services``, ``config/sizing.py`` over ``config/ndb_sizing.yaml``), so the
rendered config.ini already carries MaxNoOfTables and friends. ``services=[]`` renders the
same stack for no services, i.e. with NDB's default dictionary - how (a) was measured "as the
dev stack rendered before sizing".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pymysql

from components.database import AdminEndpoint
from config import Settings, load_settings
from testbed.cluster import TestCluster
from testbed.pytest_support import check_sql_nodes_series, require_testbed, unavailable
from testbed.rendered import cluster_files
from tests.openstack.services import VENVS
from tests.stacks import raw_settings

SQL_NODE = 147  # the dev stack's first SQL node
OTHER_SQL_NODE = 148  # and its second


def dev_settings(services: Sequence[str] | None = None) -> Settings:
    raw = raw_settings("dev")
    if services is not None:
        raw.setdefault("openstack", {})["services"] = list(services)
    return load_settings(raw)


@contextmanager
def dev_cluster(workdir: Path, services: Sequence[str] | None = None) -> Iterator[TestCluster]:
    files, _ = cluster_files(dev_settings(services))
    with TestCluster(files, workdir) as cluster:
        cluster.start()
        check_sql_nodes_series(cluster)
        yield cluster


def admin_endpoint(cluster: TestCluster) -> AdminEndpoint:
    host, port = cluster.sql_address(SQL_NODE)
    # The test bed's root@127.0.0.1 has no password (testbed/cluster.py _INIT_SQL).
    return AdminEndpoint(host, port, "root", "", connect_timeout_seconds=30)


def connect(cluster: TestCluster) -> Any:
    host, port = cluster.sql_address(SQL_NODE)
    return pymysql.connect(host=host, port=port, user="root", password="", autocommit=True)


def require_services() -> None:
    """The test bed and every service venv, or skip with the fix - and under CI=true, fail."""
    require_testbed()
    absent = [name for name, venv in VENVS.items() if not (venv / ".provisioned").is_file()]
    if absent:
        unavailable(f"service venvs missing: {', '.join(absent)}; run "
                    "tests/openstack/provision_services.sh (make openstack-venvs)")
