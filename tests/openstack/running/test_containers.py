"""Every long-running container of the dev stack runs from its rendered files, and its
rendered health check passes (issue 10, item 2) - on the real NDB test bed, with a real
RabbitMQ and memcached from their rendered config and the rendered API HAProxy in front.

tests/openstack/cloud.py runs each container as a process: Kolla's own set_configs.py places
its rendered files in a private overlay of `/`, its command or uWSGI ini runs from the
service's PyPI venv in its own PID namespace, and its health check is the rendered Kolla
script, run inside it. The bootstrap containers (migrations) run first and must exit 0.

A container that fails because of a known catalog fault is an expected failure, keyed by the
command the catalog renders for it: once the catalog renders another command the expectation
no longer applies and the container must pass; if it passes with the faulty command, the test
fails so that the expectation is removed.

The cloud is this folder's (conftest.py): the user's first hour and Horizon run on it too.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from config.openstack_layout import build_layout
from tests.openstack.cloud import Cloud
from tests.openstack.cluster import dev_settings

# (container, the command the catalog renders for it) -> why it fails today.
EXPECTED_FAILURES: dict[tuple[str, str], str] = {}
# Containers the harness cannot run yet, and why.
NOT_RUN: dict[str, str] = {}

_LAYOUT = build_layout(dev_settings())
CONTAINERS = [c.name for s in _LAYOUT.services for c in s.containers]
BOOTSTRAPS = [s.bootstrap.name for s in _LAYOUT.services if s.bootstrap is not None]
INFRASTRUCTURE = ["rabbitmq", "memcached", "api-haproxy"]


@pytest.mark.parametrize("name", BOOTSTRAPS)
def test_bootstrap_container_exits_0(cloud: Cloud, name: str) -> None:
    result = cloud.bootstraps.get(name)
    assert result is not None, f"{name} did not run"
    assert result.started and result.healthy, f"{name}: {result.detail[-4000:]}"


@pytest.mark.parametrize("name", INFRASTRUCTURE)
def test_infrastructure_runs_and_is_healthy(cloud: Cloud, name: str) -> None:
    result = cloud.results[name]
    assert result.started and result.healthy, f"{name}: {result.detail[-3000:]}"


@pytest.mark.parametrize("name", CONTAINERS)
def test_container_starts_and_its_health_check_passes(cloud: Cloud, name: str) -> None:
    result = cloud.results[name]
    if name in NOT_RUN:
        assert not result.started and result.detail.startswith("not run"), result.detail
        pytest.xfail(NOT_RUN[name])
    expected = EXPECTED_FAILURES.get((name, result.command))
    if expected is not None:
        assert not result.healthy, (
            f"{name} is healthy with `{result.command}`: remove it from EXPECTED_FAILURES")
        pytest.xfail(f"{expected}; seen: {result.detail.strip().splitlines()[-1:]}")
    assert result.started, f"{name} ({result.command}) did not stay up:\n{result.detail[-4000:]}"
    assert result.healthy, f"{name}: health check failed:\n{result.detail[-3000:]}"
    assert result.seconds_to_healthy is not None and result.pss_mb is not None


@pytest.mark.parametrize("name", CONTAINERS)
def test_container_has_what_docker_gives_a_container(cloud: Cloud, name: str) -> None:
    """The harness's container is what runc makes of it: its first process leads its own
    session inside its PID namespace (getpgrp() there is 1, not the 0 of a group led from
    outside, which breaks oslo.messaging's queue manager), and it has its own IPC namespace
    (so its own /dev/shm) and, on the dev stack's bridge network, its own host name."""
    container = cloud.containers.get(name)
    assert container is not None and container.init_pid is not None, f"{name} is not running"
    status = dict(line.split(":", 1) for line in
                  Path(f"/proc/{container.init_pid}/status").read_text().splitlines())
    # NSsid, NSpgid: the ids as each PID namespace sees them, the container's last
    assert status["NSsid"].split()[-1] == status["NSpgid"].split()[-1] == "1", status
    for kind in ("pid", "ipc", "uts"):
        assert os.readlink(f"/proc/{container.init_pid}/ns/{kind}") != \
            os.readlink(f"/proc/self/ns/{kind}"), kind
    hostname = subprocess.run(["nsenter", f"--target={container.init_pid}", "--uts",
                               "hostname"], capture_output=True, text=True, check=True)
    placed = next(c for s in cloud.layout.services for c in s.containers if c.name == name)
    assert hostname.stdout.strip() == placed.container_name


@pytest.mark.parametrize("name", CONTAINERS)
def test_no_two_processes_share_a_connection(cloud: Cloud, name: str) -> None:
    """No open TCP connection of a container is held by two of its processes. Services that
    fork workers (nova-scheduler, nova-conductor) call keystone and placement first, and
    each worker inherits those keep-alive connections: two workers writing on one read each
    other's responses (the B-only compute failures of issue 11). The rendered API HAProxy
    closes them once idle (10 s), and each worker's pool then opens its own.
    SQL connections are left out: oslo.db's process guard never lets a child use a
    connection its parent pooled (it takes a new one, and leaves the inherited one be)."""
    container = cloud.containers.get(name)
    assert container is not None and container.init_pid is not None, f"{name} is not running"
    shared = {inode: held for inode, held in shared_connections(container.init_pid).items()
              if held[0][1] != cloud.layout.sql_endpoint.port}
    assert not shared, f"{name}: connections held by more than one process " \
        f"(inode: (local, remote), pids): {shared}"


def shared_connections(init_pid: int) -> dict[str, tuple[tuple[str, int], list[int]]]:
    """The established TCP connections of the PID namespace whose PID 1 is init_pid (as this
    machine numbers it) that more than one of its processes holds a descriptor of:
    socket inode -> ((remote IPv4 address, remote port), [pids]); from /proc."""
    namespace = os.readlink(f"/proc/{init_pid}/ns/pid")
    holders: dict[str, set[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.readlink(proc / "ns" / "pid") != namespace:
                continue
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    holders.setdefault(target[8:-1], set()).add(int(proc.name))
        except OSError:  # a process that ended meanwhile
            continue
    established = {}
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{init_pid}/net/{table}")
        for line in path.read_text().splitlines()[1:] if path.exists() else []:
            fields = line.split()
            if fields[3] == "01":  # ESTABLISHED
                address, port = fields[2].split(":")
                remote = ".".join(str(b) for b in reversed(bytes.fromhex(address[-8:])))
                established[fields[9]] = (remote, int(port, 16))
    return {inode: (established[inode], sorted(pids)) for inode, pids in holders.items()
            if len(pids) > 1 and inode in established}


def test_api_haproxy_serves_each_api_at_its_published_address(cloud: Cloud) -> None:
    """Through the rendered API HAProxy, at the URL users get (the published address): an
    API whose containers are healthy answers (2xx-4xx: version document or "token please");
    one with none healthy is out of rotation (503 from HAProxy), as the rendered check says."""
    expected = {}
    for service in cloud.layout.services:
        for api in service.spec.apis:
            url = cloud.localise(cloud.layout.public_url(service.name, api)) + "/"
            expected[url] = any(cloud.results[c.name].healthy for c in service.serving(api))
    assert expected, "no API in the layout"
    # HAProxy's rendered check (inter 2s, rise 2, fall 3) puts a backend that came up late
    # back into rotation within a few checks: wait for that, no longer.
    deadline = time.monotonic() + 60
    while True:
        seen = {url: _status(url) for url in expected}
        wrong = {url: status for url, status in seen.items()
                 if (200 <= status < 500) != expected[url] or (
                     not expected[url] and status != 503)}
        if not wrong or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert not wrong, f"status through the API HAProxy (healthy backend?): {wrong}, {expected}"


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:  # refused, reset: nothing answered (0 is never an expected status)
        return 0
