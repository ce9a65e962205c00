"""ndb_fit's findings on the shipped schemas against NDB itself, table by table.

The shipped schemas are each service's own migrations, unadapted, on a plain Oracle MySQL 9.7
(InnoDB). Every table of them is then created on a real NDB cluster started from the dev
stack's rendered files, one CREATE TABLE at a time (``tools/measure/ndb_probe.py``: its
SHOW CREATE TABLE with ENGINE=ndbcluster, sql_mode with NO_ENGINE_SUBSTITUTION,
foreign_key_checks=0), and NDB's answer is compared with ndb_fit's findings:

- a table NDB refuses must be one ndb_fit flags with a rejecting kind, and NDB's error the
  one that kind predicts (``ndb_probe.REJECTIONS``, as measured);
- a table NDB stores other than written must be one ndb_fit flags ``prefix_index`` for, and
  what changed must be exactly the prefixes of those indexes;
- every other table NDB accepts as written, and ndb_fit must leave it alone (the ``engine``
  finding, which the replay itself resolves, aside).

The same holds for tests/real/test_ndb_fit.py's hand-built tables (every kind) and for tables
on both sides of each limit ``ndb_fit.limits`` states as measured (``BOUNDARY_TABLES``).

Needs the NDB test bed (``testbed/provision.sh``) and the service venvs
(``tests/openstack/provision_services.sh``); without them the tests skip, and under
``CI=true`` they fail. Run (another cluster may hold the default addresses):
``NDB_TESTBED_ADDRESS_PREFIX=127.0.9 python -m pytest -q
tests/openstack/test_independent_measurement.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ndb_fit import Kind
from testbed.cluster import TestCluster
from tests.openstack import documented
from tests.openstack.cluster import connect, dev_cluster, require_services
from tests.openstack.services import SERVICES
from tests.real.mysql_server import mysql_server
from tools.measure.ndb_probe import (
    BOUNDARY,
    BOUNDARY_TABLES,
    HAND_BAD,
    HAND_CLEAN,
    REJECTED,
    REJECTIONS,
    Outcome,
    Shipped,
    capture,
    capture_hand_built,
    disagreement,
    matches,
    measure,
    summary,
)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Shipped:
    """Every service's tables as its own migrations make them on InnoDB, with ndb_fit's
    findings, and the hand-built tables; the MySQL server is gone before the cluster starts."""
    require_services()
    with mysql_server() as server:
        captured = capture(server, list(SERVICES), tmp_path_factory.mktemp("services"))
        captured.tables += capture_hand_built(server)
    return captured


# Module scope: the cluster is gone before other modules start theirs.
@pytest.fixture(scope="module")
def cluster(shipped: Shipped, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[TestCluster]:
    with dev_cluster(tmp_path_factory.mktemp("ndb")) as started:
        yield started


@pytest.fixture(scope="module")
def outcomes(cluster: TestCluster, shipped: Shipped) -> dict[str, Outcome]:
    return measure(lambda: connect(cluster), shipped.tables)


def test_shipped_migrations_ran_to_the_end(shipped: Shipped) -> None:
    failed = {name: failure for name, failure in shipped.migrations.items() if failure}
    assert not failed, f"the shipped schemas are incomplete: {failed}"
    assert set(shipped.migrations) == set(SERVICES)


@pytest.mark.parametrize("group", [*SERVICES, HAND_BAD, HAND_CLEAN, BOUNDARY])
def test_ndb_fit_agrees_with_ndb_table_by_table(
    group: str, shipped: Shipped, outcomes: dict[str, Outcome]
) -> None:
    tables = [t for t in shipped.tables if t.service == group]
    assert tables, f"{group}: no tables captured"
    found = [d for t in tables if (d := disagreement(t, outcomes[t.name])) is not None]
    assert not found, (f"ndb_fit and NDB disagree on {len(found)} of {len(tables)} tables "
                       f"of {group}:\n" + "\n".join(found))


def test_boundary_tables_fall_on_their_side(shipped: Shipped,
                                            outcomes: dict[str, Outcome]) -> None:
    """NDB itself puts each limit where ndb_fit.limits says: one table each side."""
    expected = {sql.split()[2]: status for sql, status in BOUNDARY_TABLES}
    measured = {t.table: outcomes[t.name].status for t in shipped.tables
                if t.service == BOUNDARY}
    wrong = {table: f"expected {status}, NDB: {outcomes[f'fit_boundary.{table}'].describe()}"
             for table, status in expected.items() if measured.get(table) != status}
    assert not wrong, "\n".join(f"{t}: {w}" for t, w in wrong.items())


def test_every_rejecting_kind_was_measured(shipped: Shipped,
                                           outcomes: dict[str, Outcome]) -> None:
    """REJECTIONS is measurement, not belief: each kind's error was seen in this run, on a
    table ndb_fit flags with that kind alone (besides engine and prefix_index)."""
    seen: dict[Kind, list[str]] = {kind: [] for kind in REJECTIONS}
    for t in shipped.tables:
        kinds = {f.kind for f in t.findings} & set(REJECTIONS)
        outcome = outcomes[t.name]
        if len(kinds) == 1 and outcome.status == REJECTED:
            [kind] = kinds
            if matches(kind, outcome):
                seen[kind].append(t.name)
    unseen = [kind for kind, tables in seen.items() if not tables]
    assert not unseen, f"kinds whose error this run never saw on a table of their own: {unseen}"


def test_measured_counts_are_the_documented_ones(shipped: Shipped,
                                                 outcomes: dict[str, Outcome]) -> None:
    """docs/ndb-compatibility.md, "Analyzer vs NDB, table by table", read from the doc:
    per service (tables, refused by NDB, changed by NDB), and ndb_fit agreeing on all."""
    counts = summary([t for t in shipped.tables if t.service in SERVICES], outcomes)
    measured = {name: (c["tables"], c["ndb_rejected"], c["ndb_changed"])
                for name, c in counts.items()}
    documented_counts = {name: row for name, row in documented.analyzer_counts().items()
                         if name in SERVICES}
    assert measured == documented_counts, "NDB no longer does what the doc says: update it"
    assert all(c["agree"] == c["tables"] for c in counts.values()), counts
