"""CPU time by process group, read from /proc: where a workload's cycles went.

A side's servers each run in a process group of their own (started with a new session), so
the CPU time of a group is that of the server with its helpers (ndbmtd and its angel, a
chrooted mysqld under its wrapper). Only processes alive at the reading count: take both
readings while the servers run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(groups: Iterable[int]) -> dict[int, float]:
    """User + system CPU seconds of every live process, summed by process group, for the
    given group ids (a group with no live process reads 0)."""
    wanted = set(groups)
    totals = dict.fromkeys(wanted, 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended while we read
            continue
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields = text[text.rindex(")") + 2:].split()
        pgrp, utime, stime = int(fields[2]), int(fields[11]), int(fields[12])
        if pgrp in wanted:
            totals[pgrp] += (utime + stime) / TICKS
    return totals


def children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's waited-for children (sysbench)."""
    times = os.times()
    return times.children_user + times.children_system
