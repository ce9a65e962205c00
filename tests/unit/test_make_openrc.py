"""`make openrc`'s own logic: the file it writes is mode 0600 and a failed read leaves none.

The Pulumi CLI is not on this machine; a two-line script named `pulumi` plays `pulumi stack
output` here. This checks the Makefile recipe only, not Pulumi (which never ran here)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from testbed.pytest_support import require_tool
from tests.mock_program import ROOT


def make_openrc(tmp_path: Path, exit_code: int) -> subprocess.CompletedProcess[str]:
    make = require_tool("make")  # under CI=true a missing make fails, never skips
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "pulumi"
    fake.write_text(f"#!/bin/sh\necho \"export OS_PASSWORD=secret args=$*\"\nexit {exit_code}\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    return subprocess.run(
        [make, "-s", "-C", str(ROOT), "openrc", f"OPENRC={tmp_path / 'openrc-dev'}"],
        env=env, capture_output=True, text=True, check=False)


def test_openrc_is_written_mode_0600(tmp_path: Path) -> None:
    done = make_openrc(tmp_path, 0)
    assert done.returncode == 0, done.stderr
    path = tmp_path / "openrc-dev"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "OS_PASSWORD=secret" in text
    assert "stack output openrc --show-secrets --stack dev" in text


def test_failed_read_leaves_no_file(tmp_path: Path) -> None:
    done = make_openrc(tmp_path, 1)
    assert done.returncode != 0
    assert "run make up first" in done.stderr
    assert list(tmp_path.glob("openrc-dev*")) == []
