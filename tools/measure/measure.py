"""Measure services' migrations on a real dev-stack cluster; prints one JSON object per line.

    python -m tools.measure.measure --mode a|b [--unsized] [--keep] [SERVICE ...]

``--mode a``: engine substitution only (rendered my.cnf, services' mysql_sql_mode);
``--mode b``: with ndb_adapt on. The dev stack as rendered sizes NDB's dictionary for all
services (config/ndb_sizing.yaml); ``--unsized`` renders it for no services, i.e. with NDB's
defaults. Each service's databases are dropped after it unless ``--keep``, so every service
meets the same empty dictionary.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from ndb_fit import analyze
from tests.openstack.cluster import admin_endpoint, connect, dev_cluster
from tests.openstack.heads import at_head, current_heads, expected_heads
from tests.openstack.migrations import drop, migrate, prepare
from tests.openstack.services import SERVICES, Target
from tools.measure.census import attributes, dictionary_objects, engines


def measure_one(cluster: Any, name: str, adapt: bool, workdir: Path, keep: bool
                ) -> dict[str, Any]:
    service = SERVICES[name]
    host, port = admin_endpoint(cluster).host, admin_endpoint(cluster).port
    target = Target(host, port, name, f"{name}-pw")
    admin = admin_endpoint(cluster)
    prepare(admin, service, target)
    conn = connect(cluster)
    before = dictionary_objects(conn)
    result = migrate(service, target, workdir, adapt)
    after = dictionary_objects(conn)
    dbs = [target.db(d) for d in service.databases]
    out: dict[str, Any] = {
        "service": name, "version": service.version, "adapted": adapt, "ok": result.ok,
        "seconds": round(result.seconds, 1),
        "failure": result.failure.summary() if result.failure else None,
        "error_code": result.failure.error_code if result.failure else None,
        "ndb_codes": list(result.failure.ndb_codes) if result.failure else [],
        "objects": {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k)},
        "attributes": attributes(conn, dbs),
        "engines": sorted(set(engines(conn, dbs).values())),
        "tables": len(engines(conn, dbs)),
        "adaptations": result.adaptations,
    }
    heads: dict[str, bool | str] = {}
    for db in service.databases:
        try:
            heads[db] = at_head(current_heads(conn, target.db(db)),
                                expected_heads(service, db))
        except Exception as error:  # reported, not raised: this is a survey
            heads[db] = f"{type(error).__name__}: {error}"
    out["at_head"] = heads
    findings = analyze(conn, dbs)
    out["ndb_fit"] = [f"{f.schema}.{f.table} {f.kind}: {f.detail}" for f in findings]
    conn.close()
    if not keep:
        drop(admin, service, target)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("a", "b"), required=True)
    parser.add_argument("--unsized", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("services", nargs="*")
    args = parser.parse_args()
    names = args.services or list(SERVICES)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="osndb-measure-"))
    services: list[str] | None = [] if args.unsized else None
    print(json.dumps({"workdir": str(workdir), "unsized": args.unsized}), flush=True)
    with dev_cluster(workdir / "cluster", services) as cluster:
        conn = connect(cluster)
        print(json.dumps({"baseline_objects": dictionary_objects(conn)}), flush=True)
        conn.close()
        for name in names:
            row = measure_one(cluster, name, args.mode == "b", workdir / "services", args.keep)
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
