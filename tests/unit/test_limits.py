"""NDB's limits are written once (ndb_adapt.limits) and both estimators read them alike.

ndb_adapt sizes columns from DDL text, ndb_fit from information_schema rows; both must give
a column the row bytes NDB counts. The entries one side lacked before the tables were merged
(utf16le for ndb_adapt, BOOL/BOOLEAN for ndb_fit, geometry for ndb_adapt) are pinned here.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from types import ModuleType

import pytest

import ndb_adapt.limits as shared
from ndb_adapt import ddl, rewrite
from ndb_fit import analyzer
from ndb_fit import limits as fit_limits
from ndb_fit.analyzer import Column, column_row_bytes

SHARED = {name: value for name, value in vars(shared).items() if name.isupper()}
# Every module of the two packages that sizes or classifies columns.
USERS: list[ModuleType] = [ddl, rewrite, analyzer, fit_limits]


def _assigned_names(module: ModuleType) -> set[str]:
    tree = ast.parse(inspect.getsource(module))
    names: set[str] = set()
    for node in tree.body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign | ast.AugAssign) else [])
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


@pytest.mark.parametrize("module", USERS, ids=lambda m: m.__name__)
def test_no_module_keeps_its_own_copy(module: ModuleType) -> None:
    redefined = _assigned_names(module) & set(SHARED)
    assert not redefined, f"{module.__name__} defines {sorted(redefined)}: import them"
    for name, value in vars(module).items():
        if name in SHARED:
            assert value is SHARED[name], f"{module.__name__}.{name} is not ndb_adapt.limits'"


def test_ndb_fit_limits_offers_every_shared_limit() -> None:
    assert set(SHARED) <= set(fit_limits.__all__)


def test_no_other_literal_table_of_blob_types_or_charsets() -> None:
    """A set/tuple/list/dict literal naming two or more blob types or character sets outside
    ndb_adapt/limits.py is a second table (as rewrite.create_index had one)."""
    root = Path(shared.__file__).resolve().parents[1]
    known = set(shared.BLOB_TYPES) | set(shared.BYTES_PER_CHAR)
    found = []
    for path in sorted([*root.joinpath("ndb_adapt").rglob("*.py"),
                        *root.joinpath("ndb_fit").rglob("*.py")]):
        if path == Path(shared.__file__).resolve():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Set | ast.Tuple | ast.List | ast.Dict):
                items = node.keys if isinstance(node, ast.Dict) else node.elts
                words = {i.value for i in items
                         if isinstance(i, ast.Constant) and isinstance(i.value, str)}
                if len(words & known) >= 2:
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not found, f"tables of types or character sets outside ndb_adapt.limits: {found}"


def _words(nbytes: int) -> int:
    return -(-nbytes // shared.ROW_WORD_BYTES) * shared.ROW_WORD_BYTES


def _fit_column(data_type: str, max_chars: int | None = None, charset: str | None = None
                ) -> Column:
    return Column("c", data_type, data_type, max_chars, None, None, None, None, charset)


@pytest.mark.parametrize("data_type", sorted(set(shared.FIXED_BYTES) | shared.BLOB_TYPES))
def test_both_sides_size_every_known_type_alike(data_type: str) -> None:
    adapt = ddl.parse_column(f"c {data_type.upper()}")
    assert adapt is not None
    assert adapt.row_bytes("utf8mb4") == _words(column_row_bytes(_fit_column(data_type)))


@pytest.mark.parametrize("charset", sorted(shared.BYTES_PER_CHAR))
def test_both_sides_size_every_known_charset_alike(charset: str) -> None:
    adapt = ddl.parse_column(f"c VARCHAR(100) CHARACTER SET {charset}")
    assert adapt is not None
    fit = column_row_bytes(_fit_column("varchar", 100, charset))
    assert adapt.row_bytes("latin1") == _words(fit)


# --- the entries one side lacked -------------------------------------------------------------


def test_utf16le_is_four_bytes_a_char_on_both_sides() -> None:
    # ndb_adapt lacked it; its fallback for an unknown charset was 4 as well, so its numbers
    # did not change: 10 chars x 4 + 1 length byte = 41, in words 44.
    adapt = ddl.parse_column("v VARCHAR(10) CHARACTER SET utf16le")
    assert adapt is not None and adapt.row_bytes("utf8mb4") == 44
    assert column_row_bytes(_fit_column("varchar", 10, "utf16le")) == 41


@pytest.mark.parametrize("data_type", ["bool", "boolean"])
def test_bool_is_one_byte_on_both_sides(data_type: str) -> None:
    # ndb_fit lacked them (8 bytes, its guess for an unknown type); information_schema reports
    # BOOL as tinyint, so only a caller building columns by hand could meet the difference.
    assert column_row_bytes(_fit_column(data_type)) == 1
    adapt = ddl.parse_column(f"flag {data_type.upper()} NOT NULL")
    assert adapt is not None and adapt.row_bytes("utf8mb4") == 4  # one word


@pytest.mark.parametrize("data_type", ["geometry", "point", "polygon", "geomcollection"])
def test_geometry_is_a_blob_on_both_sides(data_type: str) -> None:
    # ndb_adapt lacked them (8 bytes, not a blob): NDB stores geometry as a blob, 272 bytes
    # in the row (ndb_adapt.limits [MEASURED]).
    adapt = ddl.parse_column(f"g {data_type.upper()} NOT NULL")
    assert adapt is not None and adapt.is_blob_stored
    assert adapt.row_bytes("utf8mb4") == shared.BLOB_COLUMN_BYTES == 272
    assert column_row_bytes(_fit_column(data_type)) == 272


def test_a_row_with_geometry_is_predicted_alike() -> None:
    # Whole words: 4 (id) + 29,004 (VARCHAR(29000) latin1 + 2) + 272 (GEOMETRY) = 29,280.
    table = ddl.parse_create_table(
        "CREATE TABLE t (id INT NOT NULL, v VARCHAR(29000), g GEOMETRY, PRIMARY KEY (id))"
        " CHARACTER SET latin1")
    assert table is not None
    adapt = sum(c.row_bytes(table.default_charset("utf8mb4")) for c in table.columns)
    fit = sum(_words(column_row_bytes(c)) for c in (
        _fit_column("int"), _fit_column("varchar", 29000, "latin1"), _fit_column("geometry")))
    assert adapt == fit == 29_280
