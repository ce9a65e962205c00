"""The rendered RabbitMQ config directory (plain settings, then the password alone) read by a
real RabbitMQ 4 (sid's, in the NDB test bed's root: tests/real/rabbitmq_server.py), and the
services' rendered messaging options used by oslo.messaging itself against it.

- The rendered transport_url logs in with kombu (oslo.messaging's driver stack, from nova's
  PyPI venv); a wrong password is refused.
- The rendered deprecated-feature denial is read (RabbitMQ's own setting says so) and in
  force: a transient non-exclusive queue is refused.
- With nova-conductor's rendered nova.conf and secret file, oslo.messaging's RPC server
  starts, an RPC call is answered, a fanout cast arrives (a stream queue), and a notification
  reaches a listener; every queue this declared is durable (quorum or stream). With
  oslo.messaging's default options instead, the RPC server cannot even declare its queues.

The stacks pin RabbitMQ 4.1.4 (the image), sid has 4.3: 4.3 denies transient non-exclusive
queues by default, 4.1 only with the rendered line, which both read the same way. Nothing
here can run 4.1 itself (no container engine, no 4.1 package).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.render.infra import (
    DENIED_DEPRECATED_FEATURE,
    RABBITMQ_CONF_PATH,
    RABBITMQ_PASSWORD_PATH,
    render_rabbitmq_conf,
    render_rabbitmq_password,
)
from components.render.openstack import (
    SECRET_CONFIG,
    config_dir,
    lock_path,
    render_service_files,
    transport_url,
)
from components.render.service import render_service
from config import build_topology
from config.openstack_layout import RABBITMQ_PORT, RABBITMQ_VHOST, build_layout
from config.service_secrets import ServiceSecrets
from testbed.pytest_support import unavailable
from tests.openstack.services import SERVICES
from tests.ports import free_port
from tests.real.rabbitmq_server import RabbitMq, rabbitmq_server
from tests.stacks import settings_for

# URL-unreserved characters only, as render_rabbitmq_password requires (and the program
# generates letters and digits): it says why.
PASSWORD = "rabbit-pw.1"
PROBE = Path(__file__).with_name("messaging_probe.py")


def nova_python() -> Path:
    python = SERVICES["nova"].venv() / "bin" / "python"
    if not python.is_file():
        unavailable("nova's venv (oslo.messaging, kombu) is missing; run make openstack-venvs")
    return python


@pytest.fixture(scope="module")
def rabbitmq() -> Iterator[RabbitMq]:
    """RabbitMQ from the dev stack's rendered conf.d, its listener moved to a free port."""
    layout = build_layout(settings_for("dev"))
    conf = render_rabbitmq_conf(layout, layout.rabbitmq[0])
    assert PASSWORD not in conf  # the plain file holds no password
    port = free_port()
    local = conf.replace(f"0.0.0.0:{RABBITMQ_PORT}", f"127.0.0.1:{port}")
    assert local != conf
    files = {Path(RABBITMQ_CONF_PATH).name: local,
             Path(RABBITMQ_PASSWORD_PATH).name: render_rabbitmq_password(PASSWORD)}
    with rabbitmq_server(files, port) as server:
        yield server


def _url(server: RabbitMq) -> str:
    layout = build_layout(settings_for("dev"))
    url = transport_url(layout, PASSWORD)
    return url.replace(f"{layout.rabbitmq[0].address}:{RABBITMQ_PORT}",
                       f"{server.host}:{server.port}")


def _kombu(script: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(nova_python()), "-c", script, url], capture_output=True,
                          text=True, timeout=60, check=False)


def test_rendered_conf_lets_the_services_log_in_and_denies_transient_queues(
    rabbitmq: RabbitMq,
) -> None:
    assert rabbitmq.version.startswith("4."), rabbitmq.version
    url = _url(rabbitmq)
    assert f":{PASSWORD}@" in url
    login = ("import kombu, sys\n"
             "c = kombu.Connection(sys.argv[1].replace('rabbit://', 'amqp://', 1))\n"
             "c.connect(); print(c.connected); c.release()\n")
    good = _kombu(login, url)
    assert good.returncode == 0 and good.stdout.strip() == "True", good.stderr[-2000:]
    bad = _kombu(login, url.replace(PASSWORD, "nope"))
    assert bad.returncode != 0 and "ACCESS_REFUSED" in bad.stderr
    # The rendered key reached RabbitMQ's own setting (on 4.1 it is what denies the feature).
    setting = rabbitmq.ctl("eval", "application:get_env(rabbit, permit_deprecated_features).")
    assert f"{DENIED_DEPRECATED_FEATURE} => false" in setting, setting
    transient = ("import kombu, sys\n"
                 "c = kombu.Connection(sys.argv[1].replace('rabbit://', 'amqp://', 1))\n"
                 "q = kombu.Queue('osndb-transient', durable=False, exclusive=False,"
                 " auto_delete=False)\n"
                 "q(c.channel()).declare()\n")
    refused = _kombu(transient, url)
    assert refused.returncode != 0, refused.stdout
    assert f"Feature `{DENIED_DEPRECATED_FEATURE}` is deprecated" in refused.stderr, \
        refused.stderr[-2000:]


def _nova_conductor_files(server: RabbitMq, tmp_path: Path) -> Path:
    """nova-conductor's rendered nova.conf and secret file under tmp_path as in the
    container (<config dir>/nova.conf.d/secrets.conf), RabbitMQ's address made local."""
    settings = settings_for("dev")
    topology, layout = build_topology(settings), build_layout(settings)
    nova = layout.service("nova")
    conductor = next(c for c in render_service(settings, topology, layout, nova).containers
                     if c.role == "conductor")
    rendered = f"{layout.rabbitmq[0].address}:{RABBITMQ_PORT}"
    local = f"{server.host}:{server.port}"
    home = tmp_path / config_dir(nova.spec).lstrip("/")
    (home / "nova.conf.d").mkdir(parents=True)
    plain = render_service_files(settings, topology, layout, nova.spec,
                                 where=conductor.placed)["nova.conf"]
    # The container's lock_path (/var/lib/nova/tmp) under tmp_path, as the container's own
    # filesystem holds it: the probe runs on this machine, whose /var/lib it must not touch.
    locks = lock_path(nova.spec)
    (home / "nova.conf").write_text(plain.replace(rendered, local).replace(
        f"lock_path = {locks}\n", f"lock_path = {tmp_path / locks.lstrip('/')}\n"))
    secrets = conductor.render_secrets(ServiceSecrets(rabbitmq_password=PASSWORD))
    (home / "nova.conf.d" / SECRET_CONFIG).write_text(secrets[SECRET_CONFIG]
                                                      .replace(rendered, local))
    return home


def _probe(home: Path, *flags: str) -> dict[str, Any]:
    # A session of its own, as a service in its container: oslo.messaging's queue manager
    # reads its process group leader's /proc/<pgid>/stat.
    done = subprocess.run([str(nova_python()), str(PROBE), str(home / "nova.conf"), "nova",
                           *flags], env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=180, check=False,
                          start_new_session=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_rpc_and_notifications_with_the_rendered_messaging_options(
    rabbitmq: RabbitMq, tmp_path: Path
) -> None:
    home = _nova_conductor_files(rabbitmq, tmp_path)
    seen = _probe(home)
    assert seen["options"] == {  # RABBIT_OPTIONS and the container's processname
        "rabbit_quorum_queue": True, "rabbit_transient_quorum_queue": True,
        "rabbit_stream_fanout": True, "rabbit_qos_prefetch_count": 50,
        "use_queue_manager": True, "processname": "nova-conductor"}, seen
    assert seen["rpc_server_started"] and seen["call"] == "echo:hello", seen
    # the queue manager took its lock where the container holds it, not in this machine's /var
    assert list((tmp_path / "var/lib/nova/tmp").glob("oslo_read_shm_*")), seen
    assert seen["fanout"] == ["to everyone"], seen
    assert [(n["publisher_id"], n["event_type"], n["payload"])
            for n in seen["notifications"]] == [
        ("osndb.probe", "osndb.probe.happened", {"n": 1})], seen
    queues = json.loads(rabbitmq.ctl("list_queues", "-p", RABBITMQ_VHOST, "name", "type",
                                     "durable", "exclusive", "--formatter", "json"))
    kinds = {q["name"]: (q["type"], q["durable"], q["exclusive"]) for q in queues}
    assert kinds["osndb_probe"][0] == "quorum"  # the RPC topic
    assert kinds["osndb_probe_fanout"][0] == "stream"  # one stream for every server
    assert kinds["osndb_notifications.info"][0] == "quorum"
    assert any(name.startswith("reply_") and kind[0] == "quorum"
               for name, kind in kinds.items()), kinds
    assert all(durable for _, durable, _ in kinds.values()), kinds
    # The same probe with oslo.messaging's defaults (transient classic queues) gets nowhere.
    control = _probe(home, "--defaults")
    assert control["rpc_server_started"] is False, control
    assert any(DENIED_DEPRECATED_FEATURE in e for e in control["errors"]), control
