"""sysbench 1.0.20 (Debian) through an SQL endpoint: prepare, run, clean up, and its report
parsed into figures.

sysbench exits 0 even when a run hit errors it was told to ignore, and prints `FATAL:` for
the others (RonDB's README noted a prepare that failed on NDB error 410 yet exited 0), so a
report counts as failed on a non-zero exit or any `FATAL` line, never on the exit code alone.
No password is passed: the bench's servers accept their bench user without one, on loopback.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bench import process
from bench.connection import connect

TABLES = 4
TABLE_SIZE = 10_000


class SysbenchError(RuntimeError):
    """sysbench failed; the message carries its output's tail."""


@dataclass(frozen=True)
class Endpoint:
    """Where sysbench connects: an SQL endpoint and a user that needs no password."""

    host: str
    port: int
    user: str


@dataclass(frozen=True)
class SysbenchReport:
    """One `run`'s summary: transactions and queries per second, the 99th percentile and
    the longest transaction latency in ms, and errors sysbench ignored (deadlocks and lock
    wait timeouts: 1213, 1020, 1205) and retried the transaction after."""

    transactions_per_s: float
    queries_per_s: float
    p99_ms: float
    max_ms: float
    ignored_errors: int


_TPS = re.compile(r"transactions:\s+\d+\s+\(([\d.]+) per sec\.\)")
_QPS = re.compile(r"queries:\s+\d+\s+\(([\d.]+) per sec\.\)")
_P99 = re.compile(r"99th percentile:\s+([\d.]+)")
_IGNORED = re.compile(r"ignored errors:\s+(\d+)")
_MAX = re.compile(r"max:\s+([\d.]+)")


def parse_report(output: str) -> SysbenchReport:
    """The figures of `sysbench … run --percentile=99` output; SysbenchError when a line
    is missing or the output has a FATAL line."""
    if "FATAL" in output:
        raise SysbenchError("sysbench reported FATAL:\n" + _tail(output))
    found = [pattern.search(output) for pattern in (_TPS, _QPS, _P99, _MAX, _IGNORED)]
    if not all(found):
        raise SysbenchError("no summary in sysbench's output:\n" + _tail(output))
    tps, qps, p99, longest, ignored = (m.group(1) for m in found if m)
    return SysbenchReport(float(tps), float(qps), float(p99), float(longest), int(ignored))


def command(test: str, step: str, endpoint: Endpoint, *, engine: str, threads: int = 1,
            seconds: int = 0, rand_type: str = "special") -> list[str]:
    """The argv of one sysbench step (prepare, run, cleanup) of `test` against `endpoint`.
    `rand_type` picks the rows a run writes: sysbench's default `special` makes a few rows
    hot (contention, deadlocks), `uniform` spreads writes over every row."""
    return [
        "sysbench", test, f"--mysql-host={endpoint.host}", f"--mysql-port={endpoint.port}",
        f"--mysql-user={endpoint.user}", "--mysql-db=sbtest", f"--mysql-storage-engine={engine}",
        f"--tables={TABLES}", f"--table-size={TABLE_SIZE}", f"--threads={threads}",
        # Explicit ids 1..TABLE_SIZE: with AUTO_INCREMENT, Galera's
        # wsrep_auto_increment_control spaces ids by the member count, and two thirds of the
        # ids sysbench then picks would not exist there (less work than on NDB).
        "--auto-inc=off",
        *([f"--time={seconds}", "--percentile=99", f"--report-interval={max(seconds // 3, 1)}",
           f"--rand-type={rand_type}"] if step == "run" else []),
        step,
    ]


def prepare(endpoint: Endpoint, *, engine: str) -> None:
    """A fresh `sbtest` database with oltp_write_only's tables, each holding exactly the
    ids 1..TABLE_SIZE (checked: both sides must start from the same rows); SysbenchError
    otherwise."""
    _reset_database(endpoint, create=True)
    _step(command("oltp_write_only", "prepare", endpoint, engine=engine, threads=TABLES), 300)
    conn = connect((endpoint.host, endpoint.port), endpoint.user, connect_timeout=10)
    try:
        with conn.cursor() as cur:
            for table in range(1, TABLES + 1):
                cur.execute(f"SELECT COUNT(*), MIN(id), MAX(id) FROM sbtest.sbtest{table}")
                found = tuple(int(v) for v in cur.fetchone())
                if found != (TABLE_SIZE, 1, TABLE_SIZE):
                    raise SysbenchError(f"sbtest{table} holds (rows, lowest id, highest id) "
                                        f"{found}, not {(TABLE_SIZE, 1, TABLE_SIZE)}")
    finally:
        conn.close()


def run_write_only(endpoint: Endpoint, *, engine: str, threads: int, seconds: int,
                   rand_type: str = "special",
                   progress: Callable[[str], object] = print) -> SysbenchReport:
    """oltp_write_only with `threads` clients for `seconds` on prepared tables; its
    interval lines go to `progress` as they come. Bounded: killed after seconds + 120."""
    output = _step(command("oltp_write_only", "run", endpoint, engine=engine, threads=threads,
                           seconds=seconds, rand_type=rand_type),
                   seconds + 120, progress)
    return parse_report(output)


def cleanup(endpoint: Endpoint) -> None:
    _reset_database(endpoint, create=False)


def _reset_database(endpoint: Endpoint, *, create: bool) -> None:
    """Drop the `sbtest` database through the endpoint, and create it empty if `create`."""
    conn = connect((endpoint.host, endpoint.port), endpoint.user, connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS sbtest")
            if create:
                cur.execute("CREATE DATABASE sbtest")
    finally:
        conn.close()


def _step(argv: list[str], timeout: float,
          progress: Callable[[str], object] | None = None) -> str:
    """Run one step; pass its --report-interval lines to `progress` as they come."""
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line.rstrip("\n"))
        if progress is not None and line.startswith("[ "):
            progress(f"    sysbench {line.strip()}")

    code = process.stream(argv, timeout, on_line)
    output = "\n".join(lines)
    if code != 0 or "FATAL" in output:
        raise SysbenchError(f"{argv[1]} {argv[-1]} failed (exit {code}):\n" + _tail(output))
    return output


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.splitlines()[-lines:])
