"""Local ports for the servers the tests start: a free one, and waiting until one listens."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, *, timeout: float, what: str,
                  alive: Callable[[], bool] = lambda: True,
                  details: Callable[[], str] = lambda: "") -> None:
    """Until host:port accepts connections; fail with `what` and `details()` when the server
    stops (`alive()` false) or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if not alive():
            raise RuntimeError(f"{what} stopped before listening on {host}:{port}:\n{details()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not listen on {host}:{port} in {timeout:.0f} s:\n"
                               f"{details()}")
        time.sleep(0.2)
