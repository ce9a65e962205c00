"""Benchmark (not a test): NDB as this program runs it, side by side with Galera as
Kolla-Ansible runs it, on this machine, in one run.

The NDB side is the dev stack's rendered cluster on the test bed (testbed/provision.sh): two
data nodes, two SQL nodes, the rendered HAProxy. The peer is three MariaDB Galera members
behind HAProxy, configured as Kolla-Ansible 20.5.0 configures them (bench/galera/). Each
side runs alone on the machine (the other is stopped) through the same workloads
(bench/workloads.py); the table gives each figure with its ratio NDB/Galera, and the JSON
file keeps every figure with the machine it ran on. docs/benchmarks.md explains each row.

Usage: python bench/side_by_side.py [--side ndb|galera ...] [--json PATH]
Set NDB_TESTBED_ADDRESS_PREFIX / GALERA_PEER_ADDRESS_PREFIX when another cluster holds the
default loopback ranges (127.0.1 and 127.0.3).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.galera.cluster import GaleraCluster
from bench.report import machine as machine_facts
from bench.report import ratio
from bench.sides import GaleraSide, NdbSide, Side
from bench.workloads import WORKLOADS, Figures
from testbed.cluster import Testbed, TestCluster
from testbed.rendered import cluster_files
from tests.stacks import settings_for

DEFAULT_JSON = Path(".bench/side-by-side.json")
# (workload, figure) -> (unit, which way is better); the table's rows, in order.
ROWS: list[tuple[str, str, str, str]] = [
    ("one client", "writes_per_s", "writes/s", "higher"),
    ("one client", "p50_ms", "ms", "lower"),
    ("one client", "p99_ms", "ms", "lower"),
    ("8 clients, hot rows", "transactions_per_s", "tx/s", "higher"),
    ("8 clients, hot rows", "p99_ms", "ms", "lower"),
    ("8 clients, hot rows", "longest_transaction_s", "s", "lower"),
    ("8 clients, hot rows", "ignored_errors", "errors", "lower"),
    ("8 clients, hot rows", "cpu_ms_per_tx_servers", "CPU ms/tx", "lower"),
    ("8 clients, uniform rows", "transactions_per_s", "tx/s", "higher"),
    ("8 clients, uniform rows", "p99_ms", "ms", "lower"),
    ("8 clients, uniform rows", "longest_transaction_s", "s", "lower"),
    ("8 clients, uniform rows", "ignored_errors", "errors", "lower"),
    ("8 clients, uniform rows", "cpu_ms_per_tx_servers", "CPU ms/tx", "lower"),
    ("SQL node killed", "longest_stall_s", "s", "lower"),
    ("SQL node killed", "writes_failed", "writes", "lower"),
    ("SQL node killed", "rows_lost", "rows", "lower"),
    ("storage node killed and restarted", "longest_stall_s", "s", "lower"),
    ("storage node killed and restarted", "back_in_service_s", "s", "lower"),
    ("storage node killed and restarted", "writes_failed", "writes", "lower"),
    ("storage node killed and restarted", "rows_lost", "rows", "lower"),
]


@contextmanager
def ndb_side(workdir: Path, progress: Callable[[str], object]) -> Iterator[Side]:
    files, artifacts = cluster_files(settings_for("dev"))
    with TestCluster(files, workdir / "ndb", testbed=Testbed.load()) as cluster:
        began = time.monotonic()
        cluster.start(timeout=600)
        progress(f"[ndb] the dev stack's cluster started in {time.monotonic() - began:.0f} s")
        yield NdbSide(cluster, artifacts)


@contextmanager
def galera_side(workdir: Path, progress: Callable[[str], object]) -> Iterator[Side]:
    prefix = os.environ.get("GALERA_PEER_ADDRESS_PREFIX", "127.0.3")
    with GaleraCluster(workdir / "galera", prefix=prefix) as cluster:
        began = time.monotonic()
        cluster.start(timeout=600, progress=progress)
        progress(f"[galera] the peer started in {time.monotonic() - began:.0f} s")
        yield GaleraSide(cluster, progress)


SIDES = {"ndb": ndb_side, "galera": galera_side}


def run_side(name: str, workdir: Path, progress: Callable[[str], object]
             ) -> dict[str, Figures]:
    figures: dict[str, Figures] = {}
    with SIDES[name](workdir, progress) as side:
        for workload, run in WORKLOADS.items():
            progress(f"[{name}] {workload}")
            began = time.monotonic()
            figures[workload] = run(side, progress)
            figures[workload]["seconds"] = time.monotonic() - began
    return figures


def table(results: dict[str, dict[str, Figures]]) -> str:
    """The figures as a Markdown table: one row per (workload, figure), NDB, Galera and
    their ratio; a repeated figure shows its median and (lowest-highest); a side not run
    shows '-'."""
    def value(side: str, workload: str, figure: str) -> float | None:
        return results.get(side, {}).get(workload, {}).get(figure)

    def number(v: float) -> str:
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"

    def cell(side: str, workload: str, figure: str) -> str:
        v = value(side, workload, figure)
        if v is None:
            return "-"
        low = value(side, workload, f"{figure}_min")
        high = value(side, workload, f"{figure}_max")
        spread = f" ({number(low)}-{number(high)})" if low is not None and high is not None \
            and low != high else ""
        return number(v) + spread

    lines = ["| workload | figure | unit | better | NDB | Galera | NDB/Galera |",
             "|---|---|---|---|---:|---:|---:|"]
    for workload, figure, unit, better in ROWS:
        ndb, peer = value("ndb", workload, figure), value("galera", workload, figure)
        lines.append(f"| {workload} | {figure} | {unit} | {better} | "
                     f"{cell('ndb', workload, figure)} | {cell('galera', workload, figure)} | "
                     f"{ratio(ndb, peer)} |")
    return "\n".join(lines)


def machine() -> dict[str, str]:
    def version(argv: list[str]) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                                 check=False).stdout
        except OSError:
            return "not found"
        return out.strip().splitlines()[0] if out.strip() else "unknown"

    testbed = Testbed.load()
    return machine_facts(
        ndb_mysqld=version(["chroot", str(testbed.root), testbed.mysqld, "--version"]),
        mariadbd=version(["mariadbd", "--version"]),
        galera=version(["dpkg-query", "-W", "-f=${Version}", "galera-4"]),
        haproxy=version(["haproxy", "-v"]),
        sysbench=version(["sysbench", "--version"]),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", action="append", choices=list(SIDES),
                        help="run only this side (repeatable); default both")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args(argv)

    def progress(line: str) -> None:
        print(line, flush=True)

    results: dict[str, dict[str, Figures]] = {}
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-side-by-side-") as tmp:
        for name in args.side or list(SIDES):
            results[name] = run_side(name, Path(tmp), progress)
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": round(time.monotonic() - began),
        "machine": machine(),
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nNDB (openstack-ndb dev stack) and Galera (Kolla-Ansible 20.5.0), "
          f"{report['when']}, {report['machine']['cpus']} CPUs "
          f"({report['machine']['cpu']}):\n")
    print(table(results))
    print(f"\nevery figure: {args.json}")
    lost = [(side, workload) for side, by in results.items() for workload, f in by.items()
            if f.get("rows_lost", 0) > 0]
    if lost:
        print(f"ROWS LOST: {lost}")
    return 1 if any(side == "ndb" for side, _ in lost) else 0


if __name__ == "__main__":
    sys.exit(main())
