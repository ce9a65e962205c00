"""Horizon in a real browser (issue 10, item 4): Debian's headless Chromium, driven by
Playwright, at the URL users get - the API HAProxy's published Horizon port - on this
folder's running cloud (conftest.py), where Horizon runs from its rendered files like any
other container (uWSGI, its settings snippet, the image's collected and compressed static
files).

The admin logs in with the stack's password; Identity > Projects lists the admin project;
Project > Images lists an image (this module uploads a small one through glance's API unless
the admin's project already has one); the session lives in memcached (its key appears there
after the login). Each page is saved as a PNG in a kept folder, `$OPENSTACK_NDB_ARTIFACTS` or
a pytest temp dir, whose paths are printed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.openstack.cloud import Cloud, service_secrets

CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium as a test browser: headless, no sandbox (root), no GPU, and nothing it
# would fetch by itself (component updates, sync, QUIC probes, first-run pages).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PAGE_TIMEOUT_MS = 90_000  # a worker's first page loads Horizon's dashboards (2 cores)
IMAGE_NAME = "openstack-ndb-horizon-check"
# Django's cache sessions: KEY_FUNCTION's "<prefix>:<version>:<key>" of the session backend's
# "django.contrib.sessions.cache<session key>".
SESSION_KEY = ":1:django.contrib.sessions.cache{}"
# Horizon answers 5xx to a page's request only for a known catalog fault (path -> why); a fault
# that is fixed fails the test until its entry goes, as EXPECTED_FAILURES in test_containers.
KNOWN_SERVER_ERRORS: dict[str, str] = {
}


@dataclass
class Dashboard:
    """Horizon as a user reaches it, and where its screenshots go."""

    url: str  # the published URL, no trailing slash
    user: str
    password: str
    project: str
    artifacts: Path
    page: Any  # playwright's Page, logged in once `login` ran
    shots: list[Path] = field(default_factory=list)
    failed_static: list[str] = field(default_factory=list)
    statuses: dict[str, list[int]] = field(default_factory=dict)  # Horizon path -> seen

    def seen(self, url: str, status: int) -> None:
        if "/static/" in url and status >= 400:
            self.failed_static.append(f"{status} {url}")
        if url.startswith(self.url + "/"):
            path = urllib.parse.urlsplit(url).path
            self.statuses.setdefault(path, []).append(status)

    def server_errors(self) -> dict[str, list[int]]:
        """Horizon's paths that answered 5xx, except the known faults."""
        return {path: codes for path, codes in self.statuses.items()
                if path not in KNOWN_SERVER_ERRORS and max(codes) >= 500}

    def shot(self, name: str) -> Path:
        path = self.artifacts / f"{len(self.shots) + 1:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        return path


@pytest.fixture(scope="module")
def dashboard(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory,
              pytestconfig: pytest.Config) -> Iterator[Dashboard]:
    from testbed.pytest_support import unavailable

    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"no {CHROMIUM}: install Debian's chromium (.ci/run installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("no playwright: make venv installs requirements-dev.txt")
    horizon = cloud.results.get("horizon-dashboard-1")
    assert horizon is not None and horizon.healthy, (
        f"Horizon is not running: {horizon.detail[-2000:] if horizon else 'not enabled'}")
    api = next(iter(cloud.layout.service("horizon").spec.apis))
    url = cloud.localise(cloud.layout.public_url("horizon", api)).rstrip("/")
    admin = cloud.settings.openstack
    artifacts = Path(os.environ.get("OPENSTACK_NDB_ARTIFACTS")
                     or tmp_path_factory.mktemp("horizon-artifacts")) / "horizon"
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh user-data dir
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1366, "height": 900})
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        page = context.new_page()
        board = Dashboard(url, admin.admin_user,
                          service_secrets(cloud.layout.identity or "").admin_password,
                          admin.admin_project, artifacts, page)
        page.on("response", lambda r: board.seen(r.url, r.status))
        try:
            yield board
        finally:
            context.close()
            capture = pytestconfig.pluginmanager.getplugin("capturemanager")
            with capture.global_and_fixture_disabled() if capture else nullcontext():
                print("\n[horizon] screenshots:\n" + "\n".join(f"  {p}" for p in board.shots))


def test_login_page_loads_with_its_static_files(dashboard: Dashboard) -> None:
    page = dashboard.page
    response = page.goto(f"{dashboard.url}/auth/login/", wait_until="load")
    assert response is not None and response.status == 200
    assert page.locator("#id_username").is_visible()
    assert page.locator("#id_password").is_visible()
    # The compressed CSS and the scripts come from the image's collected static files,
    # served by uWSGI's static-map through the API HAProxy.
    styles = page.locator("link[rel=stylesheet]")
    assert styles.count() >= 1 and all(
        "/static/" in (styles.nth(i).get_attribute("href") or "")
        for i in range(styles.count()))
    assert page.evaluate("typeof window.horizon") == "object"  # its JavaScript ran
    dashboard.shot("login")
    assert not dashboard.failed_static, dashboard.failed_static
    assert not dashboard.server_errors(), dashboard.server_errors()


def test_admin_logs_in_and_the_session_lives_in_memcached(dashboard: Dashboard,
                                                          cloud: Cloud) -> None:
    memcached = cloud.localise(cloud.layout.memcache_servers).split(",")[0]
    before = _memcached_stats(memcached)
    page = dashboard.page
    page.goto(f"{dashboard.url}/auth/login/")
    page.fill("#id_username", dashboard.user)
    page.fill("#id_password", dashboard.password)
    page.click("#loginBtn")
    page.wait_for_url(re.compile(r".*/(project|identity|admin)/.*"))
    errors = page.locator(".alert-danger")
    assert errors.count() == 0, errors.all_inner_texts()
    dashboard.shot("logged-in")
    cookies = {c["name"]: c["value"] for c in page.context.cookies(dashboard.url)}
    assert "sessionid" in cookies, cookies.keys()
    value = _memcached_get(memcached, SESSION_KEY.format(cookies["sessionid"]))
    assert value is not None, "the session is not in memcached"
    after = _memcached_stats(memcached)
    assert int(after["total_items"]) > int(before["total_items"])
    print(f"[horizon] session {len(value)} bytes in memcached {memcached}; items "
          f"{before['curr_items']} -> {after['curr_items']}")


def test_identity_projects_lists_the_admin_project(dashboard: Dashboard) -> None:
    page = dashboard.page
    _logged_in(dashboard)
    page.goto(f"{dashboard.url}/identity/")
    table = page.locator("table#tenants")
    table.wait_for()
    assert table.get_by_role("link", name=dashboard.project, exact=True).count() == 1
    dashboard.shot("identity-projects")
    assert not dashboard.server_errors(), dashboard.server_errors()


def test_project_images_lists_an_image(dashboard: Dashboard, cloud: Cloud) -> None:
    name = _an_image_of_the_admin_project(cloud, dashboard)
    page = dashboard.page
    _logged_in(dashboard)
    page.goto(f"{dashboard.url}/project/images/")
    # The images panel is an Angular table filled from Horizon's REST API.
    page.get_by_role("link", name=name, exact=True).first.wait_for()
    page.wait_for_load_state("networkidle")  # the panel's other REST calls
    dashboard.shot("project-images")
    assert not dashboard.failed_static, dashboard.failed_static
    assert not dashboard.server_errors(), dashboard.server_errors()
    for path, why in KNOWN_SERVER_ERRORS.items():
        codes = dashboard.statuses.get(path, [])
        assert not codes or max(codes) >= 500, (
            f"{path} answers {codes} now: remove it from KNOWN_SERVER_ERRORS ({why})")
        if codes:
            print(f"[horizon] known fault, {path} answered {codes}: {why}")


# --- helpers ----------------------------------------------------------------------------


def _logged_in(dashboard: Dashboard) -> None:
    """Log in unless the browser's session already is (the tests may run alone)."""
    page = dashboard.page
    page.goto(f"{dashboard.url}/auth/login/")
    if page.locator("#id_username").count():
        page.fill("#id_username", dashboard.user)
        page.fill("#id_password", dashboard.password)
        page.click("#loginBtn")
        page.wait_for_url(re.compile(r".*/(project|identity|admin)/.*"))


def _an_image_of_the_admin_project(cloud: Cloud, dashboard: Dashboard) -> str:
    """The name of an image the admin's project sees in Project > Images: one it owns or a
    public one, else a small raw image uploaded here through glance's API (image-create,
    then its data), as the admin, through the API HAProxy's published URLs."""
    identity = cloud.localise(cloud.layout.identity_url("public"))
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": dashboard.user, "domain": {"name": "Default"},
            "password": dashboard.password}}},
        "scope": {"project": {"name": dashboard.project, "domain": {"name": "Default"}}}}}
    request = urllib.request.Request(f"{identity}/auth/tokens", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        token = response.headers["X-Subject-Token"]
        project = json.load(response)["token"]["project"]["id"]
    api = cloud.layout.service("glance").spec.keystone
    assert api is not None
    glance = cloud.localise(cloud.layout.public_url("glance", api.api)) + api.path
    headers = {"X-Auth-Token": token}

    def call(method: str, path: str, data: bytes | None = None,
             content_type: str = "application/json") -> Any:
        req = urllib.request.Request(f"{glance}{path}", data, method=method,
                                     headers={**headers, "Content-Type": content_type})
        with urllib.request.urlopen(req, timeout=120) as resp:
            text = resp.read()
        return json.loads(text) if text else None

    for image in call("GET", "/v2/images")["images"]:
        if image["status"] == "active" and (image.get("owner") == project
                                            or image.get("visibility") == "public"):
            return str(image["name"] or image["id"])
    created = call("POST", "/v2/images", json.dumps({
        "name": IMAGE_NAME, "disk_format": "raw", "container_format": "bare"}).encode())
    call("PUT", f"/v2/images/{created['id']}/file", os.urandom(64 * 1024),
         "application/octet-stream")
    assert call("GET", f"/v2/images/{created['id']}")["status"] == "active"
    return IMAGE_NAME


def _memcached(address: str, command: str) -> bytes:
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(command.encode() + b"\r\n")
        data = b""
        while not data.endswith((b"END\r\n", b"ERROR\r\n")):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def _memcached_stats(address: str) -> dict[str, str]:
    lines = _memcached(address, "stats").decode().splitlines()
    return {p[1]: p[2] for p in (line.split() for line in lines) if p[0] == "STAT"}


def _memcached_get(address: str, key: str) -> bytes | None:
    data = _memcached(address, f"get {key}")
    if not data.startswith(b"VALUE "):
        return None
    header, _, rest = data.partition(b"\r\n")
    return rest[:int(header.split()[3])]
