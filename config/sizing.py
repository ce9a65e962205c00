"""NDB dictionary limits sized for the enabled OpenStack services.

NDB's defaults (MaxNoOfTables 128, MaxNoOfOrderedIndexes 128, ...) run out part-way through
one large service's schema (NDB error 904). Each catalog entry's `ndbSizing` holds what its
migrations were measured to create on a real cluster (`ndb_sizing.yaml` says how); the limit
for a stack is max(NDB default, sum over its services x headroom + base)."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from config.catalog import load_catalog
from config.settings import Settings

TABLE = Path(__file__).with_name("ndb_sizing.yaml")


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    count: str  # an NdbSizing field: tables, ordered_indexes, ...
    default: int  # NDB's own default for the parameter
    base: int  # what exists before any service


class SizingTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    headroom: float
    parameters: dict[str, Rule]  # config.ini parameter -> how it is sized


@cache
def sizing_table() -> SizingTable:
    return SizingTable.model_validate(yaml.safe_load(TABLE.read_text()))


def with_databases(settings: Settings) -> tuple[str, ...]:
    """The enabled services that keep databases in the cluster (horizon, for one, has none)."""
    catalog = load_catalog()
    return tuple(name for name in settings.openstack.services
                 if name in catalog.services and catalog.services[name].databases)


def dictionary_limits(services: tuple[str, ...]) -> dict[str, int]:
    """config.ini parameter -> the value the stack's services need (a count of objects)."""
    table = sizing_table()
    catalog = load_catalog()
    out = {}
    for name, rule in table.parameters.items():
        measured = 0
        for service in services:
            sizing = catalog.services[service].ndb_sizing
            assert sizing is not None  # the catalog requires it of a service with databases
            measured += int(getattr(sizing, rule.count))
        needed = math.ceil(measured * table.headroom) + rule.base
        out[name] = max(rule.default, needed)
    return out
