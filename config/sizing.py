"""NDB dictionary limits sized for the enabled OpenStack services.

NDB's defaults (MaxNoOfTables 128, MaxNoOfOrderedIndexes 128, ...) run out part-way through
one large service's schema (NDB error 904). `ndb_sizing.yaml` holds what each service's
migrations were measured to create on a real cluster; the limit for a stack is
max(NDB default, sum over its services x headroom + base)."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from config.catalog import load_catalog
from config.settings import Settings

TABLE = Path(__file__).with_name("ndb_sizing.yaml")


@cache
def sizing_table() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(TABLE.read_text())
    return data


def known_services() -> tuple[str, ...]:
    return tuple(sizing_table()["services"])


def with_databases(settings: Settings) -> tuple[str, ...]:
    """The enabled services that keep databases in the cluster (horizon, for one, has none)."""
    catalog = load_catalog()
    return tuple(name for name in settings.openstack.services
                 if name in catalog.services and catalog.services[name].databases)


def dictionary_limits(services: tuple[str, ...]) -> dict[str, int]:
    """config.ini parameter -> the value the stack's services need."""
    table = sizing_table()
    out = {}
    for name, rule in table["parameters"].items():
        measured = sum(int(table["services"][s][rule["count"]]) for s in services)
        needed = math.ceil(measured * float(table["headroom"])) + int(rule["base"])
        out[name] = max(int(rule["default"]), needed)
    return out
