"""What is wrong with each service's schema as shipped: its own migrations on a plain Oracle
MySQL 9.7 (InnoDB, no adaptation), then ndb_fit. Prints one JSON object per service.

    python -m tools.measure.shipped [SERVICE ...]

The numbers in docs/ndb-compatibility.md ("As shipped") come from this.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

from components.database import AdminEndpoint
from ndb_fit import Kind, analyze
from tests.openstack.migrations import MigrationResult, migrate, prepare
from tests.openstack.services import SERVICES, Target
from tests.real.mysql_server import MysqlServer, mysql_server
from tools.measure.census import engines


def migrate_as_shipped(server: MysqlServer, name: str, workdir: Path
                       ) -> tuple[MigrationResult, list[str]]:
    """The service's own migrations, unadapted, on a plain MySQL server (InnoDB): the result
    and the service's schemas there."""
    service = SERVICES[name]
    target = Target(server.host, server.port, name, f"{name}-pw")
    admin = AdminEndpoint(server.host, server.port, server.user, server.password)
    prepare(admin, service, target)
    result = migrate(service, target, workdir, adapt=False)
    return result, [target.db(d) for d in service.databases]


def main() -> int:
    names = sys.argv[1:] or list(SERVICES)
    workdir = Path(tempfile.mkdtemp(prefix="osndb-shipped-"))
    with mysql_server() as server:
        for name in names:
            service = SERVICES[name]
            result, dbs = migrate_as_shipped(server, name, workdir)
            conn = server.connect()
            findings = analyze(conn, dbs)
            tables = engines(conn, dbs)
            conn.close()
            print(json.dumps({
                "service": name, "version": service.version, "ok": result.ok,
                "failure": result.failure.summary() if result.failure else None,
                "seconds": round(result.seconds, 1),
                "tables": len(tables),
                "engines": dict(Counter(tables.values())),
                "kinds": dict(Counter(f.kind for f in findings)),
                "findings": [f"{f.schema}.{f.table} {f.kind}: {f.detail}" for f in findings
                             if f.kind != Kind.ENGINE],
            }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
