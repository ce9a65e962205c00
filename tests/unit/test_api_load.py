"""The host-loss test's API load (tests/testbed/api_load.py): its figures from requests, and the
load itself against a small HTTP server that issues tokens and then stops answering."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.testbed.api_load import (
    TOKEN,
    ApiLoad,
    ApiUser,
    Request,
    complete_rounds,
    failure_lines,
    failures,
    longest_gap,
)


def _round(at: float, ok: bool = True, lists_ok: bool = True) -> list[Request]:
    return [Request(TOKEN, at, at + 0.1, ok),
            *([Request("a", at + 0.1, at + 0.2, lists_ok),
               Request("b", at + 0.2, at + 0.3, lists_ok)] if ok else [])]


def test_the_longest_gap_is_the_longest_one_kind_of_request_went_without_a_success() -> None:
    requests = [*_round(0), *_round(1), *_round(2, lists_ok=False), *_round(6)]
    # tokens kept coming (1.1 -> 2.1 -> 6.1), the list calls not from 1.2/1.3 to 6.2/6.3
    assert longest_gap(requests, 1.0, 7.0) == pytest.approx(5.0)
    assert longest_gap(requests, 0.0, 1.05) == pytest.approx(0.95)  # nothing after 0.3 until 1.05
    assert longest_gap([], 0.0, 1.0) == 0.0
    assert [r.what for r in failures(requests, 2.0, 3.0)] == ["a", "b"]


def test_failures_of_one_kind_and_answer_in_a_row_print_as_one_line() -> None:
    failed = [Request(TOKEN, t, t + 0.01, False, "HTTP 503") for t in (11.0, 11.5, 12.0)]
    failed.append(Request("a", 12.5, 14.5, False, "TimeoutError"))
    assert failure_lines(failed, 10.0) == [
        "+1.00..+2.00 s token: HTTP 503 (x3, up to 0.01 s)",
        "+2.50 s a: TimeoutError (up to 2.00 s)"]


def test_a_round_counts_only_when_the_token_and_every_list_call_succeeded() -> None:
    requests = [*_round(0), *_round(1, ok=False), *_round(2, lists_ok=False), *_round(3)]
    assert complete_rounds(requests, per_round=3, since=0) == 2
    assert complete_rounds(requests, per_round=3, since=0.5) == 1


class _Api(BaseHTTPRequestHandler):
    answering = True

    def do_POST(self) -> None:  # http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert body["auth"]["identity"]["password"]["user"]["password"] == "pw"
        self._answer(201, {"X-Subject-Token": "t0k"})

    def do_GET(self) -> None:
        assert self.headers["X-Auth-Token"] == "t0k"
        self._answer(200 if _Api.answering else 503, {})

    def _answer(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Api.answering = True
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_load_records_every_request_and_what_failed(api: str) -> None:
    user = ApiUser(f"{api}/v3", "admin", "pw", "admin")
    with ApiLoad(user, [("servers", f"{api}/servers"), ("nets", f"{api}/nets")],
                 timeout=2, pause=0.01) as load:
        began = time.monotonic()
        assert load.wait_for_rounds(3, since=began, timeout=10) >= 3
        _Api.answering = False
        broke = time.monotonic()
        time.sleep(0.3)
        requests = load.stop()
    failed = failures(requests, broke, time.monotonic())
    assert failed and {r.detail for r in failed} == {"HTTP 503"}
    assert {r.what for r in requests} == {TOKEN, "servers", "nets"}
    assert longest_gap(requests, broke, time.monotonic()) >= 0.25
