"""Every shell file of the repository parses and passes shellcheck: the CI entry point too
(`.ci/run` once lost its last line into a comment's backquotes and CI stopped at `bash -n`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from testbed.pytest_support import require_tool
from tests.mock_program import ROOT


def shell_files() -> list[Path]:
    found = [ROOT / ".ci" / "run"]
    for path in sorted(ROOT.rglob("*.sh")):
        relative = path.relative_to(ROOT).parts
        if not any(part.startswith(".") or part == "__pycache__" for part in relative):
            found.append(path)
    return found


@pytest.mark.parametrize("path", shell_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_shell_file_parses_and_passes_shellcheck(path: Path) -> None:
    parsed = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr
    shellcheck = require_tool("shellcheck")
    # SC1091: a `source` of a file shellcheck is not given (the gate library, by its path in
    # the container); test_render_haproxy_and_scripts.py checks those with the library.
    checked = subprocess.run([shellcheck, "--severity=style", "--exclude=SC1091", str(path)],
                             capture_output=True, text=True, cwd=path.parent)
    assert checked.returncode == 0, checked.stdout


def test_the_ci_entry_point_ends_in_make_test() -> None:
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[-1] == "make test"
