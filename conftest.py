"""Test tiers: every test gets the marker of the folder it lives in (pyproject.toml registers
them; README "Tests" says what each needs and costs).

One table here rather than a conftest per folder, so that a test in a folder nobody gave a
tier fails collection instead of silently dropping out of `make test-fast` or `make test`.
Tests marked `full` (long opt-in suites) are deselected unless pytest runs with `--full`
(`make test-full`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent

# Folder (relative to the repository) -> its tier. The most specific folder wins.
TIERS: dict[str, str] = {
    "tests/unit": "unit",
    "tests/mocks": "mocks",
    "tests/real": "real",
    "tests/testbed": "testbed",
    "tests/openstack": "openstack",
    "tests/kolla": "kolla",
    "testbed": "testbed",  # testbed/smoke_test.py: the test bed's own hand-written cluster
}
OPT_IN = "full"


def tier_of(path: Path) -> str | None:
    if not path.resolve().is_relative_to(ROOT):
        return None
    relative = path.resolve().relative_to(ROOT).as_posix()
    folders = [f for f in TIERS if relative.startswith(f"{f}/")]
    return TIERS[max(folders, key=len)] if folders else None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--full", action="store_true",
                     help=f"also run the long opt-in suites (tests marked `{OPT_IN}`)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    untiered = []
    for item in items:
        tier = tier_of(item.path)
        if tier is None:
            untiered.append(item.nodeid)
        else:
            item.add_marker(tier)
    if untiered:
        raise pytest.UsageError(f"tests outside every tier folder of conftest.py TIERS: "
                                f"{untiered}; add their folder there")
    if config.getoption("--full"):
        return
    opt_in = [item for item in items if item.get_closest_marker(OPT_IN)]
    if opt_in:
        config.hook.pytest_deselected(items=opt_in)
        items[:] = [item for item in items if not item.get_closest_marker(OPT_IN)]
