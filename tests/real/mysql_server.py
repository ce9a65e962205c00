"""A real, throw-away Oracle MySQL 9.7 server for tests.

The server is sid's mysqld from the test bed root that ``testbed/provision.sh`` builds (a
debootstrapped Debian sid: its mysqld needs a newer libc than the host has, so it runs inside
the root with ``chroot``). Each server gets its own datadir, socket and a free TCP port on
127.0.0.1; it is never a system service, and it is always stopped and its files removed.

Paths: the work directory is made under ``<root>/tmp/`` so the host path and the path inside
the root name the same files without any bind mount. ``/proc`` is mounted for mysqld in a
private mount namespace of its own (``unshare --mount``), so the mount dies with the process.

A missing test bed skips the tests, except under ``CI=true`` where it is a failure
(testbed/pytest_support.py): CI must never pass by skipping silently.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

from testbed.cluster import Testbed
from testbed.pytest_support import check_mysql_series, require_testbed
from tests.ports import free_port

START_TIMEOUT_S = 90.0  # --initialize plus first start; seconds on this machine, not minutes
STOP_TIMEOUT_S = 30.0
# If the test process dies hard, mysqld dies with it (the finally block never runs then).
_PDEATHSIG = ["setpriv", "--pdeathsig", "KILL", "--"]


class MysqlServerError(RuntimeError):
    """mysqld did not initialise or did not start; the message carries its error log."""


@dataclass(frozen=True)
class MysqlServer:
    """Connection facts of a running server. ``password`` is root's, for TCP and socket."""

    host: str
    port: int
    user: str
    password: str
    version: str
    workdir: Path  # host path; removed when the server stops

    def connect(
        self,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
        **kwargs: Any,
    ) -> pymysql.connections.Connection[Any]:
        """A new TCP connection (root unless told otherwise); autocommit, closed by the caller."""
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user if user is None else user,
            password=self.password if password is None else password,
            database=database,
            autocommit=True,
            connect_timeout=5,
            **kwargs,
        )

    def admin_inputs(self) -> dict[str, Any]:
        """The admin_* keys of a ServiceDatabase's inputs for this server."""
        return {
            "admin_host": self.host,
            "admin_port": self.port,
            "admin_user": self.user,
            "admin_password": self.password,
        }


@contextmanager
def mysql_server(testbed: Testbed | None = None, host: str = "127.0.0.1",
                 port: int | None = None,
                 options: tuple[str, ...] = ("--innodb-buffer-pool-size=64M",
                                             "--performance-schema=OFF"),
                 ) -> Iterator[MysqlServer]:
    """Initialise and start a private mysqld; yield its facts; always stop it and remove it.

    By default on 127.0.0.1 at a free port, small (the buffer pool, no performance schema);
    `host`, `port` and `options` (replacing the defaults) serve a longer-lived server: the
    InnoDB arm of `make tempest` (tests/openstack/database_backend.py)."""
    testbed = testbed or require_testbed()
    (testbed.root / "tmp").mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="openstack-ndb-mysqld-", dir=testbed.root / "tmp"))
    inside = "/" + str(workdir.relative_to(testbed.root))  # the same folder seen from the root
    password = secrets.token_urlsafe(18)
    proc: subprocess.Popen[bytes] | None = None
    try:
        # root@localhost (socket) gets the password; root@127.0.0.1 is what TCP clients are
        # with skip-name-resolve. caching_sha2_password is the default plugin: pymysql handles
        # it over plain TCP through the RSA key exchange (the `cryptography` package).
        # A client of another loopback address still comes from 127.0.0.1 (lo's source).
        (workdir / "init.sql").write_text(
            f"ALTER USER 'root'@'localhost' IDENTIFIED BY '{password}';\n"
            + "".join(f"CREATE USER 'root'@'{h}' IDENTIFIED BY '{password}';\n"
                      f"GRANT ALL ON *.* TO 'root'@'{h}' WITH GRANT OPTION;\n"
                      for h in dict.fromkeys(("127.0.0.1", host)))
        )
        common = [
            f"--datadir={inside}/data",
            f"--socket={inside}/mysqld.sock",
            f"--pid-file={inside}/mysqld.pid",
            f"--log-error={inside}/error.log",
            f"--tmpdir={inside}",
            "--user=root",
        ]
        init = subprocess.run(
            [
                *_PDEATHSIG,
                *_in_root(testbed, [testbed.mysqld, "--no-defaults", *common,
                                    "--initialize-insecure", f"--init-file={inside}/init.sql"]),
            ],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            check=False,
        )
        if init.returncode != 0:
            raise MysqlServerError(
                f"mysqld --initialize failed (exit {init.returncode}):\n{init.stderr}\n"
                f"{_tail(workdir / 'error.log')}"
            )
        port = port or free_port()
        log = (workdir / "mysqld.stdout.log").open("ab")
        with log:
            proc = subprocess.Popen(
                [
                    *_PDEATHSIG,
                    *_in_root(testbed, [
                        testbed.mysqld, "--no-defaults", *common,
                        f"--bind-address={host}", f"--port={port}",
                        "--skip-name-resolve",
                        "--mysqlx=OFF",  # its port 33060 would clash between servers
                        "--secure-file-priv=",
                        *options,  # by default: saves memory and start time
                    ]),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        version = _wait_until_answers(proc, host, port, password, workdir)
        check_mysql_series(version, f"mysqld {testbed.mysqld} on {host}:{port}")
        yield MysqlServer(host, port, "root", password, version, workdir)
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def _in_root(testbed: Testbed, argv: list[str]) -> list[str]:
    script = 'r=$0; mount -t proc proc "$r/proc" && exec chroot "$r" "$@"'
    return ["unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", script, str(testbed.root), *argv]


def _wait_until_answers(
    proc: subprocess.Popen[bytes], host: str, port: int, password: str, workdir: Path
) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise MysqlServerError(
                f"mysqld exited with {proc.returncode} before answering:\n"
                f"{_tail(workdir / 'error.log')}"
            )
        try:
            conn = pymysql.connect(host=host, port=port, user="root", password=password,
                                   connect_timeout=2)
        except pymysql.err.OperationalError as err:
            last = err
            time.sleep(0.2)
            continue
        with conn, conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            row = cur.fetchone()
            return str(row[0]) if row else ""
    raise MysqlServerError(
        f"mysqld on {host}:{port} did not answer within {START_TIMEOUT_S:.0f}s ({last}):\n"
        f"{_tail(workdir / 'error.log')}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a clean shutdown), then SIGKILL for the whole process group."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 10.0)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path.name})"
