"""[ndbd default] as NDB reads it: its value syntax and its cross-parameter rules, refused in
load_settings (before any resource) naming the key and NDB's reason.

The agreement with a real ndb_mgmd, generated and case by case, is
tests/testbed/test_ndb_parameters_accepted.py; the cases below are its small inputs."""

from __future__ import annotations

from typing import Any

import pytest

from config import SettingsError, load_settings, ndb_parameters
from config.ndb_parameters import parse_bool, parse_number
from tests.stacks import modified, settings_for


def problems(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SettingsError) as info:
        load_settings(raw)
    return {p.path: p.message for p in info.value.problems}


def with_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    return modified("dev", "dataNodes.parameters", parameters)


# InitConfigFileParser.cpp's own test of convertStringToUint64 (TEST_INITCONFIGFILEPARSER),
# then strtoull's base 0 (hex, octal) and the overflow checks.
@pytest.mark.parametrize(("text", "number"), [
    ("37", 37), ("0", 0), ("-0", 0), ("-1", -1), ("-37", -37),
    ("37k", 37 << 10), ("37K", 37 << 10), ("37M", 37 << 20), ("37G", 37 << 30),
    ("10kB", None), ("10 M", None), ('10 "M12L"', None), ("10 'M12L'", None),
    ("10M12L", None), ("10T'", None), ("37T", None), ("M", None), ("MAX_UINT", None),
    ("Magnus'", None), ("", None), ("trettisju", None),
    ("0x10", 16), ("0X1f", 31), ("010", 8), ("0600", 384), ("08", None), ("0x", None),
    ("+5", 5), ("  7", 7), ("1_000", None), ("12.5", None), ("1e3", None), ("64m", None),
    ("18446744073709551615", 2**64 - 1), ("18446744073709551616", None),
    ("17179869183G", (2**34 - 1) << 30), ("17179869184G", None),
    ("-9223372036854775808", -(2**63)), ("-9223372036854775809", None),
])
def test_numbers_read_as_ndb_reads_them(text: str, number: int | None) -> None:
    assert parse_number(text) == number


@pytest.mark.parametrize("text", ["Y", "y", "Yes", "YES", "yes", "True", "TRUE", "true", "1"])
def test_ndb_true_spellings(text: str) -> None:
    assert parse_bool(text) is True


@pytest.mark.parametrize("text", ["yES", "ON", "t", "2", "", "tRUE"])
def test_other_bool_spellings_are_not_ndb_bools(text: str) -> None:
    assert parse_bool(text) is None


# The old check refused what NDB reads (2k, Yes, 0x10, 0600 = 384) and took what NDB does not
# (1_000, 64m, 1T as written): each the generator's kind, each a small input.
@pytest.mark.parametrize(("name", "value", "rendered"), [
    ("MaxNoOfTables", "2k", 2048),
    ("ODirect", "Yes", 1),
    ("ODirect", "n", 0),
    ("MaxNoOfExecutionThreads", "0x10", 16),
    ("MaxNoOfConcurrentScans", "0600", 384),
    ("DiskPageBufferMemory", "0x4000000", "64M"),
    ("Arbitration", "waitexternal", "WaitExternal"),
    ("InitFragmentLogFiles", " full ", "full"),
])
def test_ndb_spellings_are_taken_and_rendered_as_ndb_reads_them(
        name: str, value: Any, rendered: Any) -> None:
    settings = load_settings(with_parameters({name: value}))
    assert ndb_parameters.check_value("DB", name, value) == (rendered, None)
    assert settings.data_nodes.parameters == {name: value}


@pytest.mark.parametrize(("name", "value", "reason"), [
    ("MaxNoOfTables", "1_000", "NDB cannot read '1_000' as a whole number"),
    ("DiskPageBufferMemory", "64m", "NDB cannot read '64m'"),
    ("DiskPageBufferMemory", "1T", "NDB cannot read '1T'"),
    ("MaxNoOfConcurrentScans", "600", "must be at most 500"),
    ("MaxNoOfTables", -5, "must be at least 8"),
    ("MaxNoOfTables", True, "NDB cannot read True as a whole number"),
    ("ODirect", "ON", "NDB spells them"),
    ("ODirect", 2, "takes true or false"),
    ("InitFragmentLogFiles", "full#sparse", "cannot be written into config.ini"),
    ("ThreadConfig", "ldm={count=2}", "is not taken here"),
])
def test_values_ndb_cannot_read_are_refused(name: str, value: Any, reason: str) -> None:
    assert reason in problems(with_parameters({name: value}))[f"dataNodes.parameters.{name}"]


def test_a_parameter_given_twice_in_two_cases_is_refused() -> None:
    found = problems(with_parameters({"MaxNoOfTables": 2000, "maxnooftables": 3000}))
    assert "also given as dataNodes.parameters.MaxNoOfTables" in (
        found["dataNodes.parameters.maxnooftables"])


# --- the cross-parameter rules (config/ndb_parameters.yaml `rules:`) -------------------------


def test_issue_14_operations_below_transactions() -> None:
    found = problems(modified("dev", "dataNodes.maxNoOfConcurrentOperations", 1000))
    message = found["dataNodes.maxNoOfConcurrentOperations"]
    assert "MaxNoOfConcurrentTransactions=4096 (NDB's default" in message
    assert ('NDB: "MaxNoOfConcurrentOperations must be greater than '
            'MaxNoOfConcurrentTransactions"') in message


def test_issue_14_fragment_log_parts() -> None:
    found = problems(with_parameters({"NoOfFragmentLogParts": 5}))
    assert 'NDB: "NoOfLogParts must be 4,6,8,10,12,16,20,24 or 32"' in (
        found["dataNodes.parameters.NoOfFragmentLogParts"])


@pytest.mark.parametrize("parts", [4, 6, 8, 10, 12, 16, 20, 24, 32])
def test_every_fragment_log_part_count_ndb_takes(parts: int) -> None:
    load_settings(with_parameters({"NoOfFragmentLogParts": parts}))


def test_operations_equal_to_transactions_are_accepted() -> None:
    load_settings(with_parameters({"MaxNoOfConcurrentTransactions": 131072}))


def test_transactions_above_operations_name_the_parameter_set_here() -> None:
    found = problems(with_parameters({"MaxNoOfConcurrentTransactions": 131073}))
    assert "MaxNoOfConcurrentOperations=131072 (dataNodes.maxNoOfConcurrentOperations)" in (
        found["dataNodes.parameters.MaxNoOfConcurrentTransactions"])
    raw = with_parameters({"MaxNoOfConcurrentTransactions": 8192})
    raw["dataNodes"]["maxNoOfConcurrentOperations"] = 8000
    assert set(problems(raw)) == {"dataNodes.parameters.MaxNoOfConcurrentTransactions"}


def test_dml_limit_within_operations() -> None:
    found = problems(with_parameters({"MaxDMLOperationsPerTransaction": 131073}))
    assert "must not be greater than MaxNoOfConcurrentOperations" in (
        found["dataNodes.parameters.MaxDMLOperationsPerTransaction"])
    load_settings(with_parameters({"MaxDMLOperationsPerTransaction": 131072}))
    load_settings(with_parameters({"MaxDMLOperationsPerTransaction": 4294967295}))  # no limit


def test_dictionary_sum_counts_the_services_sizing() -> None:
    # dev's services size MaxNoOfTables 1091 and MaxNoOfUniqueHashIndexes 313.
    edge = 4294967293 - 1091 - 313
    load_settings(with_parameters({"MaxNoOfOrderedIndexes": edge}))
    found = problems(with_parameters({"MaxNoOfOrderedIndexes": edge + 1}))
    message = found["dataNodes.parameters.MaxNoOfOrderedIndexes"]
    assert "MaxNoOfTables=1091 (sized for openstack.services)" in message
    assert "must not exceed 4294967293" in message


def test_data_memory_within_ndb_range() -> None:
    found = problems(modified("dev", "dataNodes.dataMemory", "512K"))
    assert "DataMemory must be at least 1M" in found["dataNodes.dataMemory"]


def test_one_replica_at_most_72_data_nodes() -> None:
    raw = modified("dev", "dataNodes.noOfReplicas", 1)
    raw["dataNodes"]["count"] = 73
    raw["network"] = {"subnet": "172.28.0.0/22"}
    found = problems(raw)
    assert "Too many Datanodes(73) for replicas=1, Max Nodes allowed: 72" in (
        found["dataNodes.count"])


def test_the_rules_see_what_config_ini_carries() -> None:
    """data_node_problems reads the same [ndbd default] values the renderer writes."""
    from components.render.ndb import data_node_parameters

    settings = load_settings(with_parameters({"MaxNoOfTables": "2k", "NoOfFragmentLogParts": 8}))
    rendered = data_node_parameters(settings)
    assert rendered["MaxNoOfTables"] == 2048 and rendered["NoOfFragmentLogParts"] == 8
    for stack in ("dev", "prod"):
        assert ndb_parameters.data_node_problems(settings_for(stack)) == []
