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
left at oslo.messaging's default, on an exchange and topic of its own (the first run's are
durable: redeclaring them otherwise is refused for another reason); the probe reports what happened
within PROBE_SECONDS instead of failing (oslo.messaging retries a refused declaration
forever). A watchdog ends a probe that hangs after WATCHDOG_SECONDS, saying where it was.
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
WATCHDOG_SECONDS = 150
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

    # The global CONF, as the services use: oslo.messaging registers some of its options
    # (tracing) there only.
    if not defaults:
        cfg.CONF([], project=project, default_config_files=[config_file])
        return cfg.CONF, None
    rendered = cfg.ConfigOpts()
    rendered([], project=project, default_config_files=[config_file])
    oslo_messaging.get_rpc_transport(rendered).cleanup()  # registers transport_url
    cfg.CONF([], project=project, default_config_files=[], default_config_dirs=[])
    return cfg.CONF, str(rendered.transport_url)


def rpc(conf: Any, url: str | None, result: dict[str, Any], errors: Errors,
        target: dict[str, str]) -> Any:
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
        transport, oslo_messaging.Target(server="probe-server", **target), [Endpoint()],
        executor="threading")
    started: list[str] = []

    def start() -> None:
        try:
            server.start()
            started.append("ok")
        except Exception as error:  # reported, not raised: the probe says what happened
            started.append(f"{type(error).__name__}: {error}")

    starting = threading.Thread(target=start, daemon=True)
    starting.start()
    starting.join(PROBE_SECONDS)
    result["rpc_server_started"] = started == ["ok"]
    if not result["rpc_server_started"]:
        result["start"] = started[0][:1000] if started else "still retrying"
        result["errors"] = errors.messages
        print(json.dumps(result))
        sys.stdout.flush()
        os._exit(0)  # the start retries forever in its thread; a probe just ends
    client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(**target))
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
    defaults = "--defaults" in flags
    conf, url = load(config_file, project, defaults)
    result: dict[str, Any] = {}

    def hung() -> None:
        print(json.dumps({**result, "hung": True, "errors": errors.messages}))
        sys.stdout.flush()
        os._exit(2)

    watchdog = threading.Timer(WATCHDOG_SECONDS, hung)
    watchdog.daemon = True
    watchdog.start()
    # Without an exchange, the services' control exchange (`openstack` by default).
    target = ({"topic": f"{TOPIC}_defaults", "exchange": "osndb_defaults"} if defaults
              else {"topic": TOPIC})
    server = rpc(conf, url, result, errors, target)
    rabbit = conf.oslo_messaging_rabbit
    result["options"] = {k: getattr(rabbit, k) for k in (
        "rabbit_quorum_queue", "rabbit_transient_quorum_queue", "rabbit_stream_fanout",
        "rabbit_qos_prefetch_count", "use_queue_manager", "processname")}
    listener = notifications(conf, url, result)
    result["errors"] = errors.messages
    for running in (server, listener):
        running.stop()
        running.wait()
    watchdog.cancel()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
