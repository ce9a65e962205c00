"""The workloads `make bench` runs on each side, each returning its figures by name.

- one client: autocommitted INSERTs through the endpoint (tests/testbed/load.py), writes/s
  and commit latency p50/p99;
- many clients: sysbench oltp_write_only with 8 threads through the endpoint, on sysbench's
  default skewed choice of rows (a few hot rows: lock contention) and on uniform rows;
- SQL node failover: kill -9 the SQL node the client writes through, under that load;
- storage node restart: kill -9 a node that holds data but serves no client, start it again.

After a fault every committed write is read back through every SQL node: a write whose OK
came back and is missing anywhere is lost. Every step is bounded in time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial

from bench import sysbench
from bench.cpu import children_cpu_seconds, cpu_seconds
from bench.sides import Side
from tests.testbed.load import LoadResult, WriteLoad, read_back

Figures = dict[str, float]
Progress = Callable[[str], object]

WARMUP_S = 3.0
ONE_CLIENT_S = 20.0
MANY_CLIENTS = 8
MANY_CLIENTS_S = 30
REPEATS = 3  # runs of each throughput workload; the table shows their median
COMMITS_AFTER = 200  # commits after a fault that show writes resumed
RESUME_LIMIT_S = 60.0
SETTLE_S = 3.0  # load kept running after the fault, so the stall window closes on commits
LOAD_LIMIT_S = 600.0


def _load(side: Side) -> WriteLoad:
    connect = partial(side.connect, side.endpoint(), read_timeout=30, write_timeout=30)
    return WriteLoad(connect, max_seconds=LOAD_LIMIT_S, engine=side.engine, backoff=0.05)


def _lost(side: Side, load: WriteLoad, result: LoadResult) -> int:
    lost: set[int] = set()
    for address in side.sql_nodes().values():
        check = result.verify(0, read_back(partial(side.connect, address), load.table))
        lost |= check.lost
    return len(lost)


def one_client(side: Side, progress: Progress = print) -> Figures:
    with _load(side) as load:
        time.sleep(WARMUP_S)
        start = time.monotonic()
        time.sleep(ONE_CLIENT_S)
        end = time.monotonic()
        result = load.stop()
    p50, p99 = result.latency_percentiles((50, 99), start, end)
    figures = {"writes_per_s": result.writes_per_second(start, end),
               "p50_ms": p50 * 1000, "p99_ms": p99 * 1000,
               "rows_lost": float(_lost(side, load, result))}
    progress(f"  one client: {figures['writes_per_s']:.0f} writes/s, "
             f"p50 {figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms")
    return figures


def many_clients(side: Side, progress: Progress = print, rand_type: str = "special"
                 ) -> Figures:
    """sysbench oltp_write_only, MANY_CLIENTS threads for MANY_CLIENTS_S seconds on rows
    picked by `rand_type` (sysbench.command), and the CPU each kind of server process and
    the client spent per transaction (ms)."""
    endpoint = sysbench.Endpoint(*side.endpoint(), side.user)
    sysbench.prepare(endpoint, engine=side.engine)
    try:
        kinds = side.process_kinds()
        groups = [g for members in kinds.values() for g in members]
        before, client_before = cpu_seconds(groups), children_cpu_seconds()
        report = sysbench.run_write_only(endpoint, engine=side.engine, threads=MANY_CLIENTS,
                                         seconds=MANY_CLIENTS_S, rand_type=rand_type,
                                         progress=progress)
        after, client_after = cpu_seconds(groups), children_cpu_seconds()
    finally:
        sysbench.cleanup(endpoint)
    transactions = max(report.transactions_per_s * MANY_CLIENTS_S, 1.0)
    cpu_ms = {kind: sum(after[g] - before[g] for g in members) * 1000 / transactions
              for kind, members in kinds.items()}
    figures = {"transactions_per_s": report.transactions_per_s,
               "queries_per_s": report.queries_per_s, "p99_ms": report.p99_ms,
               "longest_transaction_s": report.max_ms / 1000,
               "ignored_errors": float(report.ignored_errors),
               "cpu_ms_per_tx_servers": sum(cpu_ms.values()),
               "cpu_ms_per_tx_client": (client_after - client_before) * 1000 / transactions,
               **{f"cpu_ms_per_tx_{kind}": ms for kind, ms in cpu_ms.items()}}
    progress(f"  {MANY_CLIENTS} clients: {report.transactions_per_s:.0f} transactions/s, "
             f"p99 {report.p99_ms:.1f} ms, {report.ignored_errors} errors retried; CPU ms "
             "per transaction: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu_ms.items()))
    return figures


def _under_fault(side: Side, fault: Callable[[WriteLoad], Figures], progress: Progress,
                 recover: Callable[[], object] = lambda: None) -> Figures:
    """Run `fault` under one client's load; figures over the window from the fault until
    COMMITS_AFTER commits after its end, plus what `fault` returns. `recover` runs after
    the load stops and before the read-back (which needs every SQL node)."""
    with _load(side) as load:
        time.sleep(WARMUP_S)
        began = time.monotonic()
        figures = fault(load)
        ended = time.monotonic()
        seen = load.wait_for_commits(COMMITS_AFTER, ended, RESUME_LIMIT_S)
        time.sleep(SETTLE_S)
        result = load.stop()
    stopped = time.monotonic()
    recover()
    window = [w for w in result.writes if w.finished >= began]
    figures |= {
        "longest_stall_s": result.longest_stall(began, stopped),
        "writes_failed": float(sum(1 for w in window if w.outcome == "unknown")),
        "connect_errors": float(result.connect_errors),
        "rows_lost": float(_lost(side, load, result)),
        "resumed": float(seen >= COMMITS_AFTER),
    }
    progress(f"  stall {figures['longest_stall_s']:.2f} s, {figures['writes_failed']:.0f} "
             f"writes failed, {figures['rows_lost']:.0f} rows lost")
    return figures


def sql_node_failover(side: Side, progress: Progress = print) -> Figures:
    """kill -9 the SQL node under the client; it is started again after the figures are
    taken (its restart is not part of the stall)."""
    victims: list[str] = []

    def fault(load: WriteLoad) -> Figures:
        victims.append(side.sql_node_at(load.server))
        progress(f"  kill -9 {victims[0]} (the client's SQL node)")
        side.kill_sql_node(victims[0])
        return {}

    return _under_fault(side, fault, progress, lambda: side.restart_sql_node(victims[0]))


def storage_node_restart(side: Side, progress: Progress = print) -> Figures:
    """kill -9 a node holding data that no client is on, wait 5 s, start it again; the
    figures cover the whole time until it is back in service."""

    def fault(load: WriteLoad) -> Figures:
        name = side.kill_storage_node()
        progress(f"  kill -9 {name}; started again after 5 s")
        time.sleep(5)
        began = time.monotonic()
        side.restart_storage_node(name)
        return {"back_in_service_s": time.monotonic() - began}

    return _under_fault(side, fault, progress)


def repeated(workload: Callable[[Side, Progress], Figures]
             ) -> Callable[[Side, Progress], Figures]:
    """`workload` run REPEATS times: each figure is the median of the runs, with its lowest
    and highest as `<figure>_min` and `<figure>_max` (one run on a shared 2-core machine
    says little: the same workload has varied by a third from one run to the next)."""

    def run(side: Side, progress: Progress = print) -> Figures:
        runs = []
        for i in range(REPEATS):
            progress(f"  run {i + 1} of {REPEATS}")
            runs.append(workload(side, progress))
        figures: Figures = {}
        for name in runs[0]:
            values = [r[name] for r in runs]
            figures |= {name: statistics.median(values), f"{name}_min": min(values),
                        f"{name}_max": max(values)}
        return figures

    return run


WORKLOADS: dict[str, Callable[[Side, Progress], Figures]] = {
    "one client": repeated(one_client),
    f"{MANY_CLIENTS} clients, hot rows": repeated(many_clients),
    f"{MANY_CLIENTS} clients, uniform rows": repeated(partial(many_clients, rand_type="uniform")),
    "SQL node killed": sql_node_failover,
    "storage node killed and restarted": storage_node_restart,
}
