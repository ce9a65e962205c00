"""DataMemory sized from the cloud you plan (`openstack.expectedScale`, `make sizing`).

NDB keeps every row in DataMemory, so the cluster must be sized before the cloud grows
(docs/ndb-compatibility.md, "Sizing"). Two measured inputs, both in config/ndb_memory.yaml
(written by `make measure-sizing`, tools/measure/sizing.py):
- the base: what each service's databases take per data node right after the control plane
  started (schemas migrated, every table's fragments allocated, the services' first rows);
- bytes per object of each kind (an instance with its port, actions, events and allocations;
  a volume; a heat stack with its events; ...), per copy of the data.

The estimate per data node, in bytes:

    held        = objects that exist + creations per day x retentionDays (nova, cinder and
                  heat keep deleted rows until purged; a deleted instance is counted at a live
                  one's cost, an upper bound: its port and allocations are gone)
    data        = sum over kinds of held x bytes per object / node groups
                  (each node group holds its share, each of its nodes a full copy of it)
    undo        = maxNoOfConcurrentOperations x mean bytes per row: NDB keeps a copy of every
                  row a running transaction changes in DataMemory (UNDO), and the largest
                  transaction a data node accepts is that many rows (a `nova-manage db purge`)
    used        = base + data + undo
    DataMemory  = used / targetFillPercent

NDB refuses rows (827, MySQL 1114) when usage reaches 100 % less MinFreePct (5 %, kept for
restarts), and logs "Data usage increased" at 80 % and 90 %; 70 % leaves the alert margin."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from config.settings import ExpectedScale, Settings

TABLE = Path(__file__).with_name("ndb_memory.yaml")
MIN_FREE_PCT = 5  # NDB's MinFreePct default (ConfigInfo.cpp)


class Round2(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    count: int
    measured_bytes: int
    predicted_bytes: int


class WarmUp(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    count: int
    bytes: int  # what the first `count` objects took: first pages of empty fragments too


class ObjectCost(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    bytes: int  # per object, one copy of the data (hash index pages included)
    hash_bytes: int  # of which primary-key hash index pages
    rows: float  # NDB fixed-size elements per object (rows and ordered-index T-tree nodes)
    by_database: dict[str, int]
    seconds_per_object: float
    warm_up: WarmUp
    round2: Round2


class MemoryTable(BaseModel):
    """config/ndb_memory.yaml as written by tools/measure/sizing.py."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    measured: str
    ndb_version: str
    method: str
    n: int
    data_nodes: int
    no_of_replicas: int
    fragments_per_table_and_node: float
    base_bytes_per_data_node: dict[str, int]  # service -> bytes, after the warm-up round
    empty_bytes_per_data_node: dict[str, int]  # service -> bytes, before any object
    objects: dict[str, ObjectCost]
    not_measured: dict[str, str]
    total_used_bytes_per_copy: dict[str, int]

    def mean_row_bytes(self) -> float:
        """Bytes per NDB row over every measured object (the UNDO estimate's row)."""
        rows = sum(c.rows for c in self.objects.values())
        return sum(c.bytes for c in self.objects.values()) / rows if rows else 0.0


class NoMeasurement(ValueError):
    """config/ndb_memory.yaml is missing: nothing to size from."""


@cache
def memory_table() -> MemoryTable:
    """config/ndb_memory.yaml; raises NoMeasurement if it is missing."""
    if not TABLE.is_file():
        raise NoMeasurement(f"no measurement: {TABLE.name} is missing; run make measure-sizing")
    return MemoryTable.model_validate(yaml.safe_load(TABLE.read_text()))


# expectedScale key -> (measured kind, whether retention multiplies it)
HELD: dict[str, tuple[str, bool]] = {
    "instances": ("instance", False),
    "instance_creates_per_day": ("instance", True),
    "failed_boots_per_day": ("failed_instance", True),
    "ports": ("port", False),
    "networks": ("network", False),
    "security_group_rules": ("security_group_rule", False),
    "images": ("image", False),
    "volumes": ("volume", False),
    "volume_creates_per_day": ("volume", True),
    "stacks": ("stack", False),
    "stack_creates_per_day": ("stack", True),
}


@dataclass(frozen=True)
class Estimate:
    """Bytes per data node unless named otherwise."""

    held: dict[str, int]  # measured kind -> objects held (live + kept deleted rows)
    data_per_copy: int  # bytes of the objects, one copy
    node_groups: int
    base: int
    data: int
    undo: int
    target_fill_percent: int
    unmeasured: tuple[str, ...]  # kinds the plan counts but no measurement covers

    @property
    def used(self) -> int:
        return self.base + self.data + self.undo

    @property
    def data_memory(self) -> int:
        """DataMemory per data node for `used` at the target fill, rounded up to 1 MiB."""
        needed = self.used * 100 / self.target_fill_percent
        return math.ceil(needed / (1 << 20)) << 20


def held_objects(scale: ExpectedScale) -> dict[str, int]:
    """Measured kind -> objects the cluster holds at once (deleted rows kept until purge)."""
    out: dict[str, int] = {}
    for key, (kind, per_day) in HELD.items():
        count = getattr(scale, key) * (scale.retention_days if per_day else 1)
        out[kind] = out.get(kind, 0) + count
    return out


def estimate(scale: ExpectedScale, services: tuple[str, ...], node_groups: int,
             concurrent_operations: int, *, table: MemoryTable | None = None) -> Estimate:
    """DataMemory per data node for `scale` with `services` (their databases' base cost) on
    `node_groups` node groups, a transaction of up to `concurrent_operations` rows; raises
    ValueError for a service with no measured base."""
    table = table or memory_table()
    unknown = [s for s in services if s not in table.base_bytes_per_data_node]
    if unknown:
        raise ValueError(f"no measured base for {unknown} in {TABLE.name}")
    held = held_objects(scale)
    unmeasured = tuple(k for k, n in held.items() if n and k not in table.objects)
    data_per_copy = sum(n * table.objects[k].bytes for k, n in held.items()
                        if k in table.objects)
    return Estimate(
        held=held, data_per_copy=data_per_copy, node_groups=node_groups,
        base=sum(table.base_bytes_per_data_node[s] for s in services),
        data=math.ceil(data_per_copy / node_groups),
        undo=math.ceil(concurrent_operations * table.mean_row_bytes()),
        target_fill_percent=scale.target_fill_percent, unmeasured=unmeasured)


def node_groups_needed(scale: ExpectedScale, services: tuple[str, ...],
                       concurrent_operations: int, max_data_memory: int,
                       *, table: MemoryTable | None = None, limit: int = 72) -> Estimate:
    """The estimate with the fewest node groups whose DataMemory per data node is at most
    `max_data_memory` bytes; raises ValueError if even `limit` node groups are not enough."""
    for groups in range(1, limit + 1):
        found = estimate(scale, services, groups, concurrent_operations, table=table)
        if found.data_memory <= max_data_memory:
            return found
    raise ValueError(f"more than {limit} node groups of {max_data_memory >> 20} MiB")


def settings_estimate(settings: Settings) -> Estimate | None:
    """The estimate for a stack's expectedScale on its own data nodes, or None if unset."""
    from config.sizing import with_databases

    scale = settings.openstack.expected_scale
    if scale is None:
        return None
    data = settings.data_nodes
    return estimate(scale, with_databases(settings), max(1, data.count // data.no_of_replicas),
                    data.max_no_of_concurrent_operations)
