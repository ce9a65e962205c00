"""A parent that calls an HTTP API, then forks workers that call it at once, as
nova-scheduler and nova-conductor do with placement and keystone; run in a service venv
(nova's: keystoneauth1 over requests). Prints one JSON object.

    <venv>/bin/python fork_probe.py URL WAIT_S REQUESTS

The parent makes one request with a keystoneauth1 Session and forks two workers (a plain
fork, what oslo.service's ProcessLauncher does). WAIT_S seconds after the fork, both make
REQUESTS requests each to URL/<worker>/<n> on the inherited session and check that each
response body is their own path (the test server echoes it).
Output: {"parent_port": local port of the parent's pooled connection,
         "workers": [{"name", "port": the local port its pool holds at the end,
                      "wrong": [[path, body], ...] responses that were not its own}]}
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import time
from typing import Any


def pooled_port(session: Any) -> int:
    """The local port of the connection a keystoneauth1 Session's pools hold (the one URL's
    pool is the only one with a connection; the pool put back last is the queue's end)."""
    adapter = session.session.get_adapter("http://")
    # urllib3's RecentlyUsedContainer has keys() but refuses iteration
    conns = [c for key in adapter.poolmanager.pools.keys()  # noqa: SIM118
             for c in adapter.poolmanager.pools[key].pool.queue if c is not None]
    if not conns or conns[-1].sock is None:
        raise RuntimeError(f"no pooled connection: {conns}")
    return int(conns[-1].sock.getsockname()[1])


def worker(session: Any, url: str, name: str, *, start: float, count: int, out: Any) -> None:
    time.sleep(max(0.0, start - time.time()))
    wrong = []
    for n in range(count):
        path = f"/{name}/{n}"
        try:
            body = session.get(url + path, authenticated=False, timeout=10).text
        except Exception as error:
            body = f"error: {type(error).__name__}: {error}"
        if body != path:
            wrong.append([path, body])
    out.put({"name": name, "port": pooled_port(session), "wrong": wrong})


def main() -> int:
    from keystoneauth1 import session as ks_session  # type: ignore[import-not-found]  # venv only

    url, wait_s, count = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    session = ks_session.Session()
    assert session.get(url + "/parent", authenticated=False, timeout=10).text == "/parent"
    parent_port = pooled_port(session)
    fork = multiprocessing.get_context("fork")
    results = fork.Queue()
    start = time.time() + wait_s  # both at once
    workers = [fork.Process(target=worker, args=(session, url, f"w{i}"),
                            kwargs={"start": start, "count": count, "out": results})
               for i in range(2)]
    for w in workers:
        w.start()
    seen = [results.get(timeout=wait_s + 120) for _ in workers]
    for w in workers:
        w.join(timeout=10)
    print(json.dumps({"parent_port": parent_port, "workers": seen}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
