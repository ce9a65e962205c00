"""ndb_adapt: make OpenStack services' own migrations and queries live on MySQL NDB Cluster.

oslo.db's ``mysql_enable_ndb`` did this until oslo.db 14.0.0 removed it (2023.2); current
migrations hard-code InnoDB and some of their tables break NDB limits (docs/design.md §4,
docs/ndb-compatibility.md). This package wraps the DB-API the services use (PyMySQL's
``Cursor.execute``) in every process that runs migrations or talks to the database:

- statements are rewritten before they reach the server (``ndb_adapt.rewrite``): engine,
  CASCADE with a TEXT/BLOB child, prefix indexes, oversized rows, savepoints;
- statements NDB rejects for reasons InnoDB does not have are retried adapted
  (``ndb_adapt.recover``): foreign keys dropped and re-added around index, primary key and
  NOT NULL changes, a reconnect after a stale ``#sql`` table.

It is loaded by ``ndb_adapt/site/sitecustomize.py`` when ``OPENSTACK_NDB_ADAPT=1``; without
that variable nothing is patched. Every rewrite prints one ``[ndb_adapt]`` line on stderr.
The package uses the standard library only and runs on Python 3.9+ (Kolla images).
"""

from __future__ import annotations

import functools
import os

ENV_FLAG = "OPENSTACK_NDB_ADAPT"


def mode() -> str:
    """'on' (adapt), 'observe' (only log the NDB codes behind failed DDL), or 'off'."""
    value = os.environ.get(ENV_FLAG, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return "on"
    return "observe" if value == "observe" else "off"


def enabled() -> bool:
    return mode() != "off"


def install() -> bool:
    """Patch PyMySQL if it is importable; return whether the patch is in place."""
    from ndb_adapt.hook import install as _install

    return _install()


# How the program ships it into a service container (Kolla's images are not modified): the
# package is uploaded under CONTAINER_ROOT, and the bootstrap (db sync) container and the
# service containers get CONTAINER_ENV.
CONTAINER_ROOT = "/opt/openstack-ndb"
CONTAINER_ENV = {"PYTHONPATH": f"{CONTAINER_ROOT}/ndb_adapt/site", ENV_FLAG: "1"}


@functools.cache
def files() -> dict[str, str]:
    """Path under CONTAINER_ROOT -> content, for every file the adaptation needs."""
    from pathlib import Path

    package = Path(__file__).resolve().parent
    return {
        str(path.relative_to(package.parent)): path.read_text(encoding="utf-8")
        for path in sorted(package.rglob("*.py"))
        if "__pycache__" not in path.parts
    }
