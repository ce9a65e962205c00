"""A service's bootstrap as the program renders it, run against the test-bed cluster.

The dev stack's config files for the service's bootstrap container come from
`components/render/openstack.py` with known secrets; the only changes are where things are:
the cluster's addresses become the test bed's (`TestCluster.localise`: the SQL endpoint is
the test bed's HAProxy), memcached's address becomes a real memcached started here, and the
container paths under the service's config directory move into a temp dir. The secret
options are in their own file in `<config dir>/<service>.conf.d/`, found by oslo.config's
default search as in the container: HOME is the config dir, so `~/<service>.conf.d` is it.
The bootstrap script is `render_bootstrap` with those paths: the catalog's very lines, with the NDB
adaptation on, run by bash with the service's PyPI venv first on PATH.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.database import AdminEndpoint, ServiceAccount, collation_for, create_or_adopt
from components.render.control_plane import render_bootstrap
from components.render.openstack import (
    config_dir,
    fernet_key,
    file_dests,
    render_service_files,
)
from components.render.registration import service_registration
from components.render.service import render_service
from config import Settings, build_topology
from config.openstack_layout import ControlPlaneLayout, build_layout
from config.service_secrets import ServiceSecrets
from testbed.cluster import TestCluster
from testbed.pytest_support import require_tool
from tests.openstack import register
from tests.openstack.migrations import COMMAND_TIMEOUT_S, service_env
from tests.openstack.services import SERVICES, VENVS
from tests.ports import free_port, wait_for_port


def secrets_for(name: str) -> ServiceSecrets:
    return ServiceSecrets(database_password=f"{name}-db-pw", keystone_password=f"{name}-ks-pw",
                          rabbitmq_password="rabbit-pw", admin_password="admin-pw-0",
                          secret_key=f"{name}-secret-key-" + "0123456789" * 5)


@dataclass(frozen=True)
class Rendered:
    root: Path
    files: dict[str, Path]  # catalog file name -> its path under root
    script: Path
    home: Path  # the service's config dir under root: oslo.config finds its .conf.d there
    environment: dict[str, str]  # the script's parameters, as the container's environment


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str
    seconds: float


class RenderedServices:
    """The dev stack's control plane, rendered for one test-bed cluster."""

    def __init__(self, settings: Settings, cluster: TestCluster, memcached: str, workdir: Path):
        self.settings = settings
        self.cluster = cluster
        self.memcached = memcached  # host:port of a real memcached
        self.workdir = workdir
        self.topology = build_topology(settings)
        self.layout: ControlPlaneLayout = build_layout(settings)
        self._keys: dict[str, str] = {}
        # rendered URL -> where it is served here (e.g. keystone behind the API HAProxy)
        self.urls: dict[str, str] = {}

    def addresses(self, text: str) -> str:
        text = self.cluster.localise(text).replace(self.layout.memcache_servers, self.memcached)
        for rendered, local in self.urls.items():
            text = text.replace(rendered, local)
        return text

    @contextmanager
    def serving_urls(self) -> Iterator[None]:
        """Set `urls` inside the block; they are gone after it, whatever happens."""
        try:
            yield
        finally:
            self.urls = {}

    def localise(self, text: str, root: Path, service: str) -> str:
        """Addresses, and the paths under the service's config directory (key repositories)
        and its state directory /var/lib/<service>/ (glance's image store)."""
        directory = config_dir(self.layout.service(service).spec)
        state = f"/var/lib/{service}/"
        return (self.addresses(text).replace(directory + "/", f"{root}{directory}/")
                .replace(state, f"{root}{state}"))

    def render(self, name: str, container: str | None = None) -> Rendered:
        """Write the files of the service's bootstrap container (or of the named container)
        and the bootstrap script under workdir/<container>."""
        service = self.layout.service(name)
        assert service.bootstrap is not None
        artifacts = render_service(self.settings, self.topology, self.layout, service)
        every = [*([artifacts.bootstrap] if artifacts.bootstrap else []), *artifacts.containers]
        this = next(c for c in every if c.placed.name == (container or c.placed.name))
        where = this.placed
        spec = service.spec
        root = self.workdir / where.name
        texts = render_service_files(self.settings, self.topology, self.layout, spec,
                                     where=where)
        files = {}
        for file_name, dest in file_dests(spec, where).items():
            path = root / dest.lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.localise(texts[file_name], root, name))
            files[file_name] = path
        paths = {f"conf:{n}": str(p) for n, p in files.items()}
        # The secret files as the container gets them: the secret options in the service's
        # .conf.d, each {secret:<file>} beside its config.
        secret_dests = this.secret_files
        for secret, text in this.render_secrets(secrets_for(name)).items():
            path = root / secret_dests[secret].lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.localise(text, root, name))
            paths[f"secret:{secret}"] = str(path)
        for dest in spec.fernet_keys:  # the program uploads RandomBytes keys, made once
            path = root / dest.lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self._keys.setdefault(
                dest, fernet_key(base64.b64encode(os.urandom(32)).decode())))
        script = root / "bootstrap.sh"  # written for the bootstrap container only
        environment: dict[str, str] = {}
        if this.role == "bootstrap":
            bootstrap = render_bootstrap(self.settings, self.layout, service, paths)
            script.write_text(self.addresses(bootstrap.text))
            environment = bootstrap.environment
        return Rendered(root, files, script, root / config_dir(spec).lstrip("/"), environment)

    def prepare(self, name: str, admin: AdminEndpoint) -> None:
        """The service's databases and account, as its ServiceDatabase makes them."""
        spec = self.layout.service(name).spec
        account = ServiceAccount(spec.db_user, "%", secrets_for(name).database_password)
        charset = self.settings.openstack.database_charset
        create_or_adopt(admin, account, list(spec.databases), charset, collation_for(charset))

    def migrate(self, name: str, admin: AdminEndpoint) -> Run:
        """Databases and account, then the rendered bootstrap: what a deployment does before
        the service's containers start. Idempotent, like the deployment's re-runs."""
        self.prepare(name, admin)
        return self.bootstrap(name, self.render(name))

    @contextmanager
    def serve(self, name: str, container: str, *, without: tuple[str, ...] = ()
              ) -> Iterator[str]:
        """The container's rendered files under uWSGI (its `wsgi` module, the rendered ini);
        yields the base URL. `without`: ini lines to leave out (a control run only)."""
        rendered = self.render(name, container)
        files = rendered.files
        spec = self.layout.service(name).spec
        main = files[next(n for n, f in spec.config_files.items() if f.sections is not None)]
        # In the container the app finds its config in /etc/<service>; here it is told where.
        where = {"keystone": {"OS_KEYSTONE_CONFIG_FILES": str(main)},
                 "glance": {"OS_GLANCE_CONFIG_DIR": str(main.parent)},
                 "placement": {"OS_PLACEMENT_CONFIG_DIR": str(main.parent)}}[name]
        env = {**service_env(adapt=True), **where, "HOME": str(rendered.home)}
        venv = SERVICES[name].venv()
        # What the Kolla image has in the config dir already: the service's own etc/ files
        # (glance's glance-api-paste.ini, which glance 33 loads its pipeline from). pip puts
        # the same files in the venv's etc/<service>/.
        for shipped in (venv / "etc" / name).glob("*-paste.ini"):
            if not (main.parent / shipped.name).exists():
                shutil.copy(shipped, main.parent / shipped.name)
        ini = next(path for file, path in files.items() if file.startswith("uwsgi-"))
        # The rendered `uid` (the container's user; tests/openstack/cloud.py runs as it) names
        # a user this host does not have: these runs stay the test's user.
        with uwsgi_serving(venv, ini, env, without=("uid ", "uid=", *without)) as url:
            yield url

    def register(self, name: str, keystone_url: str) -> None:
        """`name`'s registration as the program describes it (tests/openstack/register.py),
        through the keystone at `keystone_url`."""
        described = service_registration(self.settings, self.layout, self.layout.service(name))
        assert described is not None, f"{name} registers nothing"
        password = self.workdir / "admin-password"
        password.write_text(secrets_for("keystone").admin_password)
        own = self.workdir / f"{name}-keystone-password"
        own.write_text(secrets_for(name).keystone_password)
        register.invoke(VENVS["openstackclient"] / "bin" / "python", "register",
                        described.as_json(),
                        register.admin_auth(self.settings.openstack, f"{keystone_url}/v3",
                                            password),
                        self.workdir / "registration", own)

    def keystone_client(self, command: str, url: str, *args: str) -> dict[str, Any]:
        """tests/openstack/keystone_client.py in keystone's venv, as the stack's admin."""
        admin = self.settings.openstack
        password = self.workdir / "admin-password"
        password.write_text(secrets_for("keystone").admin_password)
        done = subprocess.run(
            [str(SERVICES["keystone"].venv() / "bin" / "python"),
             str(Path(__file__).with_name("keystone_client.py")), command, f"{url}/v3",
             admin.admin_user, admin.admin_project, str(password), *args],
            env=service_env(adapt=True), capture_output=True, text=True, timeout=300,
            check=False)
        assert done.returncode == 0, done.stderr[-4000:]
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    def bootstrap(self, name: str, rendered: Rendered) -> Run:
        venv = SERVICES[name].venv()
        env = {**service_env(adapt=True), **rendered.environment}
        env["HOME"] = str(rendered.home)  # oslo.config: ~/<service>.conf.d, the secrets
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        start = time.monotonic()
        done = subprocess.run(["bash", str(rendered.script)], env=env, cwd=rendered.root,
                              capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
                              check=False)
        output = done.stdout + done.stderr
        (rendered.root / "bootstrap.log").write_text(output)
        return Run(done.returncode, output, time.monotonic() - start)


@contextmanager
def memcached(host: str) -> Iterator[str]:
    """A real memcached (Debian's) on host, stopped afterwards; yields host:port."""
    port = free_port(host)
    argv = [require_tool("memcached"), "-l", host, "-p", str(port), "-U", "0", "-m", "64"]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(host, port, timeout=10, what="memcached",
                      alive=lambda: proc.poll() is None)
        yield f"{host}:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def uwsgi_serving(venv: Path, ini: Path, env: dict[str, str], host: str = "127.0.0.1", *,
                  without: tuple[str, ...] = ()) -> Iterator[str]:
    """uWSGI (from the service's venv) serving the rendered ini, its http-socket moved to a
    free local port; yields the base URL. The ini is otherwise the container's, less the
    lines starting with one of `without`."""
    port = free_port(host)
    lines = [f"http-socket = {host}:{port}" if line.startswith("http-socket = ") else line
             for line in ini.read_text().splitlines()
             if not (without and line.startswith(without))]
    local = ini.with_name(f"local-{ini.name}")
    local.write_text("\n".join(lines) + "\n")
    log = ini.with_name(f"{ini.stem}.log")
    with log.open("w") as out:
        proc = subprocess.Popen([str(venv / "bin" / "uwsgi"), "--ini", str(local)], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(host, port, timeout=120, what=f"uWSGI with {local}",
                      alive=lambda: proc.poll() is None,
                      details=lambda: log.read_text()[-3000:])
        yield f"http://{host}:{port}"
    finally:
        proc.terminate()  # die-on-term in the rendered ini: SIGTERM stops master and workers
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
