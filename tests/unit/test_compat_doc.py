"""docs/ndb-compatibility.md's tables, read without a server.

The real-server tests compare NDB with these tables (tests/openstack/documented.py); here the
tables must parse, add up, and say what the code says: the kind table is ndb_fit's kinds with
the errors ndb_probe.REJECTIONS expects (which test_every_rejecting_kind_was_measured sees NDB
answer), and every failing service is one the tests migrate.
"""

from __future__ import annotations

from ndb_fit import Kind
from tests.openstack import documented
from tests.openstack.services import SERVICES
from tools.measure.ndb_probe import CHANGING_KINDS, NEUTRAL_KINDS, REJECTIONS


def test_kind_table_is_every_kind_with_the_error_ndb_probe_expects() -> None:
    answers = documented.kind_answers()
    # The engine finding is no NDB answer (the replay changes the engine itself).
    assert set(answers) == {kind.value for kind in Kind} - {k.value for k in NEUTRAL_KINDS}
    expected = {kind.value: REJECTIONS.get(kind) for kind in Kind if kind not in NEUTRAL_KINDS}
    assert answers == expected
    assert all(answers[kind.value] is None for kind in CHANGING_KINDS)


def test_analyzer_table_covers_every_service_and_adds_up() -> None:
    counts = documented.analyzer_counts()
    total = counts.pop("all")
    assert set(counts) == set(SERVICES)
    assert tuple(map(sum, zip(*counts.values(), strict=True))) == total


def test_analyzer_table_says_ndb_fit_agrees_everywhere() -> None:
    counts = documented.analyzer_counts()
    for name, (fit_refused, fit_changed, agree) in documented.analyzer_verdicts().items():
        tables, refused, changed = counts[name]
        assert (fit_refused, fit_changed, agree) == (refused, changed, tables), name


def test_failures_without_adaptation_name_migrated_services() -> None:
    failing = documented.failures_without_adaptation()
    assert failing, "the Summary names no service failing without ndb_adapt"
    assert set(failing) <= set(SERVICES)
