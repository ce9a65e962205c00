"""Shell scripts as the program ships them: files under components/render/scripts/ whose
parameters come from the environment.

The MySQL NDB Operator keeps its probe scripts the same way (pkg/resources/statefulset/scripts/
ndbmtd-startup-probe.sh reads NDB_CONNECTSTRING): each file runs and goes through shellcheck
as it is, and a parameter can never break the shell around it, as a value formatted into the
text could. Each file documents the environment it reads at its top.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

SCRIPTS_DIR = Path(__file__).with_name("scripts")


@dataclass(frozen=True)
class Script:
    """A script to run: `text` is the content of files under SCRIPTS_DIR (a library followed
    by a body, or a fixed head followed by generated lines) and `environment` the parameters it
    reads, name -> value. Whoever runs it adds its own variables (DOCKER_HOST, NDB_MGM, ...)."""

    text: str
    environment: dict[str, str]


@cache
def script_file(name: str) -> str:
    """The text of components/render/scripts/<name>."""
    return (SCRIPTS_DIR / name).read_text()
