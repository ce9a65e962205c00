"""A frontend's HAProxy and keepalived in a host of testbed/hosts.py, from the rendered files:
keepalived.conf, the VRRP password file and the check script as the keepalived container gets
them (paths moved into a work directory), the HAProxy configuration as rendered."""

from __future__ import annotations

import time
from pathlib import Path

from components.render.keepalived import (
    CHECK_SCRIPT,
    CHECK_SCRIPT_PATH,
    VRRP_PASSWORD_PATH,
    render_keepalived_conf,
    render_vrrp_password,
)
from components.render.shell import script_file
from config.addressing import MONITOR_ADDRESS
from config.virtual_addresses import VirtualAddress
from testbed.hosts import NamespaceHost

# keepalived's enable_script_security refuses a script in a directory others may write (as
# anything under /tmp): the work directories live in root's own cache.
WORK_ROOT = Path("/root/.cache/openstack-ndb/frontends")
TEST_VRRP_PASSWORD = "Vrrp1234"


def start_frontend(host: NamespaceHost, vip: VirtualAddress, haproxy_cfg: str, *,
                   haproxy: str, keepalived: str, work: Path,
                   ready_timeout: float = 10) -> None:
    """HAProxy with `haproxy_cfg`, then, once its monitor answers (as a deployment's
    keepalived container waits for the HAProxy container), keepalived for `vip`.

    Raises AssertionError when the monitor does not answer within `ready_timeout` s: a first
    failed check would keep the member out for `rise 10` x 2 s."""
    work.mkdir(mode=0o700, parents=True, exist_ok=True)
    work.chmod(0o700)
    (work / "haproxy.cfg").write_text(haproxy_cfg)
    (work / CHECK_SCRIPT).write_text(script_file(CHECK_SCRIPT))
    (work / CHECK_SCRIPT).chmod(0o700)
    (work / "vrrp-password.conf").write_text(render_vrrp_password(vip, TEST_VRRP_PASSWORD))
    (work / "vrrp-password.conf").chmod(0o600)
    conf = (render_keepalived_conf(vip, host.name)
            .replace(CHECK_SCRIPT_PATH, str(work / CHECK_SCRIPT))
            .replace(VRRP_PASSWORD_PATH, str(work / "vrrp-password.conf")))
    (work / "keepalived.conf").write_text(conf)
    host.start([haproxy, "-W", "-db", "-f", str(work / "haproxy.cfg")], work / "haproxy.log")
    deadline = time.monotonic() + ready_timeout
    check = ["bash", str(work / CHECK_SCRIPT), MONITOR_ADDRESS, str(vip.monitor_port)]
    while host.run(check).returncode != 0:
        assert time.monotonic() < deadline, f"HAProxy's monitor in {host.name} never answered"
        time.sleep(0.1)
    host.start([keepalived, "-n", "-l", "-f", str(work / "keepalived.conf"),
                "-p", str(work / "keepalived.pid"), "-r", str(work / "vrrp.pid"),
                "-c", str(work / "checkers.pid")], work / "keepalived.log")


def wait_for_holder(hosts: dict[str, NamespaceHost], address: str, timeout: float,
                    other_than: str | None = None) -> tuple[str, float]:
    """The one host that holds `address` (not `other_than`), and the monotonic time it was
    seen. Raises AssertionError if two hold it at once, or none within `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holders = [h.name for h in hosts.values() if address in h.addresses()]
        assert len(holders) <= 1, f"split brain: {holders} hold {address}"
        if holders and holders[0] != other_than:
            return holders[0], time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"no host took {address} within {timeout} s")
