"""python -m ndb_fit: report the tables of live schemas that do not fit NDB Cluster.

Exit status: 0 every table fits, 1 findings were printed, 2 usage or connection error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pymysql

from ndb_fit.analyzer import SchemaNotFoundError, analyze, format_table, summarize
from ndb_fit.limits import DEFAULT_TARGET_ENGINE

EXIT_FITS = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
PASSWORD_ENV = "NDB_FIT_PASSWORD"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ndb_fit",
        description=(
            "Read the schemas through information_schema and report every table that breaks "
            "an NDB Cluster limit, as measured on a real cluster: row bytes > 30000 (each "
            "column in whole 4-byte words; VARCHAR at max chars x bytes per char, TEXT/BLOB "
            "272, JSON 4016), more than 512 columns, index keys > 3072 bytes, prefix indexes "
            "(NDB widens them), UNIQUE or PRIMARY keys with a prefix, FULLTEXT and SPATIAL "
            "indexes, indexes on TEXT/BLOB, ON DELETE CASCADE foreign keys whose child has "
            "TEXT/BLOB/JSON/geometry columns, ON UPDATE CASCADE to a parent's primary key, "
            "and tables on another engine than --engine."
        ),
        epilog=(
            f"The password comes from --password-file or the {PASSWORD_ENV} environment "
            "variable (never the command line). Exit status: 0 every table fits, 1 findings, "
            "2 usage, connection or unknown-schema error."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="server address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=3306, help="server port (default 3306)")
    p.add_argument("--user", default="root", help="user that can read the schemas")
    p.add_argument("--password-file", type=Path,
                   help=f"file holding the password (else ${PASSWORD_ENV}, else none)")
    p.add_argument("--schema", action="append", required=True, metavar="NAME",
                   help="schema to analyse; repeat for more")
    p.add_argument("--engine", default=DEFAULT_TARGET_ENGINE,
                   help=f"engine every table must use (default {DEFAULT_TARGET_ENGINE})")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.add_argument("--connect-timeout", type=float, default=10.0,
                   help="seconds to wait for the server (default 10)")
    return p


def _password(path: Path | None) -> str:
    if path is not None:
        return path.read_text().rstrip("\r\n")
    return os.environ.get(PASSWORD_ENV, "")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        password = _password(args.password_file)
    except OSError as err:
        print(f"ndb_fit: cannot read --password-file: {err}", file=sys.stderr)
        return EXIT_ERROR
    try:
        conn = pymysql.connect(host=args.host, port=args.port, user=args.user,
                               password=password, connect_timeout=args.connect_timeout,
                               charset="utf8mb4")
    except pymysql.err.MySQLError as err:
        print(f"ndb_fit: cannot connect to {args.host}:{args.port} as user '{args.user}': "
              f"{err}", file=sys.stderr)
        return EXIT_ERROR
    try:
        findings = analyze(conn, args.schema, args.engine)
    except SchemaNotFoundError as err:
        print(f"ndb_fit: {err}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        conn.close()
    if args.json:
        print(json.dumps([f.as_dict() for f in findings], indent=2))
    elif findings:
        print(format_table(findings))
        tables = len({(f.schema, f.table) for f in findings})
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(summarize(findings).items()))
        print(f"\n{len(findings)} finding(s) in {tables} table(s) for engine {args.engine}: "
              f"{kinds}")
    else:
        print(f"every table of {', '.join(args.schema)} fits {args.engine}")
    return EXIT_FINDINGS if findings else EXIT_FITS


if __name__ == "__main__":
    sys.exit(main())
