"""ndb_fit's finding kinds are a StrEnum whose values are what the report and --json print."""

from __future__ import annotations

import json

import pytest

from ndb_fit import Finding, Kind, format_table
from ndb_fit.analyzer import summarize

FINDING = Finding("nova", "migrations", Kind.INDEX_KEY_LENGTH, "index ix: key 3829 bytes > 3072",
                  {"key_bytes": 3829, "limit": 3072})


def test_json_and_text_show_plain_values() -> None:
    as_json = json.loads(json.dumps(FINDING.as_dict()))
    assert as_json["kind"] == "index_key_length"
    assert type(FINDING.as_dict()["kind"]) is str
    assert format_table([FINDING]).splitlines()[1].split()[:2] == [
        "nova.migrations", "index_key_length"]
    # __main__ prints summarize()'s keys with f-strings.
    assert [f"{k} {n}" for k, n in summarize([FINDING, FINDING]).items()] == [
        "index_key_length 2"]


def test_a_finding_read_back_has_its_kind_again() -> None:
    again = Finding(**FINDING.as_dict())
    assert again == FINDING and again.kind is Kind.INDEX_KEY_LENGTH


def test_a_value_that_is_no_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="row_sise"):
        Finding(**{**FINDING.as_dict(), "kind": "row_sise"})
