"""Measure what OpenStack objects cost in NDB's DataMemory; writes config/ndb_memory.yaml.

    python -m tools.measure.sizing [--n N] [--out config/ndb_memory.yaml]   (make measure-sizing)

Starts the dev control plane on a test-bed NDB cluster with the test-only compute host and
volume back end (tests/openstack/cloud.py, as `make cloud-up`; root, ~7 min), then creates
objects of each kind through the public APIs with openstacksdk (sizing_objects.py, in the
openstack CLI's venv) in three rounds of N (multiplied per kind by MULTIPLIER): a warm-up,
whose objects give every table they touch its first pages (a fragment's first row takes a
hash index page and fixed-size and variable-size pages: a step, not a cost per object; measured
at 10 servers, their first round took 7.6 times the second's bytes), then round 1, then
round 2, so 2N exist above the warm-up. Around each kind it reads ``ndbinfo.memory_per_fragment``.

What is recorded, per data node and per copy of the data (``NoOfReplicas`` copies exist; each
data node holds one copy of its node group's share):
- base: the bytes allocated to every table and index of each service's databases after the
  warm-up, per data node (and, for reference, before any object: "empty");
- per kind: bytes per object, fitted from round 1 alone ((used after - used before) / N), and
  round 2's measured increase with what that fit predicts for it - the check that the fit
  holds at 2N (tests/unit/test_ndb_memory_record.py on the record; with --full,
  tests/openstack/running/test_sizing.py measures again and asserts within 15 %).
"used" bytes are fixed-size rows (count x size) + variable-size parts in use + hash index
pages: allocated pages, less what is free in them, so a fragment's last partly filled page
does not make 10 rows look like 32 KB.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config.catalog import load_catalog  # noqa: E402
from tests.openstack.cloud import Cloud  # noqa: E402
from tests.openstack.services import VENVS  # noqa: E402

OUT = ROOT / "config" / "ndb_memory.yaml"
WORKER = Path(__file__).with_name("sizing_objects.py")
CLOUD_NAME = "sizing"
# Objects per round = N x this: cheap objects many times, so their bytes stand well above
# the noise of the services' own background writes.
MULTIPLIER = {"instance": 1, "failed_instance": 1, "volume": 1, "stack": 1,
              "image": 2, "network": 2, "port": 5, "security_group_rule": 5, "token": 3,
              "token_revocation": 5}
KINDS = tuple(MULTIPLIER)

# Bytes per fragment and node. A table's fq_name is db/def/table; an index's or a BLOB part
# table's parent_fq_name names its table.
MEMORY_SQL = """
SELECT IF(parent_fq_name = '' OR parent_fq_name IS NULL, fq_name, parent_fq_name) AS owner,
       node_id,
       SUM(fixed_elem_alloc_bytes + var_elem_alloc_bytes + hash_index_alloc_bytes),
       SUM(fixed_elem_count * fixed_elem_size_bytes + var_elem_alloc_bytes
           - var_elem_free_bytes + hash_index_alloc_bytes),
       SUM(fixed_elem_count),
       SUM(hash_index_alloc_bytes)
FROM ndbinfo.memory_per_fragment GROUP BY owner, node_id
"""


def read_memory(conn: Any) -> dict[str, dict[str, int]]:
    """database -> {"allocated", "used", "rows", "hash"}: bytes summed over every data node
    (rows: fixed-size elements, i.e. row copies and ordered-index T-tree nodes; hash: the
    hash index pages, also in used)."""
    out: dict[str, dict[str, int]] = {}
    with conn.cursor() as cur:
        cur.execute(MEMORY_SQL)
        for owner, _node, allocated, used, rows, hashed in cur.fetchall():
            database = str(owner).split("/", 1)[0]
            entry = out.setdefault(database, {"allocated": 0, "used": 0, "rows": 0, "hash": 0})
            entry["allocated"] += int(allocated)
            entry["used"] += int(used)
            entry["rows"] += int(rows)
            entry["hash"] += int(hashed)
    return out


def _total(memory: dict[str, dict[str, int]], key: str, databases: set[str]) -> int:
    return sum(v[key] for db, v in memory.items() if db in databases)


def clouds_yaml(openrc: str, folder: Path) -> Path:
    """The openrc's credentials as a clouds.yaml of mode 0600 (openstacksdk reads it; no
    password goes into an argument or the environment)."""
    values = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1)
                  for line in openrc.splitlines() if line.startswith("export "))
    auth = {"auth_url": values["OS_AUTH_URL"], "username": values["OS_USERNAME"],
            "password": values["OS_PASSWORD"], "project_name": values["OS_PROJECT_NAME"],
            "user_domain_name": values["OS_USER_DOMAIN_NAME"],
            "project_domain_name": values["OS_PROJECT_DOMAIN_NAME"]}
    cloud = {"auth": auth, "region_name": values["OS_REGION_NAME"],
             "interface": values["OS_INTERFACE"], "identity_api_version": 3}
    path = folder / "clouds.yaml"
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(yaml.safe_dump({"clouds": {CLOUD_NAME: cloud}}))
    return path


def worker(config: Path) -> Callable[..., dict[str, Any]]:
    python = VENVS["openstackclient"] / "bin" / "python"
    env = {"PATH": os.environ["PATH"], "HOME": str(config.parent), "LANG": "C.UTF-8",
           "OS_CLIENT_CONFIG_FILE": str(config)}

    def run(*args: str) -> dict[str, Any]:
        done = subprocess.run([str(python), str(WORKER), CLOUD_NAME, *args], env=env,
                              cwd=config.parent, capture_output=True, text=True, timeout=3600,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"sizing_objects {' '.join(args)}: {done.stderr[-3000:]}")
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    return run


def _delta(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]],
           databases: set[str], replicas: int) -> dict[str, Any]:
    """What one step added, one copy of the data (all data nodes hold NoOfReplicas copies)."""
    def diff(key: str, db: str) -> int:
        return after.get(db, {}).get(key, 0) - before.get(db, {}).get(key, 0)

    return {
        "used_bytes": sum(diff("used", db) for db in databases) // replicas,
        "hash_bytes": sum(diff("hash", db) for db in databases) // replicas,
        "rows": sum(diff("rows", db) for db in databases) // replicas,
        "by_database": {db: diff("used", db) // replicas for db in sorted(databases)
                        if diff("used", db)},
    }


def measure(cloud: Cloud, n: int, folder: Path, progress: Callable[[str], None] = print,
            *, cleanup: bool = False) -> dict[str, Any]:
    """Create objects of each kind on a started cloud (stand-ins up) in three rounds of N
    (x MULTIPLIER) - a warm-up, then N and 2N above it - reading memory_per_fragment around
    each kind; the record config/ndb_memory.yaml holds (see the module docstring).
    `cleanup`: delete them after, for a cloud other tests share (their rows stay,
    soft-deleted, where the service keeps them)."""
    from tests.openstack.cluster import connect

    conn = connect(cloud.cluster)
    replicas = cloud.settings.data_nodes.no_of_replicas
    data_nodes = cloud.settings.data_nodes.count
    catalog = load_catalog()
    catalog_dbs = {name: catalog.services[name].databases for name in cloud.layout.enabled}
    databases = {db for dbs in catalog_dbs.values() for db in dbs}
    empty = read_memory(conn)
    run = worker(clouds_yaml(cloud.openrc(), folder))
    progress(f"[sizing] setup: {run('setup')}")
    rounds: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    failed: dict[str, str] = {}
    warm: dict[str, dict[str, int]] = {}
    for round_no in (0, 1, 2):
        if round_no == 1:
            warm = read_memory(conn)  # the base: every touched table has its first pages
        for kind in KINDS:
            count = n * MULTIPLIER[kind]
            if kind in failed:
                continue
            before = read_memory(conn)
            try:
                done = run("create", kind, str(count), str(round_no * count))
            except RuntimeError as error:  # recorded as missing, never as a figure
                failed[kind] = str(error)[-2000:]
                progress(f"[sizing] round {round_no} {kind} FAILED: {failed[kind]}")
                continue
            step = {"count": count, "seconds": done["seconds"],
                    **_delta(before, read_memory(conn), databases, replicas)}
            rounds[kind].append(step)
            progress(f"[sizing] round {round_no} {kind}: {json.dumps(step)}")
    final = read_memory(conn)
    if cleanup:
        progress(f"[sizing] cleanup: {run('cleanup')}")
    version = _version(conn)
    conn.close()
    objects = {}
    for kind, (first_rows, fit, check) in ((k, rounds[k]) for k in KINDS if k not in failed):
        per_object = fit["used_bytes"] / fit["count"]
        objects[kind] = {
            "bytes": round(per_object),
            "hash_bytes": round(fit["hash_bytes"] / fit["count"]),
            "rows": round(fit["rows"] / fit["count"], 1),
            "by_database": {db: round(b / fit["count"]) for db, b in
                            fit["by_database"].items()},
            "seconds_per_object": round(fit["seconds"] / fit["count"], 2),
            "warm_up": {"count": first_rows["count"], "bytes": first_rows["used_bytes"]},
            "round2": {"count": check["count"], "measured_bytes": check["used_bytes"],
                       "predicted_bytes": round(per_object * check["count"])},
        }

    def per_node(memory: dict[str, dict[str, int]]) -> dict[str, int]:
        return {name: sum(memory.get(db, {}).get("allocated", 0) for db in dbs) // data_nodes
                for name, dbs in sorted(catalog_dbs.items()) if dbs}

    return {
        "measured": datetime.date.today().isoformat(),
        "ndb_version": version,
        "method": ("tools/measure/sizing.py (make measure-sizing): the dev stack's control "
                   "plane on the test bed (tests/openstack/cloud.py) with nova's fake driver, "
                   "neutron's Open vSwitch agent and cinder's fake driver as compute host and "
                   "volume back end; objects created through the public APIs (openstacksdk) in "
                   "three rounds: a warm-up (its cost is in the base), then N to fit bytes per "
                   "object, then N more to check the fit at 2N; ndbinfo.memory_per_fragment "
                   "read around each kind"),
        "n": n,
        "data_nodes": data_nodes,
        "no_of_replicas": replicas,
        "fragments_per_table_and_node": _fragments_per_node(cloud),
        "base_bytes_per_data_node": per_node(warm),
        "empty_bytes_per_data_node": per_node(empty),
        "objects": objects,
        "not_measured": failed,
        "total_used_bytes_per_copy": {
            "start": _total(empty, "used", databases) // replicas,
            "base": _total(warm, "used", databases) // replicas,
            "end": _total(final, "used", databases) // replicas},
    }


def _version(conn: Any) -> str:
    with conn.cursor() as cur:
        cur.execute("SELECT @@ndb_version_string")
        return str(cur.fetchone()[0])


def _fragments_per_node(cloud: Cloud) -> float:
    from tests.openstack.cluster import connect

    conn = connect(cloud.cluster)
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) / COUNT(DISTINCT table_id) / COUNT(DISTINCT node_id) "
                    "FROM ndbinfo.memory_per_fragment WHERE fq_name LIKE 'keystone/def/%'")
        value = float(cur.fetchone()[0])
    conn.close()
    return value


def write_record(record: dict[str, Any], out: Path) -> None:
    head = ("# DataMemory an OpenStack cloud needs, measured on a real NDB cluster (issue 15):\n"
            "# written by `make measure-sizing` (tools/measure/sizing.py; its docstring says\n"
            "# what each figure is); config/memory_sizing.py and `make sizing` read it.\n"
            "# Bytes are per copy of the data (NDB keeps NoOfReplicas copies) unless named\n"
            "# per data node.\n")
    out.write_text(head + yaml.safe_dump(record, sort_keys=False, width=100))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.measure.sizing")
    parser.add_argument("--n", type=int, default=10, help="objects per kind and round (x "
                        "the kind's multiplier)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="osndb-sizing-"))
    with Cloud(workdir / "cloud") as cloud:
        cloud.start()
        cloud.start_stand_ins()
        record = measure(cloud, args.n, workdir)
    write_record(record, args.out)
    print(f"[sizing] wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
