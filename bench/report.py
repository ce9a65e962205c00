"""What every side-by-side bench reports beside its figures: the ratio of two figures as the
table shows it, and the machine the figures ran on."""

from __future__ import annotations

import math
import os
import platform
from pathlib import Path


def ratio(ndb: float | None, peer: float | None) -> str:
    """NDB's figure over the peer's, two decimals; "-" when either is missing or NaN, "="
    when both are 0 and "∞" when only the peer's is."""
    if ndb is None or peer is None or math.isnan(ndb) or math.isnan(peer):
        return "-"
    if peer == 0:
        return "=" if ndb == 0 else "∞"
    return f"{ndb / peer:.2f}"


def machine(**versions: str) -> dict[str, str]:
    """CPUs, CPU model, memory (GiB) and kernel of this machine, plus the given versions of
    what ran (name -> version text)."""
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory_gib": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f}",
        "kernel": platform.release(),
        **versions,
    }
