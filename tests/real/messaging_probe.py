"""oslo.messaging against a RabbitMQ, configured by a service's rendered files; run in a
service venv (nova's: oslo.messaging, kombu). Prints one JSON object.

    <venv>/bin/python messaging_probe.py CONFIG_FILE PROJECT [--defaults]

CONFIG_FILE is the service's rendered main config file; its secret options (transport_url)
are found the way the service finds them, in ~/<PROJECT>.conf.d/ (HOME is set by the
caller). The probe then does what the services do:

- an RPC server on a topic (a topic queue, a fanout queue and, for the call, a reply queue
  are declared), an RPC call answered through it, and a fanout cast it receives;
- a notification listener on a topic and a notification sent with the messagingv2 driver,
  received.

--defaults: only transport_url is taken from the files, every [oslo_messaging_rabbit] option
left at oslo.messaging's default; the probe reports what happened within PROBE_SECONDS
instead of failing (oslo.messaging retries a refused queue declaration forever).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from typing import Any

PROBE_SECONDS = 20
TOPIC = "osndb_probe"
NOTIFICATIONS = "osndb_notifications"


class Errors(logging.Handler):
    """The driver's logged errors: a refused declaration shows up here."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage()[:500])


def load(config_file: str, project: str, defaults: bool) -> tuple[Any, str | None]:
    """The service's configuration (its file, then ~/<project>.conf.d/ as it reads it) and,
    with `defaults`, a bare one instead with the rendered transport URL to pass along."""
    import oslo_messaging  # type: ignore[import-not-found]  # service venv only
    from oslo_config import cfg  # type: ignore[import-not-found]

    conf = cfg.ConfigOpts()
    conf([], project=project, default_config_files=[config_file])
    if not defaults:
        return conf, None
    oslo_messaging.get_rpc_transport(conf).cleanup()  # registers transport_url
    url = str(conf.transport_url)
    bare = cfg.ConfigOpts()
    bare([], project=project, default_config_files=[], default_config_dirs=[])
    return bare, url


def rpc(conf: Any, url: str | None, result: dict[str, Any], errors: Errors) -> Any:
    """An RPC server, then a call through it and a fanout cast to it; the server, running."""
    import oslo_messaging

    fanned: list[str] = []

    class Endpoint:
        def echo(self, ctxt: dict[str, Any], value: str) -> str:
            return f"echo:{value}"

        def record(self, ctxt: dict[str, Any], value: str) -> None:
            fanned.append(value)

    transport = oslo_messaging.get_rpc_transport(conf, url=url)
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic=TOPIC, server="probe-server"), [Endpoint()],
        executor="threading")
    starting = threading.Thread(target=server.start, daemon=True)
    starting.start()
    starting.join(PROBE_SECONDS)
    result["rpc_server_started"] = not starting.is_alive()
    if starting.is_alive():
        result["errors"] = errors.messages
        print(json.dumps(result))
        sys.stdout.flush()
        os._exit(0)  # the start retries forever in its thread; a probe just ends
    client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(topic=TOPIC))
    result["call"] = client.prepare(timeout=30).call({}, "echo", value="hello")
    client.prepare(fanout=True).cast({}, "record", value="to everyone")
    _wait(lambda: bool(fanned))
    result["fanout"] = fanned
    return server


def notifications(conf: Any, url: str | None, result: dict[str, Any]) -> Any:
    """A listener, then a notification sent to it; the listener, running."""
    import oslo_messaging

    heard: list[dict[str, Any]] = []

    class Listener:
        def info(self, ctxt: dict[str, Any], publisher_id: str, event_type: str,
                 payload: dict[str, Any], metadata: dict[str, Any]) -> None:
            heard.append({"publisher_id": publisher_id, "event_type": event_type,
                          "payload": payload})

    transport = oslo_messaging.get_notification_transport(conf, url=url)
    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic=NOTIFICATIONS)], [Listener()],
        executor="threading")
    listener.start()
    notifier = oslo_messaging.Notifier(transport, publisher_id="osndb.probe",
                                       driver="messagingv2", topics=[NOTIFICATIONS])
    notifier.info({}, "osndb.probe.happened", {"n": 1})
    _wait(lambda: bool(heard))
    result["notifications"] = heard
    return listener


def _wait(done: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.2)


def main() -> int:
    config_file, project, *flags = sys.argv[1:]
    errors = Errors()
    logging.getLogger().addHandler(errors)
    logging.getLogger().setLevel(logging.ERROR)
    conf, url = load(config_file, project, "--defaults" in flags)
    result: dict[str, Any] = {}
    server = rpc(conf, url, result, errors)
    rabbit = conf.oslo_messaging_rabbit
    result["options"] = {k: getattr(rabbit, k) for k in (
        "rabbit_quorum_queue", "rabbit_transient_quorum_queue", "rabbit_stream_fanout",
        "rabbit_qos_prefetch_count", "use_queue_manager", "processname")}
    listener = notifications(conf, url, result)
    result["errors"] = errors.messages
    for running in (server, listener):
        running.stop()
        running.wait()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
