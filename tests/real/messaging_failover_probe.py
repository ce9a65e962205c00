"""oslo.messaging through a RabbitMQ cluster while the test kills a member; run in a service
venv (nova's: oslo.messaging, kombu). JSON lines on stdout.

    <venv>/bin/python messaging_failover_probe.py CONFIG_FILE PROJECT SECONDS KEPT

CONFIG_FILE is the service's rendered main config file; its secret options (transport_url,
every member) are in ~/<PROJECT>.conf.d/ as the service finds them (HOME set by the caller).

1. An RPC server on a topic of its own (quorum queues: the rendered options), and KEPT
   notifications sent to a topic nobody listens on, so they stay in its quorum queue.
2. Prints {"ready": true}; from then on, for SECONDS: an RPC call every PERIOD_S (each with
   CALL_TIMEOUT_S) and a cast after it, each recorded with its wall-clock start and end.
3. Prints the record: calls [[start, end, ok, error]], casts [[time, n, ok]], the casts the
   server received, and the driver's logged errors.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from typing import Any

PERIOD_S = 0.2
CALL_TIMEOUT_S = 10
TOPIC = "osndb_failover"
KEPT_TOPIC = "osndb_kept"


class Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.created:.2f} {record.getMessage()[:300]}")


def main() -> int:
    import oslo_messaging  # type: ignore[import-not-found]  # service venv only
    from oslo_config import cfg  # type: ignore[import-not-found]

    config_file, project, seconds, kept = sys.argv[1:5]
    errors = Errors()
    logging.getLogger().addHandler(errors)
    logging.getLogger().setLevel(logging.ERROR)
    cfg.CONF([], project=project, default_config_files=[config_file])
    received: list[int] = []
    lock = threading.Lock()

    class Endpoint:
        def echo(self, ctxt: dict[str, Any], value: int) -> int:
            return value

        def record(self, ctxt: dict[str, Any], value: int) -> None:
            with lock:
                received.append(value)

    transport = oslo_messaging.get_rpc_transport(cfg.CONF)
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic=TOPIC, server="probe-server"), [Endpoint()],
        executor="threading")
    server.start()
    notifier = oslo_messaging.Notifier(
        oslo_messaging.get_notification_transport(cfg.CONF), publisher_id="osndb.probe",
        driver="messagingv2", topics=[KEPT_TOPIC])
    for n in range(int(kept)):
        notifier.info({}, "osndb.probe.kept", {"n": n})
    client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(topic=TOPIC))
    assert client.prepare(timeout=30).call({}, "echo", value=-1) == -1
    print(json.dumps({"ready": True}), flush=True)
    calls: list[list[Any]] = []
    casts: list[list[Any]] = []
    deadline = time.time() + float(seconds)
    n = 0
    while time.time() < deadline:
        start = time.time()
        try:
            ok = client.prepare(timeout=CALL_TIMEOUT_S).call({}, "echo", value=n) == n
            calls.append([start, time.time(), ok, ""])
        except Exception as error:  # recorded: the figures are what this probe is for
            calls.append([start, time.time(), False, f"{type(error).__name__}: {error}"[:200]])
        try:
            client.cast({}, "record", value=n)
            casts.append([time.time(), n, True])
        except Exception:
            casts.append([time.time(), n, False])
        n += 1
        time.sleep(max(0.0, start + PERIOD_S - time.time()))
    sent = {c[1] for c in casts if c[2]}
    wait = time.time() + 15
    while time.time() < wait:
        with lock:
            if sent <= set(received):
                break
        time.sleep(0.2)
    with lock:
        got = sorted(set(received))
    print(json.dumps({"calls": calls, "casts": casts, "received": got,
                      "errors": errors.messages[-20:]}), flush=True)
    server.stop()
    server.wait()
    transport.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
