"""How tests get the test bed and tools: present, or skipped with the fix - and under CI=true,
failed.

CI must never pass by skipping silently (a missing test bed there is a broken install step)."""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

from testbed.cluster import Testbed, TestbedError


def unavailable(reason: str) -> NoReturn:
    """Something a test needs is missing: skip with the fix, or under CI=true fail."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def require_testbed() -> Testbed:
    try:
        return Testbed.load()
    except (TestbedError, OSError) as error:
        unavailable(f"no NDB test bed ({error}); run `make testbed` (testbed/provision.sh)")


def require_tool(name: str) -> str:
    """A program from a Debian package (.ci/run installs them), on PATH or in /usr/sbin."""
    path = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))
    if path is None:
        unavailable(f"{name} is not installed (.ci/run installs it)")
    return path
