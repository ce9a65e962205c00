"""The shipped exporters and Prometheus (Debian's builds of the images' versions) run from
the rendered files against a test bed cluster: tests/testbed/test_monitoring.py and any test
that needs the real metrics or alerts of a cluster it drives.

The only changes to what a deployment runs: every address and port is the test bed's (the
rendering functions are given the test bed's endpoints)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.render.monitoring import (
    MYSQLD_EXPORTER_FLAGS,
    RULES_PATH,
    render_alert_rules,
    render_exporter_account_sql,
    render_monitoring,
    render_mysqld_exporter_cnf,
    render_ndbinfo_exporter_config,
    render_prometheus_config,
)
from config.addressing import Endpoint
from config.openstack_layout import build_layout
from config.topology import build_topology
from testbed.pytest_support import require_tool
from tests.testbed.conftest import RenderedCluster

EXPORTER_PASSWORD = "exporterPassw0rd"
# The test bed's cluster takes <prefix>.1..n (testbed/cluster.py, NDB_TESTBED_ADDRESS_PREFIX).
LISTEN_ADDRESS = os.environ.get("NDB_TESTBED_ADDRESS_PREFIX", "127.0.1") + ".200"
INTERVAL_S = 1
@dataclass
class Monitoring:
    bed: RenderedCluster
    workdir: Path
    prometheus: Endpoint
    procs: list[subprocess.Popen[bytes]]

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = (f"http://{self.prometheus}/api/v1/query?"
               + urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=10) as answer:
            body = json.load(answer)
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def firing(self) -> set[str]:
        with urllib.request.urlopen(f"http://{self.prometheus}/api/v1/alerts",
                                    timeout=10) as answer:
            alerts = json.load(answer)["data"]["alerts"]
        return {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}

    def wait(self, what: str, probe: Any, timeout: float) -> float:
        """Seconds until probe() is true; fails after `timeout` naming `what`."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if probe():
                return time.monotonic() - start
            time.sleep(0.2)
        raise AssertionError(f"{what}: not within {timeout:.0f} s; logs in {self.workdir}")


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(["setpriv", "--pdeathsig", "KILL", "--", *argv],
                                stdout=out, stderr=subprocess.STDOUT)


@contextmanager
def monitor(bed: RenderedCluster, workdir: Path) -> Iterator[Monitoring]:
    """The exporters and Prometheus of `bed.settings` (monitoring on) against `bed`, from
    the rendered files with the test bed's addresses; stopped on leaving."""
    paths = {name: require_tool(name) for name in (
        "prometheus", "prometheus-mysqld-exporter", "prometheus-sql-exporter", "promtool")}
    settings = bed.settings
    cluster = bed.cluster
    topology = build_topology(settings)
    artifacts = render_monitoring(settings, topology, build_layout(settings))
    assert artifacts is not None
    procs: list[subprocess.Popen[bytes]] = []
    try:
        exporters = []
        for i, node in enumerate(topology.sql):
            cluster.sql(node.node_id, render_exporter_account_sql(EXPORTER_PASSWORD))
            cnf = workdir / f"mysqld-exporter-{i + 1}.cnf"
            cnf.write_text(render_mysqld_exporter_cnf(
                Endpoint(*cluster.sql_address(node.node_id)), EXPORTER_PASSWORD))
            cnf.chmod(0o400)
            listen = Endpoint(LISTEN_ADDRESS, 9104 + i)
            procs.append(_spawn([paths["prometheus-mysqld-exporter"],
                                 f"--config.my-cnf={cnf}",
                                 f"--web.listen-address={listen}",
                                 *MYSQLD_EXPORTER_FLAGS],
                                workdir / f"mysqld-exporter-{i + 1}.log"))
            exporters.append((node, listen))
        ndbinfo_config = workdir / "ndbinfo-exporter.yml"
        ndbinfo_config.write_text(render_ndbinfo_exporter_config(
            settings, Endpoint(*cluster.endpoint()), EXPORTER_PASSWORD))
        ndbinfo_config.chmod(0o400)
        ndbinfo = Endpoint(LISTEN_ADDRESS, 9237)
        procs.append(_spawn([paths["prometheus-sql-exporter"],
                             f"-config.file={ndbinfo_config}",
                             f"-web.listen-address={ndbinfo}"],
                            workdir / "ndbinfo-exporter.log"))
        prometheus = Endpoint(LISTEN_ADDRESS, 9090)
        places = dataclasses.replace(
            artifacts.places, prometheus=prometheus, ndbinfo_exporter=ndbinfo,
            mysqld_exporters=tuple(exporters),
            sql_haproxies=(Endpoint(cluster.endpoint()[0], 8405),), api_haproxies=())
        rules = workdir / "ndb-alerts.yml"
        rules.write_text(render_alert_rules(settings))
        config = workdir / "prometheus.yml"
        config.write_text(render_prometheus_config(settings, places).replace(
            RULES_PATH, str(rules)))
        check = subprocess.run([paths["promtool"], "check", "config", str(config)],
                               capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        procs.append(_spawn([paths["prometheus"], f"--config.file={config}",
                             f"--storage.tsdb.path={workdir / 'tsdb'}",
                             f"--web.listen-address={prometheus}"],
                            workdir / "prometheus.log"))
        yield Monitoring(bed, workdir, prometheus, procs)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
