"""The rendered API HAProxy closes idle client connections, so workers forked after their
parent used one do not write on a connection they share (issue 11, B-only compute failures).

nova-scheduler and nova-conductor call keystone and placement while they start (the
placement client checks it can reach placement) and then fork their workers: each worker
inherits the parent's pooled keep-alive connection. When two workers write requests on it,
each may read the other's response (seen as a PUT /allocations answered with an allocation
candidates body, then `KeyError: 'errors'` in nova-scheduler). With the connection closed by
HAProxy once idle, a worker's client pool finds it dropped and opens its own.

Here: Debian's HAProxy runs the rendered `global` and `defaults` sections and the first
rendered API listen block, its bind and server pointed at this machine; behind it, an HTTP
server that echoes the path. In nova's venv, a parent makes one request through it with a
keystoneauth1 Session and forks two workers that wait past the idle timeout and then make
requests at once (tests/openstack/fork_probe.py).
"""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.render.haproxy import render_api_haproxy_cfg
from config.openstack_layout import build_layout
from testbed.pytest_support import require_tool
from tests.openstack.services import VENVS
from tests.ports import free_port, wait_for_port
from tests.stacks import settings_for

PROBE = Path(__file__).with_name("fork_probe.py")
REQUESTS_PER_WORKER = 50


class _Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the API servers answer

    def do_GET(self) -> None:
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


def idle_timeout_s(cfg: str) -> float:
    """The idle keep-alive timeout of a rendered HAProxy config, in seconds: `timeout
    http-keep-alive`, else `timeout http-request`, else `timeout client` (HAProxy's order).
    Raises AssertionError for none, or for a unit other than ms, s or m."""
    units = {"ms": 0.001, "s": 1, "m": 60}
    for key in ("http-keep-alive", "http-request", "client"):
        match = re.search(rf"^\s*timeout {key} (\S+)\s*$", cfg, re.MULTILINE)
        if match:
            value = re.fullmatch(r"(\d+)(ms|s|m)", match[1])
            assert value, f"timeout {key} {match[1]}: not a value with ms, s or m"
            return int(value[1]) * units[value[2]]
    raise AssertionError("no client timeout in the rendered config")


def proxy_config(rendered: str, bind_port: int, server_port: int) -> str:
    """The rendered global and defaults sections and the first API listen block, bound to
    127.0.0.1:bind_port and sending to 127.0.0.1:server_port."""
    head, _, rest = rendered.partition("\nlisten ")
    block = "listen " + rest.split("\nlisten ")[0]
    block = re.sub(r"^    bind \S+", f"    bind 127.0.0.1:{bind_port}", block, flags=re.M)
    block = re.sub(r"^    server (\S+) \S+", rf"    server \1 127.0.0.1:{server_port}", block,
                   flags=re.M)
    assert block.count("    server ") == 1, block
    return f"{head}\n{block}"


@pytest.fixture()
def proxy(tmp_path: Path) -> Iterator[tuple[str, float]]:
    """(URL through the rendered HAProxy, its idle timeout in seconds)."""
    haproxy = require_tool("haproxy")
    echo = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    rendered = render_api_haproxy_cfg(build_layout(settings_for("dev")))
    port = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(proxy_config(rendered, port, echo.server_address[1]))
    log = (tmp_path / "haproxy.log").open("w")
    proc = subprocess.Popen([haproxy, "-db", "-f", str(cfg)], stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", port, timeout=20, what="haproxy",
                      alive=lambda: proc.poll() is None,
                      details=(tmp_path / "haproxy.log").read_text)
        yield f"http://127.0.0.1:{port}", idle_timeout_s(rendered)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        echo.shutdown()
        log.close()


def test_workers_forked_after_a_request_do_not_share_its_connection(
        proxy: tuple[str, float]) -> None:
    url, idle_s = proxy
    assert idle_s <= 30, f"idle keep-alive connections are kept {idle_s:.0f} s"
    done = subprocess.run([str(VENVS["nova"] / "bin" / "python"), str(PROBE), url,
                           str(idle_s + 1.5), str(REQUESTS_PER_WORKER)],
                          capture_output=True, text=True, timeout=idle_s + 180)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    for result in seen["workers"]:
        assert not result["wrong"], \
            f"{result['name']} read others' responses: {result['wrong'][:5]}"
    ports = {result["port"] for result in seen["workers"]}
    assert seen["parent_port"] not in ports and len(ports) == 2, (
        f"a worker still used the parent's connection (port {seen['parent_port']}): {seen}")
