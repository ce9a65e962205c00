"""Every service's own migrations to head on NDB with `openstack.databaseCharset: utf8mb4`
(item 4): the databases created utf8mb4 and the services connecting with ?charset=utf8mb4,
from the files the program renders for that stack, ndb_adapt on. A VARCHAR then counts 4
bytes per character against NDB's row (30,000 bytes) and key (3,072 bytes) limits, where
utf8mb3 counts 3: tables that fit in utf8mb3 need the rules (docs/ndb-compatibility.md,
"Character sets").

The same check as test_migrations.py's utf8mb3 run, on a cluster of its own (the database
names are the catalog's). About 4.5 minutes on 2 cores (268 s measured): marked `full`, so
`make test-full` (pytest --full) runs it and `make test` does not.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.cluster import TestCluster
from tests.openstack.cluster import dev_cluster, require_services
from tests.openstack.rendered import RenderedServices, memcached
from tests.openstack.services import SERVICES
from tests.openstack.test_migrations import assert_reaches_head
from tests.stacks import modified

pytestmark = pytest.mark.full


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    require_services()
    with dev_cluster(tmp_path_factory.mktemp("ndb")) as started:
        yield started


@pytest.fixture(scope="module")
def rendered(cluster: TestCluster, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[RenderedServices]:
    from config import load_settings

    settings = load_settings(modified("dev", "openstack.databaseCharset", "utf8mb4"))
    with memcached("127.0.0.1") as address:
        yield RenderedServices(settings, cluster, address, tmp_path_factory.mktemp("rendered"))


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_reaches_head_on_ndb_in_utf8mb4(cluster: TestCluster,
                                                rendered: RenderedServices, name: str) -> None:
    assert_reaches_head(cluster, rendered, name)
