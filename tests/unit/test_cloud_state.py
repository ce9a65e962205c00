"""`make cloud-up` / `cloud-down` trust a pid file only while it names their own server: after
a crash or a reboot the pid may belong to another program, which must never be killed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.openstack.cloud import _serving_pid


def test_a_pid_file_naming_another_program_is_stale(tmp_path: Path) -> None:
    (tmp_path / "serve.pid").write_text(str(os.getpid()))  # pytest, not the cloud's server
    assert _serving_pid(tmp_path) is None


def test_no_or_garbled_pid_file_is_no_server(tmp_path: Path) -> None:
    assert _serving_pid(tmp_path) is None
    (tmp_path / "serve.pid").write_text("not a pid")
    assert _serving_pid(tmp_path) is None


def test_the_cloud_server_is_recognised(tmp_path: Path) -> None:
    # A process whose command line is the server's (it only sleeps).
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)",
                             "tests.openstack.cloud", "serve"])
    try:
        # Popen returns after fork, maybe before exec: until then the child's command line is
        # still pytest's. Wait for the exec (on a loaded machine it can take a moment).
        cmdline = Path(f"/proc/{proc.pid}/cmdline")
        deadline = time.monotonic() + 10
        while b"serve" not in cmdline.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)
        (tmp_path / "serve.pid").write_text(str(proc.pid))
        assert _serving_pid(tmp_path) == proc.pid
    finally:
        proc.kill()
        proc.wait()
    assert _serving_pid(tmp_path) is None
