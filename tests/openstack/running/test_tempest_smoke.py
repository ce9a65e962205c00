"""The smoke slice of Tempest on NDB (issue 11, item 5): Tempest's own smoke tests of the
identity, image, network, volume and compute APIs and heat-tempest-plugin's API tests
(selection `tests/openstack/tempest/smoke.txt`), run on this folder's cloud - the dev stack on
the NDB test bed, ndb_adapt on, the test-only compute host and volume back end beside it -
with the same tempest.conf, venv and worker partition as `make tempest`.

What passes on InnoDB is committed in `tests/openstack/tempest/baseline/smoke-innodb.txt`,
from arm A of a smoke run, after a change to smoke.txt or exclude.txt or a new release:

    flock /tmp/openstack-ndb-real.lock .venv/bin/python -m tests.openstack.tempest_run \
        --arm innodb --area smoke --out .tempest-smoke
    cp .tempest-smoke/innodb/smoke/passed.txt tests/openstack/tempest/baseline/smoke-innodb.txt

Every test listed there must pass here. One that fails is rerun once, serially, as make
tempest reruns a B-only failure; failing twice is an NDB regression and fails this test: its
error is in the message, the run's log in the test's tmp_path (run.log, rerun.log,
workspace/logs/tempest.log), the services' logs under the cloud's containers/ folder. Compare
with `make tempest ARM=ndb AREA=smoke` on a cloud of its own before calling it NDB's: this
cloud has had the first hour's and Horizon's tests run on it first.
"""

from __future__ import annotations

from pathlib import Path

from tests.openstack import tempest_run
from tests.openstack.cloud import Cloud

BASELINE = tempest_run.SELECTIONS / "baseline" / "smoke-innodb.txt"


def test_tempest_smoke_passes_on_ndb_what_passes_on_innodb(cloud: Cloud,
                                                           tmp_path: Path) -> None:
    baseline = BASELINE.read_text().split()
    assert baseline, f"{BASELINE} lists no test"
    ws = tempest_run.prepare_workspace(cloud, tmp_path)
    tests, workers = tempest_run.selection(ws, "smoke", tmp_path / "selection" / "smoke")
    listed = tests.read_text().split()
    gone = sorted(set(baseline) - set(listed))
    assert not gone, (f"{len(gone)} tests of {BASELINE.name} are no longer in the smoke "
                      f"selection (regenerate it, see this module's docstring): {gone[:5]}")
    tempest_run.log(f"smoke: {len(listed)} tests on NDB, {len(baseline)} pass on InnoDB")
    ws.run("tempest", "run", "--load-list", str(tests), "--worker-file", str(workers),
           progress=tmp_path / "run.log")
    results = tempest_run.per_test(ws.last_results(), listed)
    counts = tempest_run.summarise(results)
    tempest_run.log(f"smoke on NDB: {counts} (log: {tmp_path / 'run.log'})")
    failed = [t for t in baseline if results[t]["status"] not in tempest_run.PASSED]
    again = tempest_run.rerun(ws, failed, tmp_path)
    regressions = {t: results[t]["error"].strip().splitlines()[-1:]
                   for t in failed if again[t]["status"] not in tempest_run.PASSED}
    assert not regressions, (
        f"{len(regressions)} of the {len(baseline)} smoke tests that pass on InnoDB failed "
        f"on NDB twice (log: {tmp_path / 'run.log'}): {regressions}")
