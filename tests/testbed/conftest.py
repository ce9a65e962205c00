"""A real NDB Cluster started from exactly what the program renders for a stack."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.render.artifacts import ClusterArtifacts
from components.render.shell import Script
from config.settings import Settings
from testbed.cluster import TestCluster
from testbed.pytest_support import check_sql_nodes_series, require_testbed
from testbed.rendered import cluster_files
from tests.stacks import settings_for


@dataclass
class RenderedCluster:
    settings: Settings
    artifacts: ClusterArtifacts
    cluster: TestCluster
    ndb_mgm_wrapper: Path  # what NDB_MGM names in a deployment: `docker exec <mgmd> ndb_mgm`

    def run_script(self, script: Script, timeout: float = 300
                   ) -> subprocess.CompletedProcess[str]:
        """Run a rendered gate or restart script against this cluster, as `pulumi up` would:
        its text by `bash -c`, its environment with this cluster's addresses and ports."""
        env = {**os.environ, **{k: self.cluster.localise(v) for k, v in script.environment.items()},
               "NDB_MGM": str(self.ndb_mgm_wrapper)}
        return subprocess.run(["bash", "-c", script.text], env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)

    def connect(self, address: tuple[str, int], **kwargs: Any) -> Any:
        import pymysql

        host, port = address
        return pymysql.connect(host=host, port=port, user="root", password="",
                               autocommit=True, **kwargs)


def start_rendered(settings: Settings, workdir: Path) -> Iterator[RenderedCluster]:
    testbed = require_testbed()
    files, artifacts = cluster_files(settings)
    with TestCluster(files, workdir, testbed=testbed) as cluster:
        cluster.start(timeout=900)
        check_sql_nodes_series(cluster)
        wrapper = workdir / "ndb_mgm"
        wrapper.write_text(f'#!/bin/sh\nexec {shlex.join(cluster.tool("ndb_mgm"))} "$@"\n')
        wrapper.chmod(0o755)
        yield RenderedCluster(settings, artifacts, cluster, wrapper)


@pytest.fixture(scope="module")
def dev_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RenderedCluster]:
    yield from start_rendered(settings_for("dev"), tmp_path_factory.mktemp("dev-cluster"))


@pytest.fixture(scope="module")
def prod_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RenderedCluster]:
    yield from start_rendered(settings_for("prod"), tmp_path_factory.mktemp("prod-cluster"))
