"""One line per adaptation, on stderr (and a file named by OPENSTACK_NDB_ADAPT_LOG).

stderr, not the logging module: the services configure logging themselves (oslo.log), and
a rewrite must be visible whatever their configuration."""

from __future__ import annotations

import os
import sys

LOG_FILE_ENV = "OPENSTACK_NDB_ADAPT_LOG"


def note(rule: str, table: str, why: str) -> None:
    line = f"[ndb_adapt] rule={rule} table={table or '-'} why={why}\n"
    sys.stderr.write(line)
    path = os.environ.get(LOG_FILE_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(line)
