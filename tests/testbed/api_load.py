"""A continuous API load for fault tests, as a user's scripts would make it: one background
thread, round after round, issues a keystone token (password authentication, project-scoped)
and makes one list call of each of the given services with it, through the URLs a user has
(the API virtual address). Every request is recorded with its timestamps and outcome; a
request that fails or times out is recorded and the round goes on with the next one.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

TOKEN = "token"


@dataclass(frozen=True)
class Request:
    what: str  # TOKEN or a list call's name
    started: float  # time.monotonic()
    finished: float
    ok: bool
    detail: str = ""  # the status or error of a failed request


@dataclass(frozen=True)
class ApiUser:
    identity_url: str  # keystone's /v3 URL
    user: str
    password: str
    project: str
    domain: str = "default"


class ApiLoad:
    """Rounds of a token issue and list calls `calls` (name -> URL), each request with a
    `timeout` (s), `pause` s between rounds; as a context manager, stopped at its end."""

    def __init__(self, user: ApiUser, calls: Sequence[tuple[str, str]], *,
                 timeout: float = 5.0, pause: float = 0.1) -> None:
        self.user, self.calls, self.timeout, self.pause = user, list(calls), timeout, pause
        self.requests: list[Request] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="api-load", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> list[Request]:
        self._stop.set()
        self._thread.join(timeout=self.timeout * (len(self.calls) + 2))
        return self.snapshot()

    def snapshot(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    def wait_for_rounds(self, count: int, since: float, timeout: float) -> int:
        """Until `count` rounds with every request ok started at or after `since`, or
        `timeout` s: how many there were."""
        deadline = time.monotonic() + timeout
        while True:
            done = complete_rounds(self.snapshot(), len(self.calls) + 1, since)
            if done >= count or time.monotonic() > deadline:
                return done
            time.sleep(0.2)

    def _loop(self) -> None:
        while not self._stop.is_set():
            token = self._token()
            for name, url in self.calls:
                if token is None:
                    break
                self._request(name, urllib.request.Request(
                    url, headers={"X-Auth-Token": token, "Accept": "application/json"}))
            self._stop.wait(self.pause)

    def _token(self) -> str | None:
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": self.user.user, "domain": {"id": self.user.domain},
                "password": self.user.password}}},
            "scope": {"project": {"name": self.user.project,
                                  "domain": {"id": self.user.domain}}}}}
        request = urllib.request.Request(
            f"{self.user.identity_url}/auth/tokens", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        return self._request(TOKEN, request, header="X-Subject-Token")

    def _request(self, what: str, request: urllib.request.Request,
                 header: str | None = None) -> str | None:
        started = time.monotonic()
        answer, ok, detail = None, False, ""
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
                ok = 200 <= response.status < 300
                detail = str(response.status)
                answer = response.headers.get(header) if header else ""
        except urllib.error.HTTPError as error:
            detail = f"HTTP {error.code}"
        except (OSError, ValueError) as error:
            detail = f"{type(error).__name__}: {error}"[:200]
        with self._lock:
            self.requests.append(Request(what, started, time.monotonic(), ok, detail))
        return answer if ok else None


def complete_rounds(requests: Sequence[Request], per_round: int, since: float) -> int:
    """Rounds (a token then its list calls, `per_round` requests) started at or after
    `since` whose every request was ok."""
    rounds, current = 0, 0
    for request in requests:
        if request.started < since:
            continue
        if request.what == TOKEN:
            current = 0
        current = current + 1 if request.ok else -len(requests)
        if current == per_round:
            rounds += 1
    return rounds


def longest_gap(requests: Sequence[Request], start: float, end: float) -> float:
    """The longest time (s) within [start, end] in which some kind of request (the token,
    or one service's list call) did not once succeed: how long a user saw that API down."""
    gaps = [0.0]
    for what in sorted({r.what for r in requests}):
        done = sorted(r.finished for r in requests
                      if r.what == what and r.ok and start <= r.finished <= end)
        edges = [start, *done, end]
        gaps.append(max(b - a for a, b in itertools.pairwise(edges)))
    return max(gaps)


def failures(requests: Sequence[Request], start: float, end: float) -> list[Request]:
    """The requests started within [start, end] that failed."""
    return [r for r in requests if not r.ok and start <= r.started <= end]


def failure_lines(failed: Sequence[Request], since: float) -> list[str]:
    """The failed requests as lines, times from `since` (s), consecutive failures of one
    kind with one answer on one line: "+1.20..+9.80 s token: HTTP 503 (x42, up to 0.01 s)"."""
    runs: list[list[Request]] = []
    for request in failed:
        if runs and (runs[-1][0].what, runs[-1][0].detail) == (request.what, request.detail):
            runs[-1].append(request)
        else:
            runs.append([request])
    lines = []
    for run in runs:
        first, last = run[0], run[-1]
        when = f"+{first.started - since:.2f}" + (
            f"..+{last.started - since:.2f}" if len(run) > 1 else "")
        took = max(r.finished - r.started for r in run)
        count = f"x{len(run)}, " if len(run) > 1 else ""
        lines.append(f"{when} s {first.what}: {first.detail} ({count}up to {took:.2f} s)")
    return lines
