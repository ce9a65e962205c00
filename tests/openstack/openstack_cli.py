"""The `openstack` CLI as a user runs it: `source openrc && openstack ...` in a login-less
bash, python-openstackclient from its PyPI venv (with heat's plugin), through the rendered
API HAProxy."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

from tests.openstack.services import VENVS

CLI_TIMEOUT_S = 300


class Cli:
    """The admin's CLI: `openrc` is the text of an openrc (Cloud.openrc()), written 0600 in
    `folder`, which is also the CLI's HOME and working directory."""

    def __init__(self, openrc: str, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.openrc = folder / "openrc"
        self.openrc.touch(mode=0o600)
        self.openrc.write_text(openrc)
        self.bin = VENVS["openstackclient"] / "bin"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`openstack args`; check: fail (AssertionError, with its stderr) unless it exits 0.
        Raises subprocess.TimeoutExpired after CLI_TIMEOUT_S seconds."""
        line = f"source {shlex.quote(str(self.openrc))} && openstack {shlex.join(args)}"
        env = {"PATH": f"{self.bin}:{os.environ['PATH']}", "HOME": str(self.folder),
               "LANG": "C.UTF-8"}
        done = subprocess.run(["bash", "-c", line], env=env, cwd=self.folder,
                              capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
                              check=False)
        if check:
            assert done.returncode == 0, f"openstack {shlex.join(args)}:\n{done.stderr[-3000:]}"
        return done

    def json(self, *args: str) -> Any:
        """`openstack args -f json`, parsed; it must exit 0."""
        return json.loads(self.run(*args, "-f", "json").stdout)
