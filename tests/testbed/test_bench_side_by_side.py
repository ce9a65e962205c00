"""`make bench`'s side-by-side run, shortened: both sides start from their files, every
workload yields every figure of the table, and no fault loses a committed row on NDB (nor on
Galera). The full-length figures are `make bench`'s (README "Performance")."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import side_by_side, workloads
from bench.galera.cluster import missing_programs
from testbed.pytest_support import require_testbed, require_tool, unavailable


@pytest.fixture(autouse=True)
def short_workloads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workloads, "ONE_CLIENT_S", 3.0)
    monkeypatch.setattr(workloads, "MANY_CLIENTS_S", 6)
    monkeypatch.setattr(workloads, "COMMITS_AFTER", 50)
    monkeypatch.setattr(workloads, "REPEATS", 1)


@pytest.mark.parametrize("side", ["ndb", "galera"])
def test_every_figure_and_no_committed_row_lost(side: str, tmp_path: Path) -> None:
    require_testbed()
    require_tool("sysbench")
    if side == "galera" and (lacking := missing_programs()):
        unavailable(f"the Galera peer needs {', '.join(lacking)} (.ci/run installs them)")
    figures = side_by_side.run_side(side, tmp_path, print)
    missing = [(w, f) for w, f, _, _ in side_by_side.ROWS if f not in figures.get(w, {})]
    assert not missing
    for fault in ("SQL node killed", "storage node killed and restarted"):
        assert figures[fault]["rows_lost"] == 0, figures[fault]
        assert figures[fault]["resumed"] == 1, f"writes did not resume after: {fault}"
    assert figures["one client"]["writes_per_s"] > 0
