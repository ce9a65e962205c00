"""Run some Tempest tests round after round on a fresh control plane of one arm, to tell a
flaky failure from a steady one and to see whether it needs a fresh cloud (opt-in; starts
real servers on loopback: one at a time, `flock /tmp/openstack-ndb-real.lock`).

    python -m tests.openstack.tempest_repeat --arm ndb --rounds 25 \\
        --regex 'tempest\\.api\\.identity\\.admin\\.v3\\.test_application_credentials'

Same cloud, stand-ins and tempest.conf as make tempest (tests/openstack/tempest_run.py);
each round is one `tempest run --regex` on 2 workers. Prints each round's failures and the
totals; each round's tempest log stays in OUT/workspace/logs/tempest.log.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
from pathlib import Path

from tests.openstack import tempest_run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.openstack.tempest_repeat")
    parser.add_argument("--arm", choices=tempest_run.ARMS, default="ndb")
    parser.add_argument("--regex", required=True, help="tempest run --regex")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=tempest_run.ROOT / ".tempest-repeat")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from tests.openstack.cloud import Cloud
    from tests.openstack.cluster import dev_settings
    from tests.openstack.database_backend import backend

    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    settings = dev_settings()
    failures: dict[str, list[int]] = {}
    with Cloud(out / "cloud", settings, database=backend(args.arm, settings)) as cloud:
        cloud.start()
        cloud.start_stand_ins()
        ws = tempest_run.prepare_workspace(cloud, out)
        for number in range(args.rounds):
            ws.run("tempest", "run", "--concurrency", str(tempest_run.WORKERS), "--regex",
                   args.regex, capture=True)
            results = ws.last_results()
            failed = sorted(t for t, e in results.items() if e["status"] in tempest_run.FAILED)
            for test in failed:
                failures.setdefault(test, []).append(number)
            tempest_run.log(f"round {number}: {len(results)} tests, {len(failed)} failed "
                            f"{failed}")
    tempest_run.log(f"{args.rounds} rounds on {tempest_run.ARM_LABEL[args.arm]}: "
                    + (", ".join(f"{t} failed in rounds {r}" for t, r in failures.items())
                       or "no failure"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
