"""Running a bench's long child process: its output line by line as it comes, and killed
when it overruns its time limit (a bench must stay bounded)."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from pathlib import Path


def stream(argv: list[str], timeout: float, on_line: Callable[[str], object], *,
           cwd: Path | None = None, env: dict[str, str] | None = None) -> int:
    """Run `argv` with stderr into stdout, give each output line (newline kept) to
    `on_line` as it comes, and return the exit code; after `timeout` seconds the process
    is killed and the code is negative."""
    with subprocess.Popen(argv, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT) as proc:
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                on_line(line)
            return proc.wait()
        finally:
            timer.cancel()
