"""Head revisions: what each service's own migration scripts declare, and what a database has.

The expected heads are read from the installed migration scripts (``revision`` and
``down_revision`` of every file; a head is a revision nobody names as its down revision), so
the check follows the pinned release without importing the service. Neutron records its
branch heads in files (``EXPAND_HEAD``, ``CONTRACT_HEAD``), which are read instead.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from tests.openstack.services import Service

# database -> migration scripts folder, relative to the venv's site-packages.
SCRIPT_DIRS: dict[str, str] = {
    "keystone": "keystone/common/sql/migrations/versions",
    "glance": "glance/db/sqlalchemy/alembic_migrations/versions",
    "placement": "placement/db/sqlalchemy/alembic/versions",
    "nova_api": "nova/db/api/migrations/versions",
    "nova_cell0": "nova/db/main/migrations/versions",
    "nova": "nova/db/main/migrations/versions",
    "neutron": "neutron/db/migration/alembic_migrations/versions",
    "heat": "heat/db/migrations/versions",
    "cinder": "cinder/db/migrations/versions",
}
_ASSIGN = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+)$", re.M)


def site_packages(service: Service) -> Path:
    found = sorted((service.venv() / "lib").glob("python3*/site-packages"))
    if not found:
        raise FileNotFoundError(f"{service.venv()} has no site-packages")
    return found[0]


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def expected_heads(service: Service, database: str) -> set[str]:
    folder = site_packages(service) / SCRIPT_DIRS[database]
    branch_files = [folder / "EXPAND_HEAD", folder / "CONTRACT_HEAD"]
    if all(f.is_file() for f in branch_files):
        return {f.read_text().strip() for f in branch_files}
    revisions: set[str] = set()
    downs: set[str] = set()
    for script in folder.rglob("*.py"):
        values = {key: expr for key, expr in _ASSIGN.findall(script.read_text())}
        if "revision" not in values:
            continue
        revisions.add(str(ast.literal_eval(values["revision"].strip())))
        downs.update(_names(ast.literal_eval(values.get("down_revision", "None").strip())))
    heads = revisions - downs
    if not heads:
        raise ValueError(f"no head found in {folder}")
    return heads


def current_heads(connection: Any, database: str) -> set[str]:
    with connection.cursor() as cur:
        cur.execute(f"SELECT version_num FROM `{database}`.alembic_version")
        return {str(row[0]) for row in cur.fetchall()}


def at_head(current: set[str], expected: set[str]) -> bool:
    """Every recorded revision is a head, and the heads a finished sync must record are there.

    Glance's db_sync runs expand then contract and records only the contract head at the end
    (its expand branch is complete when the contract head is reached), so when the heads are
    named expand/contract, the contract heads are the ones required; otherwise all of them.
    """
    required = {h for h in expected if "contract" in h} or expected
    return bool(current) and current <= expected and required <= current
