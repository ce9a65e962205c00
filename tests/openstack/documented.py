"""What docs/ndb-compatibility.md states, read from its tables.

The tests that keep the doc true take their expectations from here, not from a copy of the
doc's numbers, so a change to either the doc or NDB's behaviour fails a test.
``tests/unit/test_compat_doc.py`` reads the same tables without a server: the parse itself,
the tables' own sums, and the kind table against ``ndb_probe.REJECTIONS``.
"""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "ndb-compatibility.md"

# Header rows (their first cells) of the tables read here.
SUMMARY = "| service | tables | as shipped (ndb_fit, besides engine) |"
ANALYZER = "| service | tables | refused by NDB | changed by NDB |"
KINDS = "| kind | NDB's answer | seen on |"

# "1215 / NDB 21034 ..." or "1071 ...": a MySQL error, then the NDB code if the doc names one.
_CODES = re.compile(r"^(\d+)(?: (?:/|\+) NDB (\d+))?\b")
_LEADING_INT = re.compile(r"^(\d[\d,]*)")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _plain(cell: str) -> str:
    """A cell without Markdown emphasis or code marks: '**all**' -> 'all'."""
    return cell.replace("**", "").replace("`", "").strip()


def table(header: str, text: str | None = None) -> list[dict[str, str]]:
    """Rows (column -> cell, as written) of the one table whose header row starts with
    ``header``. Raises LookupError if the doc has no such table, or more than one."""
    lines = (DOC.read_text(encoding="utf-8") if text is None else text).splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(header)]
    if len(starts) != 1:
        raise LookupError(f"{len(starts)} tables in {DOC.name} start with {header!r}")
    columns = _cells(lines[starts[0]])
    rows = []
    for line in lines[starts[0] + 2:]:  # after the header and its |---| line
        if not line.startswith("|"):
            break
        cells = _cells(line)
        if len(cells) != len(columns):
            raise ValueError(f"{DOC.name}: {len(cells)} cells, {len(columns)} columns: {line}")
        rows.append(dict(zip(columns, cells, strict=True)))
    return rows


def _leading_int(cell: str) -> int:
    match = _LEADING_INT.match(_plain(cell))
    if match is None:
        raise ValueError(f"{DOC.name}: no number at the start of {cell!r}")
    return int(match.group(1).replace(",", ""))


def _codes(text: str) -> tuple[int, int | None]:
    match = _CODES.match(_plain(text))
    if match is None:
        raise ValueError(f"{DOC.name}: no error code at the start of {text!r}")
    return int(match.group(1)), None if match.group(2) is None else int(match.group(2))


def analyzer_counts(text: str | None = None) -> dict[str, tuple[int, int, int]]:
    """"Analyzer vs NDB, table by table": row (a service, or 'all') -> (tables, refused by
    NDB, changed by NDB)."""
    return {
        _plain(row["service"]): (_leading_int(row["tables"]), _leading_int(row["refused by NDB"]),
                                 _leading_int(row["changed by NDB"]))
        for row in table(ANALYZER, text)
    }


def analyzer_verdicts(text: str | None = None) -> dict[str, tuple[int, int, int]]:
    """The same table's ndb_fit side: row -> (refused, changed, agreeing tables)."""
    out = {}
    for row in table(ANALYZER, text):
        refused, _, changed = _plain(row["ndb_fit: refused / changed"]).partition(" / ")
        out[_plain(row["service"])] = (_leading_int(refused), _leading_int(changed),
                                       _leading_int(row["agree"]))
    return out


def kind_answers(text: str | None = None) -> dict[str, tuple[int, int | None] | None]:
    """The kind table: kind -> (MySQL error, NDB code or None) NDB refuses the table with, or
    None where NDB accepts it ("accepted; ...")."""
    out: dict[str, tuple[int, int | None] | None] = {}
    for row in table(KINDS, text):
        answer = _plain(row["NDB's answer"])
        out[_plain(row["kind"])] = None if answer.startswith("accepted") else _codes(answer)
    return out


def failures_without_adaptation(text: str | None = None) -> dict[str, tuple[int, int | None]]:
    """Summary, "(a) dictionary sized" (engine substitution only, on the dev stack's sized
    cluster): failing service -> (MySQL error, NDB code or None). "same" refers to the
    "(a) NDB's default dictionary" cell of the row."""
    out = {}
    for row in table(SUMMARY, text):
        cell = _plain(row["(a) dictionary sized"])
        if not cell.startswith("fails:"):
            continue
        if cell == "fails: same":
            cell = _plain(row["(a) NDB's default dictionary"])
        out[_plain(row["service"])] = _codes(cell.removeprefix("fails:").strip())
    return out
