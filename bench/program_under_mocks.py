"""Benchmark (not a test): time to run the whole program under Pulumi mocks.

Prints, for the dev stack, the prod stack and larger topologies, the resource count, the
median wall time of a full run (settings validation, rendering, registration) and the time per
resource: cost should grow linearly with node count, so ms/resource should hold steady across
the rows. The foundation issue's target, set when the stacks held the NDB tier alone: the large
topology (48 data nodes, 8 SQL nodes) under 3 s here. The figures are what this prints."""

from __future__ import annotations

import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.mock_program import run_program, stack_config

REPEATS = 3


def scaled(data_nodes: int, sql_nodes: int) -> dict[str, Any]:
    config = copy.deepcopy(stack_config("prod"))
    config["openstack-ndb:dataNodes"]["count"] = data_nodes
    config["openstack-ndb:dataNodes"]["memoryLimit"] = "4G"
    config["openstack-ndb:sqlNodes"]["count"] = sql_nodes
    config["openstack-ndb:sqlNodes"]["connectionPool"] = 1
    return config


def measure(label: str, config: dict[str, Any]) -> None:
    times = []
    count = 0
    for _ in range(REPEATS):
        start = time.perf_counter()
        run = run_program(config, "bench")
        times.append(time.perf_counter() - start)
        count = len(run.resources)
    median = statistics.median(times)
    print(f"{label:<34} {count:>9} {median:>9.3f} {1000 * median / count:>12.2f}")


def main() -> None:
    print(f"{'topology':<34} {'resources':>9} {'median s':>9} {'ms/resource':>12}")
    measure("dev (1 mgmd, 2 data, 2 sql)", stack_config("dev"))
    measure("prod (2 mgmd, 6 data, 3 sql)", stack_config("prod"))
    for data, sql in ((12, 4), (24, 6), (48, 8)):
        measure(f"scaled prod ({data} data, {sql} sql)", scaled(data, sql))


if __name__ == "__main__":
    main()
