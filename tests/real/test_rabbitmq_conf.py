"""The rendered RabbitMQ config directory (plain settings, then the password alone), read by
a real RabbitMQ (Debian's rabbitmq-server), and the
rendered transport_url used by oslo.messaging's own driver stack (kombu, from nova's PyPI
venv) to log in: the user, password and vhost the services are configured with exist.

The server runs in its own PID namespace (RabbitMQ starts epmd and beam as daemons; stopping
the namespace stops them all), with its data, logs and cookie in a temp dir and the rendered
listener moved to a free loopback port. Debian's rabbitmq-server is 3.10, the image 4.1:
the keys we render mean the same in both (rabbitmq.conf reference)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.render.infra import (
    RABBITMQ_CONF_PATH,
    RABBITMQ_PASSWORD_PATH,
    render_rabbitmq_conf,
    render_rabbitmq_password,
)
from components.render.openstack import transport_url
from config.openstack_layout import RABBITMQ_PORT, build_layout
from testbed.pytest_support import require_tool, unavailable
from tests.openstack.services import SERVICES
from tests.ports import free_port, port_open, wait_for_port
from tests.stacks import settings_for


@pytest.fixture
def rabbit_dir() -> Iterator[Path]:
    """A temp dir the rabbitmq user can reach (Debian's wrapper drops to that user; pytest's
    tmp_path sits below a root-only directory)."""
    path = Path(tempfile.mkdtemp(prefix="osndb-rabbitmq-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_rendered_rabbitmq_conf_lets_the_services_log_in(rabbit_dir: Path) -> None:
    tmp_path = rabbit_dir
    server = require_tool("rabbitmq-server")
    python = SERVICES["nova"].venv() / "bin" / "python"
    if not python.is_file():
        unavailable("nova's venv (kombu) is missing; run make openstack-venvs")
    layout = build_layout(settings_for("dev"))
    port, dist_port, epmd_port = free_port(), free_port(), free_port()
    conf = render_rabbitmq_conf(layout)
    assert "rabbit-pw" not in conf  # the plain file holds no password
    local = f"127.0.0.1:{port}"
    conf = conf.replace(f"0.0.0.0:{RABBITMQ_PORT}", local)
    assert local in conf
    # The container's config directory, as RabbitMQ reads it: every file, in name order.
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    (conf_d / Path(RABBITMQ_CONF_PATH).name).write_text(conf)
    (conf_d / Path(RABBITMQ_PASSWORD_PATH).name).write_text(
        render_rabbitmq_password("rabbit-pw/1"))
    for path in (tmp_path, conf_d, *conf_d.iterdir()):
        shutil.chown(path, "rabbitmq", "rabbitmq")
    env = {
        **os.environ, "HOME": str(tmp_path),
        # no main rabbitmq.conf: only the directory, as the image's conf.d
        "RABBITMQ_CONFIG_FILE": str(tmp_path / "absent.conf"),
        "RABBITMQ_CONFIG_FILES": str(conf_d),
        "RABBITMQ_MNESIA_BASE": str(tmp_path / "mnesia"),
        "RABBITMQ_LOG_BASE": str(tmp_path / "log"),
        "RABBITMQ_NODENAME": "osndb-test@localhost", "RABBITMQ_DIST_PORT": str(dist_port),
        "ERL_EPMD_PORT": str(epmd_port), "RABBITMQ_PID_FILE": str(tmp_path / "pid"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(tmp_path / "enabled_plugins"),
    }
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "--mount-proc",
                             server], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", port, timeout=90, what="RabbitMQ",
                      alive=lambda: proc.poll() is None,
                      details=lambda: (tmp_path / "server.log").read_text()[-3000:])
        url = transport_url(layout, "rabbit-pw/1").replace(
            f"{layout.rabbitmq.address}:{RABBITMQ_PORT}", local)
        assert "rabbit-pw%2F1" in url  # quoted in the URL, plain in rabbitmq.conf
        login = ("import kombu, sys\n"
                 "c = kombu.Connection(sys.argv[1].replace('rabbit://', 'amqp://', 1))\n"
                 "c.connect(); print(c.connected); c.release()\n")
        good = subprocess.run([str(python), "-c", login, url], capture_output=True, text=True,
                              timeout=60, check=False)
        assert good.returncode == 0 and good.stdout.strip() == "True", good.stderr[-2000:]
        bad = subprocess.run([str(python), "-c", login, url.replace("rabbit-pw%2F1", "nope")],
                             capture_output=True, text=True, timeout=60, check=False)
        assert bad.returncode != 0 and "ACCESS_REFUSED" in bad.stderr
    finally:
        # unshare ignores SIGTERM while it waits; SIGKILL it and --kill-child kills the
        # namespace's first process, which takes beam and epmd with it.
        proc.kill()
        proc.wait(timeout=60)
        log.close()
    deadline = time.monotonic() + 30
    while port_open("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not port_open("127.0.0.1", port), "RabbitMQ outlived its namespace"
