"""The peer `make bench` measures NDB against behaves as Kolla-Ansible's MariaDB does: HAProxy
sends every client to one member, the clustercheck says whether a member is synced, a
killed active member is replaced by a backup after five failed checks, and it comes back.

Debian's mariadb-server, galera-4, mariadb-backup, socat and haproxy (.ci/run installs them).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.galera.cluster import GaleraCluster, missing_programs
from bench.galera.render import CLUSTERCHECK_PORT
from testbed.pytest_support import unavailable

# HAProxy's `inter 2000 fall 5`: five failed checks two seconds apart, plus slack for a
# loaded machine.
DOWN_WITHIN_S = 10 + 10


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GaleraCluster]:
    lacking = missing_programs()
    if lacking:
        unavailable(f"the Galera peer needs {', '.join(lacking)} (.ci/run installs them)")
    with GaleraCluster(Path(tmp_path_factory.mktemp("galera"))) as cluster:
        cluster.start(timeout=300)
        yield cluster


def member_behind_endpoint(peer: GaleraCluster) -> str:
    conn = peer.connect(peer.endpoint())
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@wsrep_node_name")
            return str(cur.fetchone()[0])
    finally:
        conn.close()


def clustercheck_status(address: str) -> int:
    try:
        with urllib.request.urlopen(f"http://{address}:{CLUSTERCHECK_PORT}/", timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_every_client_goes_to_the_first_member(peer: GaleraCluster) -> None:
    assert {member_behind_endpoint(peer) for _ in range(6)} == {"galera-1"}
    assert [clustercheck_status(m.address) for m in peer.members] == [200, 200, 200]
    assert peer.server_states() == {"galera-1": "UP", "galera-2": "UP", "galera-3": "UP"}


def test_a_killed_active_member_fails_over_to_a_backup_and_rejoins(peer: GaleraCluster
                                                                    ) -> None:
    first = peer.members[0]
    peer.kill(first)
    killed = time.monotonic()
    assert clustercheck_status(first.address) == 503
    while peer.server_states().get("galera-1") != "DOWN":
        assert time.monotonic() - killed < DOWN_WITHIN_S, peer.server_states()
        time.sleep(0.2)
    down_after = time.monotonic() - killed
    assert down_after > 6, "HAProxy marked it down before five failed checks"
    assert member_behind_endpoint(peer) == "galera-2"  # the first backup

    conn = peer.connect(peer.endpoint())
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS peer_test")
        cur.execute("CREATE TABLE peer_test.t (id INT PRIMARY KEY)")
        cur.execute("INSERT INTO peer_test.t VALUES (1), (2), (3)")
    conn.close()

    peer.restart(first)
    rejoined = peer.wait_synced(first, 120)
    while peer.server_states().get("galera-1") != "UP":
        assert time.monotonic() - killed < 180, peer.server_states()
        time.sleep(0.2)
    assert member_behind_endpoint(peer) == "galera-1"
    conn = peer.connect(peer.address(first))
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM peer_test.t")
        assert cur.fetchone()[0] == 3  # the writes it missed came with its state transfer
    conn.close()
    print(f"\n[galera] down in HAProxy after {down_after:.1f} s; synced {rejoined:.1f} s "
          "after its restart")
