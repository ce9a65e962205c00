"""A bounded, continuous write load for fault tests on the real cluster.

One background thread writes through the HAProxy endpoint: every write is its own autocommitted
INSERT of a fresh sequence number into an NDB table. Each attempt is recorded with its
timestamps and outcome:

- committed: the INSERT returned OK, so the row must survive anything the cluster is built to
  survive (one data node per group, one SQL node);
- unknown: the INSERT was sent but an error came back or the connection dropped. NDB has
  errors whose result is unknown by definition (e.g. 4012 on a node failure), and a dropped
  connection says nothing about the commit, so such a row may or may not be there: counted
  apart, never called lost.

A failed attempt is never retried with the same number, so a row in the table always maps to
exactly one attempt. The load stops by itself after `max_rows` attempts or `max_seconds`.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Self

Outcome = Literal["committed", "unknown"]


@dataclass(frozen=True)
class Write:
    seq: int
    started: float  # time.monotonic() when the INSERT was sent
    finished: float  # when OK or the error came back
    outcome: Outcome
    error: str = ""


@dataclass(frozen=True)
class Verification:
    """What one SQL node reads back after the load."""

    node_id: int
    rows: int
    lost: frozenset[int]  # committed but missing: must be empty
    unknown_present: int  # unknown outcome, row present (committed after all)
    unexpected: frozenset[int]  # present but never attempted: must be empty


@dataclass
class LoadResult:
    writes: list[Write]
    connect_errors: int
    started: float
    stopped: float
    errors: dict[str, int] = field(default_factory=dict)  # error text -> count

    def committed(self, start: float = 0.0, end: float = float("inf")) -> list[Write]:
        return [w for w in self.writes if w.outcome == "committed" and start <= w.finished <= end]

    @property
    def unknown(self) -> list[Write]:
        return [w for w in self.writes if w.outcome == "unknown"]

    def longest_stall(self, start: float | None = None, end: float | None = None) -> float:
        """The longest time without a commit within [start, end] (default: the whole run),
        counting from the window's edges too, so a window with no commit is one stall."""
        start = self.started if start is None else start
        end = self.stopped if end is None else end
        times = [start, *sorted(w.finished for w in self.committed(start, end)), end]
        return max(b - a for a, b in itertools.pairwise(times))

    def writes_per_second(self, start: float | None = None, end: float | None = None) -> float:
        start = self.started if start is None else start
        end = self.stopped if end is None else end
        return len(self.committed(start, end)) / max(end - start, 1e-9)

    def latency_percentiles(self, percentiles: Iterable[float], start: float = 0.0,
                            end: float = float("inf")) -> list[float]:
        """Commit latency (seconds from sending the INSERT to its OK) at each percentile
        (0-100, nearest rank) of the writes committed within [start, end]; [] if none."""
        latencies = sorted(w.finished - w.started for w in self.committed(start, end))
        if not latencies:
            return []
        return [latencies[min(len(latencies) - 1, max(0, math.ceil(p / 100 * len(latencies)) - 1))]
                for p in percentiles]

    def verify(self, node_id: int, present: Iterable[int]) -> Verification:
        rows = set(present)
        committed = {w.seq for w in self.writes if w.outcome == "committed"}
        unknown = {w.seq for w in self.unknown}
        return Verification(
            node_id=node_id,
            rows=len(rows),
            lost=frozenset(committed - rows),
            unknown_present=len(unknown & rows),
            unexpected=frozenset(rows - committed - unknown),
        )


class WriteLoad:
    """Use as a context manager: `with WriteLoad(connect) as load: ...; result = load.stop()`.

    `connect()` returns a new autocommit DB-API connection (pymysql) to the endpoint; the
    table is created on the first connection, as an NDB table so every SQL node sees it
    (`engine` names another for a peer that has no NDB, e.g. InnoDB on Galera).
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        max_rows: int = 500_000,
        max_seconds: float = 300.0,
        backoff: float = 0.2,
        schema: str | None = None,
        engine: str = "ndbcluster",
    ) -> None:
        self._connect = connect
        self.engine = engine
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        self.backoff = backoff
        self.schema = schema or f"load_{uuid.uuid4().hex[:8]}"
        self.table = f"{self.schema}.writes"
        self._writes: list[Write] = []
        self._errors: dict[str, int] = {}
        self._connect_errors = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="write-load", daemon=True)
        self._started = 0.0
        self._stopped = 0.0
        self._failure: BaseException | None = None
        self.server = ""  # @@bind_address of the SQL node the load's connection is on

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def create_table(self) -> None:
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS {self.schema}")
                cur.execute(
                    f"CREATE TABLE IF NOT EXISTS {self.table} "
                    f"(seq BIGINT PRIMARY KEY, written_at DOUBLE NOT NULL) ENGINE={self.engine}"
                )
        finally:
            conn.close()

    def start(self) -> None:
        self.create_table()
        self._started = time.monotonic()
        self._thread.start()

    def stop(self) -> LoadResult:
        self._stop.set()
        self._thread.join()
        if self._failure is not None:  # a bug in the load itself, not a cluster error
            raise RuntimeError("write load crashed") from self._failure
        return self.result()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def result(self) -> LoadResult:
        """A snapshot (also while running: then `stopped` is now)."""
        with self._lock:
            stopped = self._stopped if not self.running and self._stopped else time.monotonic()
            return LoadResult(list(self._writes), self._connect_errors, self._started,
                              stopped, dict(self._errors))

    def commits_since(self, since: float) -> int:
        with self._lock:
            return sum(1 for w in self._writes if w.outcome == "committed" and w.finished >= since)

    def wait_for_commits(self, count: int, since: float, timeout: float) -> int:
        """Block until `count` commits finished after `since`; returns the count seen."""
        deadline = time.monotonic() + timeout
        while (seen := self.commits_since(since)) < count and time.monotonic() < deadline:
            if not self.running:
                break
            time.sleep(0.1)
        return seen

    # --- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as error:  # surfaced by stop()
            self._failure = error
        finally:
            self._stopped = time.monotonic()

    def _loop(self) -> None:
        deadline = self._started + self.max_seconds
        seq = 0
        conn: Any = None
        while not self._stop.is_set() and seq < self.max_rows and time.monotonic() < deadline:
            if conn is None:
                try:
                    conn = self._connect()
                    # Which SQL node HAProxy chose, so a test can kill the one in use.
                    with conn.cursor() as cur:
                        cur.execute("SELECT @@bind_address")
                        self.server = str(cur.fetchone()[0])
                except Exception as error:  # HAProxy refused or the server went away
                    if conn is not None:
                        _close_quietly(conn)
                        conn = None
                    self._count_error(error, connect=True)
                    self._stop.wait(self.backoff)
                    continue
            seq += 1
            started = time.monotonic()
            try:
                with conn.cursor() as cur:
                    cur.execute(f"INSERT INTO {self.table} VALUES (%s, %s)", (seq, time.time()))
            except Exception as error:
                # Sent, but no OK: the commit may or may not have happened.
                self._record(Write(seq, started, time.monotonic(), "unknown", _short(error)))
                self._count_error(error)
                _close_quietly(conn)
                conn = None  # through HAProxy a fresh connection may reach another SQL node
                self._stop.wait(self.backoff)
                continue
            self._record(Write(seq, started, time.monotonic(), "committed"))
        if conn is not None:
            _close_quietly(conn)

    def _record(self, write: Write) -> None:
        with self._lock:
            self._writes.append(write)

    def _count_error(self, error: Exception, connect: bool = False) -> None:
        key = ("connect: " if connect else "") + _short(error)
        with self._lock:
            self._errors[key] = self._errors.get(key, 0) + 1
            self._connect_errors += connect


def read_back(connect: Callable[[], Any], table: str) -> set[int]:
    """Every sequence number in the table, read through one SQL node."""
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT seq FROM {table}")
            return {int(row[0]) for row in cur.fetchall()}
    finally:
        conn.close()


def summary(label: str, result: LoadResult, checks: list[Verification],
            start: float | None = None, end: float | None = None) -> str:
    """One line for the test output: figures over [start, end], read-back over everything."""
    lost = sorted({seq for c in checks for seq in c.lost})
    return (
        f"[load] {label}: {len(result.committed(start or 0.0, end or float('inf')))} commits, "
        f"{result.writes_per_second(start, end):.0f} writes/s, "
        f"longest stall {result.longest_stall(start, end):.2f} s, "
        f"unknown outcome {len(result.unknown)} "
        f"(present: {max((c.unknown_present for c in checks), default=0)}), "
        f"connect errors {result.connect_errors}, lost {len(lost)}"
        + (f" e.g. {lost[:5]}" if lost else "")
        + (f"; errors {result.errors}" if result.errors else "")
    )


def _short(error: BaseException) -> str:
    return f"{type(error).__name__}{error.args[:2]!r}"[:160]


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # already dropped by the server or HAProxy
        return
