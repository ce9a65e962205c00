"""oslo.cache as a service uses it, from the service's rendered config file ([cache]:
backend oslo_cache.memcache_pool and every memcached), while the test takes memcached
servers away; run in a service venv (keystone's: oslo.cache, python-memcached). JSON lines.

    <venv>/bin/python memcache_probe.py CONFIG_FILE PROJECT SECONDS

Prints {"ready": true, "options": {...}} once a value went through the cache, then for
SECONDS a set and a get of a new key every PERIOD_S, each recorded as [start, end, ok]
(ok: the get returned what was set), then {"ops": [...]}.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

PERIOD_S = 0.05


def main() -> int:
    from oslo_cache import core as cache  # type: ignore[import-not-found]  # venv only
    from oslo_config import cfg  # type: ignore[import-not-found]

    config_file, project, seconds = sys.argv[1:4]
    conf = cfg.ConfigOpts()
    cache.configure(conf)
    conf([], project=project, default_config_files=[config_file], default_config_dirs=[])
    region = cache.create_region()
    cache.configure_cache_region(conf, region)
    region.set("probe-ready", "yes")
    assert region.get("probe-ready") == "yes"
    options = {k: getattr(conf.cache, k) for k in (
        "backend", "memcache_servers", "memcache_dead_retry", "socket_timeout",
        "memcache_pool_maxsize", "memcache_pool_connection_get_timeout")}
    print(json.dumps({"ready": True, "options": options}), flush=True)
    ops: list[list[Any]] = []
    deadline = time.time() + float(seconds)
    n = 0
    while time.time() < deadline:
        start = time.time()
        key = f"probe-{n}"
        try:
            region.set(key, n)
            ok = region.get(key) == n
        except Exception:  # recorded: a failed operation is what is measured
            ok = False
        ops.append([start, time.time(), ok])
        n += 1
        time.sleep(max(0.0, start + PERIOD_S - time.time()))
    print(json.dumps({"ops": ops}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
