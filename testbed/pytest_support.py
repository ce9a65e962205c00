"""How tests get the test bed: present, or skipped with the fix - and under CI=true, failed.

CI must never pass by skipping silently (a missing test bed there is a broken install step)."""

from __future__ import annotations

import os

import pytest

from testbed.cluster import Testbed, TestbedError


def require_testbed() -> Testbed:
    try:
        return Testbed.load()
    except (TestbedError, OSError) as error:
        reason = f"no NDB test bed ({error}); run `make testbed` (testbed/provision.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}", pytrace=False)
        pytest.skip(reason)
