"""One way the benches open a connection: autocommit, to a loopback server whose bench user
has no password (the test bed's root, the Galera peer's `bench`)."""

from __future__ import annotations

from typing import Any

import pymysql


def connect(address: tuple[str, int], user: str, **options: Any) -> Any:
    """A pymysql connection to address (host, port) as `user`; `options` are pymysql's
    (connect_timeout defaults to 5 s; read_timeout, write_timeout in seconds)."""
    return pymysql.connect(host=address[0], port=address[1], user=user, password="",
                           autocommit=True, **{"connect_timeout": 5, **options})
