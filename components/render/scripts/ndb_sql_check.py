"""ndb-sql-check: tells HAProxy whether one SQL node can serve NDB tables (HTTP 200 or 503).

Kolla-Ansible's clustercheck model (HAProxy `option httpchk` on a port of its own), for a
mysqld of MySQL NDB Cluster: a mysqld that lost its cluster connection still answers the
MySQL greeting and logins, so only a question about NDB itself tells whether it can serve
NDB tables.

How it decides: a poller thread runs the `mysql` client every --interval seconds, over TCP to
the SQL node's address and port (the path HAProxy's clients take), and reads
  - Ndb_cluster_node_id: 0 while mysqld has never had its cluster connection;
  - Ndb_number_of_ready_data_nodes: the data nodes its connection sees ready;
  - ndbinfo.nodes, the data nodes STARTED: a read that travels to the data nodes and back,
    killed after --timeout seconds.
Measured on the test bed, a mysqld whose packets to and from the data nodes are dropped keeps
its counters unchanged for about 5.5 s (until missed heartbeats close its connections; then
the ready data nodes turn 0, reads fail with 157 "Connection to NDB failed", and
Ndb_cluster_node_id stays set), while an ndbinfo read hangs from the first moment. One data
node lost silently makes the same read hang too, on every SQL node (ndbinfo asks the data
nodes one after the other). So after a read that failed in NDB or hung, the agent opens TCP
connections from the SQL node's address to the management and data nodes (--peers; an answer
or a refusal within --timeout counts): none answers, the node is cut off (503); one does, the
node is "degraded" but stays (200), and NDB itself declares the silent node dead.
Each HTTP request (any path) is answered at once from the latest probe: 200 "ready: ..." (or
"degraded: ...") or 503 "<reason>", one line; 503 as well when no probe has finished for
--interval + 2 x --timeout + 1 s (the poller is stuck). Verdict changes are logged to stderr.

Credentials: the check account's user name (--user) and a MySQL option file (--defaults-file,
mode 0400) whose [client] section holds its password, which never appears in a process
argument or an environment variable. The account needs no privilege but SELECT on
ndbinfo.nodes and on ndbinfo.ndb$nodes, the table under that view.

Runs on the Python 3 standard library alone: in the NDB image by MySQL Shell's bundled
Python (`mysqlsh --py --file ndb_sql_check.py <options>`: the options after the file name
are the script's sys.argv), on the test bed by python3. Options:
  --listen ADDRESS:PORT   where HAProxy asks
  --host, --port          the SQL node's mysqld
  --bind-address          the client's source address (the account's host part)
  --user                  the check account
  --defaults-file PATH    the option file with its password
  --mysql PATH            the mysql client (default: mysql)
  --interval SECONDS      between probes (default 0.5)
  --timeout SECONDS       the read's limit, and the peers' (default 1.0)
  --peers HOST:PORT,...   the management nodes and the data nodes with a fixed port
  --exit-after SECONDS    exit (status 3) when no probe could connect to mysqld for this long
                          (default 0: never). In a container that shares the SQL node's
                          network namespace: Docker leaves such a container in the old,
                          dead namespace when the SQL node's container restarts, and only a
                          restart of its own (the restart policy) joins the new one.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import http.server
import math
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

NODE_ID = "Ndb_cluster_node_id"
READY_DATA_NODES = "Ndb_number_of_ready_data_nodes"
NDBINFO_STARTED = "ndbinfo_started_data_nodes"
STATUS = (NODE_ID, READY_DATA_NODES)
# Answers as `name<TAB>value` lines (mysql --batch --skip-column-names). The status counters
# come first and never wait for NDB; with --unbuffered they are out before the ndbinfo read,
# which may hang, starts.
QUERY = (
    f"SHOW GLOBAL STATUS WHERE Variable_name IN ({', '.join(repr(n) for n in STATUS)}); "
    f"SELECT '{NDBINFO_STARTED}', COUNT(*) FROM ndbinfo.nodes WHERE status = 'STARTED';"
)


TIMED_OUT = "no answer within"
# The mysql client's messages for NDB's own errors: 1296 "Got error N 'text' from NDB...",
# 1297 "Got temporary error N ...".
_NDB_ERRORS = ("ERROR 1296", "ERROR 1297")


def parse(output: str) -> dict[str, str]:
    """`name<TAB>value` lines -> {name: value}; other lines are ignored."""
    values = {}
    for line in output.splitlines():
        name, sep, value = line.partition("\t")
        if sep:
            values[name.strip()] = value.strip()
    return values


def _count(values: Mapping[str, str], name: str) -> int | None:
    try:
        return int(values[name])
    except (KeyError, ValueError):
        return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def decide(values: Mapping[str, str], error: str | None,
           peers_reachable: bool | None) -> tuple[bool, str]:
    """The latest probe -> (fit to serve NDB tables, one-line reason).

    `values`: parse()'s result (the status counters, then the ndbinfo count if the read
    finished); `error`: why the probe did not finish (mysql's exit status and message, or a
    timeout), None if it did; `peers_reachable`: after a failed or hung ndbinfo read, whether
    a TCP connection from the SQL node's address reached any management or data node (None:
    not tried).

    Unfit without status counters, when Ndb_cluster_node_id or the ready data nodes are 0,
    when ndbinfo shows no started data node, or when the probe failed for a reason NDB cannot
    explain (a login, a grant). A read that failed in NDB or hung is the first sign of a cut,
    but also of one data node lost while the others still serve (the ndbinfo scan asks the
    data nodes one after the other and waits on the silent one, from every SQL node): unfit
    only when no management or data node can be reached from the SQL node's address (cut
    off), fit but "degraded" otherwise; NDB itself then declares the silent node dead."""
    unfit = _counters_unfit(values, error)
    if unfit is not None:
        return False, unfit
    node_id, ready = values[NODE_ID], values[READY_DATA_NODES]
    started = _count(values, NDBINFO_STARTED)
    if error is None and started is not None:
        if started == 0:
            return False, f"ndbinfo.nodes shows no started data node (node id {node_id})"
        return True, (f"ready: node id {node_id}, {ready} data node(s) ready, {started} "
                      "started (ndbinfo)")
    why = _one_line(error or "no ndbinfo answer")
    if error is not None and not error.startswith(TIMED_OUT) and not any(
            code in error for code in _NDB_ERRORS):
        return False, f"probe failed: {why}"  # a grant, a login: nothing NDB can explain
    if peers_reachable:
        return True, f"degraded: ndbinfo read: {why}; the cluster is reachable (node id {node_id})"
    return False, (f"cut off: no management or data node reachable (node id {node_id}); "
                   f"ndbinfo read: {why}")


def _counters_unfit(values: Mapping[str, str], error: str | None) -> str | None:
    """Why the status counters alone make the node unfit, or None."""
    node_id, ready = _count(values, NODE_ID), _count(values, READY_DATA_NODES)
    if node_id is None or ready is None:
        if error is not None:
            return f"probe failed: {_one_line(error)}"
        missing = ", ".join(n for n in (NODE_ID, READY_DATA_NODES) if n not in values)
        return f"no NDB status ({missing} missing): is ndbcluster enabled?"
    if node_id == 0:
        return f"not connected to the cluster ({NODE_ID} 0)"
    if ready == 0:
        return f"no data node ready ({READY_DATA_NODES} 0, node id {node_id})"
    return None


# The mysql client's errors for "no server reached": 2002 (socket), 2003 (TCP), 2005 (host).
_UNREACHABLE = ("ERROR 2002", "ERROR 2003", "ERROR 2005")


@dataclass(frozen=True)
class Outcome:
    """What one probe brought back."""

    values: dict[str, str]  # whatever arrived, see parse()
    error: str | None  # why it did not finish; None if it did
    timed_out: bool = False  # killed at --timeout (what arrived before is in `values`)
    reached: bool = True  # it connected to mysqld (or may have: a timeout)
    peers_reachable: bool | None = None  # after a failed or hung read: see reachable()


def reachable(peers: list[tuple[str, int]], source: str | None, timeout: float) -> bool:
    """Does a TCP connection from `source` to any of `peers` get an answer within `timeout`
    seconds? Refused counts: the path is there. All attempts run at once."""
    sockets = []
    try:
        for host, port in peers:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                if source:
                    sock.bind((source, 0))
                if sock.connect_ex((host, port)) in (0, errno.ECONNREFUSED):
                    return True
        deadline = time.monotonic() + timeout
        pending = list(sockets)
        while pending and (left := deadline - time.monotonic()) > 0:
            _, done, _ = select.select([], pending, [], left)
            for sock in done:
                pending.remove(sock)
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) in (
                        0, errno.ECONNREFUSED):
                    return True
        return False
    finally:
        for sock in sockets:
            sock.close()


class Probe:
    """The mysql client command of one probe, and the cluster's addresses to try after a read
    that failed or hung."""

    def __init__(self, args: argparse.Namespace) -> None:
        # --defaults-file must come first; it is the only option file read, so nothing of
        # the image's or the host's my.cnf changes what the client does.
        self.argv = [
            args.mysql, f"--defaults-file={args.defaults_file}", "--protocol=TCP",
            f"--host={args.host}", f"--port={args.port}", f"--user={args.user}",
            *([f"--bind-address={args.bind_address}"] if args.bind_address else []),
            f"--connect-timeout={max(1, math.ceil(args.timeout))}",
            "--batch", "--skip-column-names", "--unbuffered", "--no-auto-rehash", "-e", QUERY,
        ]
        self.timeout = args.timeout
        self.peers = args.peers
        self.source = args.bind_address

    def __call__(self) -> Outcome:
        outcome = self._read()
        if outcome.error is None or not self.peers:
            return outcome
        return Outcome(outcome.values, outcome.error, outcome.timed_out, outcome.reached,
                       reachable(self.peers, self.source, self.timeout))

    def _read(self) -> Outcome:
        try:
            done = subprocess.run(self.argv, capture_output=True, timeout=self.timeout,
                                  check=False)
        except subprocess.TimeoutExpired as late:
            partial = late.stdout or b""
            text = partial.decode(errors="replace") if isinstance(partial, bytes) else partial
            return Outcome(parse(text), f"{TIMED_OUT} {self.timeout:g} s", timed_out=True)
        except OSError as failure:
            return Outcome({}, f"cannot run {self.argv[0]}: {failure}", reached=False)
        stderr = done.stderr.decode(errors="replace").strip()
        values = parse(done.stdout.decode(errors="replace"))
        if done.returncode == 0:
            return Outcome(values, None)
        return Outcome(values, f"mysql exit {done.returncode}: {stderr}",
                       reached=not stderr.startswith(_UNREACHABLE))


class Monitor:
    """The latest probe's outcome, shared by the poller thread and the HTTP handlers."""

    def __init__(self, stale_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._stale_after = stale_after
        self._outcome: Outcome | None = None
        self._at = 0.0  # when the latest probe finished

    def record(self, outcome: Outcome) -> None:
        with self._lock:
            if outcome.timed_out and not all(n in outcome.values for n in STATUS) and (
                    self._outcome is not None):
                # Killed before even the counters came (a slow start on a busy host): the
                # last ones stand; the read still counts as hung.
                kept = {n: v for n, v in self._outcome.values.items() if n in STATUS}
                outcome = Outcome({**kept, **outcome.values}, outcome.error, True,
                                  outcome.reached, outcome.peers_reachable)
            self._outcome, self._at = outcome, self._clock()

    def verdict(self) -> tuple[bool, str]:
        now = self._clock()
        with self._lock:
            outcome, at = self._outcome, self._at
        if outcome is None:
            return False, "starting: no probe finished yet"
        if now - at > self._stale_after:
            return False, f"no probe finished for {now - at:.1f} s"
        return decide(outcome.values, outcome.error, outcome.peers_reachable)


def log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    print(f"{stamp} ndb-sql-check: {message}", file=sys.stderr, flush=True)


def poll(probe: Probe, monitor: Monitor, interval: float, exit_after: float) -> None:
    """Probe forever, `interval` seconds from one probe's start to the next's; log each change
    of verdict; exit when mysqld stayed unreachable for `exit_after` seconds (0: never)."""
    reached, was_fit = time.monotonic(), None
    while True:
        started = time.monotonic()
        outcome = probe()
        monitor.record(outcome)
        if outcome.reached:
            reached = started
        fit, reason = monitor.verdict()
        if fit != was_fit:
            log(f"{'UP' if fit else 'DOWN'}: {reason}")
            was_fit = fit
        if exit_after and started - reached > exit_after:
            log(f"exiting: mysqld unreachable for {started - reached:.0f} s; the restart "
                "policy starts this agent again in the SQL node's current network")
            os._exit(3)  # from the poller thread: sys.exit would end only this thread
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def handler_for(monitor: Monitor) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            ok, reason = monitor.verdict()
            body = (reason + "\n").encode()
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass  # a request every half second: only verdict changes are logged

    return Handler


def _endpoints(text: str) -> list[tuple[str, int]]:
    out = []
    for item in filter(None, text.split(",")):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise argparse.ArgumentTypeError(f"not HOST:PORT: {item!r}")
        out.append((host, int(port)))
    return out


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ndb-sql-check", description=__doc__.split("\n")[0])
    parser.add_argument("--listen", required=True, help="ADDRESS:PORT HAProxy asks")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bind-address")
    parser.add_argument("--user", required=True)
    parser.add_argument("--defaults-file", required=True)
    parser.add_argument("--mysql", default="mysql")
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--peers", type=_endpoints, default=[],
                        help="HOST:PORT,... of the management and data nodes")
    parser.add_argument("--exit-after", type=float, default=0.0)
    args = parser.parse_args(argv)
    address, _, port = args.listen.rpartition(":")
    if not address or not port.isdigit():
        parser.error(f"--listen must be ADDRESS:PORT, got {args.listen!r}")
    args.listen_address, args.listen_port = address, int(port)
    return args


def main(argv: list[str]) -> int:
    args = arguments(argv)
    # A probe takes at most --timeout for the read and as long again for the peers.
    monitor = Monitor(stale_after=args.interval + 2 * args.timeout + 1.0)
    server = http.server.ThreadingHTTPServer((args.listen_address, args.listen_port),
                                             handler_for(monitor))
    server.daemon_threads = True
    threading.Thread(target=poll, args=(Probe(args), monitor, args.interval, args.exit_after),
                     name="poller", daemon=True).start()
    # docker stop sends SIGTERM to PID 1, which ignores it unless a handler is set; outside
    # the main thread of the main interpreter Python refuses one (docker stop then kills).
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log(f"listening on {args.listen}, asking {args.host}:{args.port} every "
        f"{args.interval:g} s (limit {args.timeout:g} s)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


# MySQL Shell runs the file as a script (its `__name__` is not documented); the unit tests
# import it under this module name, and only then does nothing run.
if __name__.rpartition(".")[2] != "ndb_sql_check":
    sys.exit(main(sys.argv[1:]))
