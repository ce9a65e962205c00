"""DataMemory from the planned cloud (config/memory_sizing.py, `make sizing`) and the
settings check on openstack.expectedScale."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic.alias_generators import to_camel

from config import load_settings, memory_sizing
from config.memory_sizing import (
    MemoryTable,
    estimate,
    held_objects,
    node_groups_needed,
)
from config.settings import ExpectedScale
from tests.stacks import modified
from tests.unit.test_settings import problems

MiB = 1 << 20


def scale_of(**keys: int) -> ExpectedScale:
    return ExpectedScale.model_validate({to_camel(k): v for k, v in keys.items()})


def _cost(size: int, rows: float = 10.0) -> dict[str, object]:
    return {"bytes": size, "hash_bytes": 0, "rows": rows, "by_database": {},
            "seconds_per_object": 1.0, "warm_up": {"count": 1, "bytes": size},
            "round2": {"count": 1, "measured_bytes": size, "predicted_bytes": size}}


TABLE = MemoryTable.model_validate({
    "measured": "2026-12-01", "ndb_version": "9.7.2", "method": "synthetic", "n": 1,
    "data_nodes": 2, "no_of_replicas": 2, "fragments_per_table_and_node": 2.0,
    "base_bytes_per_data_node": {"nova": 100 * MiB, "keystone": 20 * MiB},
    "empty_bytes_per_data_node": {"nova": 90 * MiB, "keystone": 19 * MiB},
    "objects": {"instance": _cost(10_000), "volume": _cost(2_000)},
    "not_measured": {}, "total_used_bytes_per_copy": {"start": 0, "end": 0},
})


def test_creations_per_day_are_held_for_the_retention() -> None:
    scale = scale_of(instances=100, instance_creates_per_day=10, retention_days=30,
                          volumes=5)
    held = held_objects(scale)
    assert held["instance"] == 100 + 10 * 30
    assert held["volume"] == 5 and held["stack"] == 0


def test_estimate_adds_base_objects_per_node_group_and_undo_then_target_fill() -> None:
    scale = scale_of(instances=1000, volumes=500, target_fill_percent=50)
    found = estimate(scale, ("nova", "keystone"), 2, 1000, table=TABLE)
    assert found.base == 120 * MiB
    assert found.data_per_copy == 1000 * 10_000 + 500 * 2_000
    assert found.data == found.data_per_copy // 2  # two node groups share the copy
    assert found.undo == 1000 * (12_000 / 20)  # mean bytes per row over the kinds
    assert found.used == found.base + found.data + found.undo
    assert found.data_memory >= 2 * found.used and found.data_memory % MiB == 0
    assert found.data_memory - 2 * found.used < MiB


def test_unmeasured_kinds_are_named_not_guessed() -> None:
    found = estimate(scale_of(stacks=10), ("nova",), 1, 0, table=TABLE)
    assert found.unmeasured == ("stack",) and found.data == 0


def test_unknown_service_is_an_error() -> None:
    with pytest.raises(ValueError, match="glance"):
        estimate(scale_of(), ("glance",), 1, 0, table=TABLE)


def test_fewest_node_groups_under_the_ceiling() -> None:
    scale = scale_of(instances=100_000)  # 1 GB of instances per copy
    one = estimate(scale, ("nova",), 1, 0, table=TABLE)
    found = node_groups_needed(scale, ("nova",), 0, 600 * MiB, table=TABLE)
    assert one.data_memory > 600 * MiB >= found.data_memory
    assert estimate(scale, ("nova",), found.node_groups - 1, 0, table=TABLE
                    ).data_memory > 600 * MiB
    with pytest.raises(ValueError, match="node groups"):
        node_groups_needed(scale, ("nova",), 0, 100 * MiB, table=TABLE, limit=4)


@pytest.fixture
def synthetic(monkeypatch: pytest.MonkeyPatch) -> MemoryTable:
    """The settings check reads TABLE instead of config/ndb_memory.yaml, whose figures change
    with each measurement: the dev stack's services, every one with a base."""
    table = TABLE.model_copy(update={"base_bytes_per_data_node": {
        s: 10 * MiB for s in ("keystone", "glance", "placement", "nova", "neutron", "heat",
                              "cinder")}})
    monkeypatch.setattr(memory_sizing, "memory_table", lambda: table)
    return table


def test_expected_scale_too_big_for_data_memory_is_refused_with_the_figure(
        synthetic: MemoryTable) -> None:
    # 70 base + 40,000 x 10,000 bytes (381 MiB) + 131,072 x 600 UNDO (75 MiB), at 70 %
    raw = modified("dev", "openstack.expectedScale", {"instances": 40_000})
    message = problems(raw)["dataNodes.dataMemory"]
    needed = memory_sizing.estimate(scale_of(instances=40_000), tuple(
        synthetic.base_bytes_per_data_node), 1, 131_072, table=synthetic).data_memory
    assert needed > 512 * MiB
    assert ("DataMemory 512M is too small for openstack.expectedScale: the cloud needs "
            f"dataNodes.dataMemory of at least {needed // MiB}M per data node") in message
    assert "make sizing" in message
    # two node groups halve the objects' share: the same plan fits 4 data nodes
    raw = modified("dev", "openstack.expectedScale", {"instances": 25_000})
    assert "dataNodes.dataMemory" in problems(raw)
    raw["dataNodes"]["count"] = 4
    assert load_settings(raw).data_nodes.count == 4


def test_expected_scale_that_fits_passes_and_unset_is_not_checked(
        synthetic: MemoryTable) -> None:
    fits = load_settings(modified("dev", "openstack.expectedScale", {"instances": 10}))
    assert fits.openstack.expected_scale == scale_of(instances=10)
    assert load_settings(modified("dev", "dataNodes.dataMemory", "8M")).openstack.expected_scale \
        is None


def test_expected_scale_keys_are_checked_by_path() -> None:
    found = problems(modified("dev", "openstack.expectedScale", {"instances": -1}))
    assert "openstack.expectedScale.instances" in found
    found = problems(modified("dev", "openstack.expectedScale", {"instancez": 1}))
    assert "openstack.expectedScale.instancez" in found


def test_make_sizing_prints_the_inputs_and_the_figure() -> None:
    from tools.sizing import render

    scale = scale_of(instances=1000, volumes=500)
    found = estimate(scale, ("nova", "keystone"), 1, 1000, table=TABLE)
    text = render(scale, ("nova", "keystone"), found, 512 * MiB, TABLE)
    assert "instances" in text and "1,000" in text and "volumeCreatesPerDay" in text
    assert f"{found.data_memory / MiB:,.0f} MiB   <- dataNodes.dataMemory" in text
    assert "stack" in text and "unmeasured" not in text  # both kinds measured, stack 0 held
    verdict = "enough" if 512 * MiB >= found.data_memory else "TOO SMALL"
    assert "(1 node group(s))" in text and verdict in text


def test_without_a_measurement_the_check_says_how_to_make_one(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(memory_sizing, "TABLE", tmp_path / "ndb_memory.yaml")
    memory_sizing.memory_table.cache_clear()
    try:
        message = problems(modified("dev", "openstack.expectedScale", {"instances": 1}))[
            "openstack.expectedScale"]
    finally:
        memory_sizing.memory_table.cache_clear()
    assert "make measure-sizing" in message
