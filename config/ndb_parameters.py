"""The config.ini parameter table (names, types, defaults, ranges) taken from NDB's own
ConfigInfo.cpp into `ndb_parameters.yaml`, and the check of user-tuned parameters against it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from config.units import format_size, parse_size

TABLE = Path(__file__).with_name("ndb_parameters.yaml")

# Set from typed settings and the topology; a `parameters:` entry must not fight them.
MANAGED_DATA_NODE_PARAMETERS = {
    "NoOfReplicas": "dataNodes.noOfReplicas",
    "DataMemory": "dataNodes.dataMemory",
    "IndexMemory": "dataNodes.dataMemory (IndexMemory is deprecated and added to DataMemory)",
    "NodeId": "the topology (data nodes take ids 1..N)",
    "HostName": "the topology (hosts and network)",
    "NodeGroup": "the topology (consecutive node ids form a node group)",
    "ServerPort": "dataNodes.serverPort",
    "LocationDomainId": "the topology (each host is a location domain)",
    "TransactionDeadlockDetectionTimeout": "dataNodes.transactionDeadlockDetectionTimeout",
    "MaxNoOfConcurrentOperations": "dataNodes.maxNoOfConcurrentOperations",
    "DataDir": "the data volume",
    "BackupDataDir": "the data volume",
}


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: Any
    min: int | None
    max: int | None
    size: bool = False
    deprecated: bool = False
    values: tuple[str, ...] = ()


@cache
def _raw_table() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(TABLE.read_text())
    return data


@cache
def parameters(section: str) -> dict[str, Parameter]:
    """Section is DB ([ndbd]), MGM ([ndb_mgmd]) or API ([mysqld]/[api])."""
    out = {}
    for name, p in (_raw_table()["parameters"].get(section) or {}).items():
        out[name] = Parameter(
            name=name, type=str(p.get("type", "int")), default=p.get("default"),
            min=p.get("min"), max=p.get("max"), size=bool(p.get("size", False)),
            deprecated=bool(p.get("deprecated", False)),
            values=tuple(p.get("values") or ()),
        )
    return out


def default(section: str, name: str) -> Any:
    return parameters(section)[name].default


def canonical_name(section: str, name: str) -> str | None:
    """NDB matches parameter names case-insensitively; this is the source's spelling."""
    return next((n for n in parameters(section) if n.lower() == name.lower()), None)


def managed_by(name: str) -> str | None:
    lowered = {k.lower(): v for k, v in MANAGED_DATA_NODE_PARAMETERS.items()}
    return lowered.get(name.lower())


def check_value(  # noqa: PLR0911 (one early return per kind of problem reads best)
    section: str, name: str, value: Any
) -> tuple[Any, str | None]:
    """Normalise one parameter value; return (value for config.ini, problem or None)."""
    table = parameters(section)
    canonical = canonical_name(section, name)
    if canonical is None:
        return value, f"{name!r} is not an NDB [ndbd] parameter (see config/ndb_parameters.yaml)"
    p = table[canonical]
    if p.deprecated:
        return value, f"{name} is deprecated in NDB; leave it out"
    if p.type == "bool":
        if isinstance(value, bool):
            return int(value), None
        if value in (0, 1, "0", "1", "true", "false"):
            return int(value in (1, "1", "true")), None
        return value, f"{name} takes true or false, got {value!r}"
    if p.type == "string":
        return str(value), None
    if p.type == "enum":
        match = next((v for v in p.values if v.lower() == str(value).lower()), None)
        if match is None:
            return value, f"{name} takes one of {', '.join(p.values)}, got {value!r}"
        return match, None
    try:
        number = parse_size(value) if p.size else _int(value)
    except ValueError as exc:
        return value, f"{name}: {exc}"
    if p.min is not None and number < p.min:
        return value, f"{name} must be at least {_show(p, p.min)}, got {value}"
    if p.max is not None and number > p.max:
        return value, f"{name} must be at most {_show(p, p.max)}, got {value}"
    return (format_size(number) if p.size else number), None


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"expected a whole number, got {value!r}")
    return int(value)


def _show(p: Parameter, number: int) -> str:
    return format_size(number) if p.size else str(number)
