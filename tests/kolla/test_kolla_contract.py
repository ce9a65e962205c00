"""What the program gives Kolla's images, checked against Kolla's own sources (kolla 23.0.0 =
the 2026.2 images the stacks pin; `tests/kolla/provision_kolla.sh`).

- Every image the catalog names is a Kolla image, every health check command one of Kolla's
  scripts, and uWSGI is in the image base that the `wsgi` containers need.
- Every container's rendered config.json and files go through Kolla's real
  `docker/base/set_configs.py` (what `kolla_start` runs, with KOLLA_CONFIG_STRATEGY=
  COPY_ALWAYS): each file lands at its destination with its owner and mode 0600, and the
  command to run is ours. It runs as root in a private mount namespace on a throw-away
  overlay of `/` (so `/etc`, `/var/lib/kolla` and `/run_command` are the overlay's, and the
  service users are added there); nothing on the machine changes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.render.control_plane import container_paths, render_bootstrap, secret_files
from components.render.kolla import (
    BOOTSTRAP_COMMAND,
    BOOTSTRAP_SCRIPT,
    fernet_source,
    render_config_json,
)
from components.render.openstack import (
    ServiceSecrets,
    container_command,
    file_dests,
    render_service_files,
)
from config import build_topology
from config.catalog import load_catalog
from config.openstack_layout import Placed, ServiceContainer, ServiceLayout, build_layout
from testbed.pytest_support import unavailable
from tests.stacks import settings_for

VERSION = "23.0.0"
SECRETS = ServiceSecrets("db-pw", "ks-pw", "rabbit-pw", "admin-pw")

# Runs inside the private mount namespace: an overlay of / as the new root, then in it the
# users, the uploaded files, Kolla's set_configs.py, and a JSON report of what it made.
_NAMESPACE_SCRIPT = r"""
set -euo pipefail
files=$1 set_configs=$2 python=$3 users=$4
top=$(mktemp -d)
mount -t tmpfs tmpfs "$top"
mkdir -p "$top/upper" "$top/work" "$top/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$top/upper,workdir=$top/work" "$top/root"
mount --rbind /proc "$top/root/proc"
mount --rbind /dev "$top/root/dev"
mkdir -p "$top/root/var/lib/kolla/config_files"
cp -a "$files/." "$top/root/var/lib/kolla/config_files/"
exec chroot "$top/root" /bin/bash -c '
  set -euo pipefail
  for user in '"$users"'; do id "$user" >/dev/null 2>&1 || useradd -M -r "$user"; done
  KOLLA_CONFIG_STRATEGY=COPY_ALWAYS '"$python"' '"$set_configs"' >&2
  '"$python"' - <<"PY"
import json, os, pwd, stat
config = json.load(open("/var/lib/kolla/config_files/config.json"))
out = {"run_command": open("/run_command").read(), "files": {}}
for entry in config["config_files"]:
    st = os.stat(entry["dest"])
    out["files"][entry["dest"]] = {"owner": pwd.getpwuid(st.st_uid).pw_name,
                                   "mode": oct(stat.S_IMODE(st.st_mode)),
                                   "same": open(entry["dest"], "rb").read()
                                   == open(entry["source"], "rb").read()}
print(json.dumps(out))
PY
'
"""


def kolla_docker() -> Path:
    cache = Path(os.environ.get("OPENSTACK_NDB_CACHE") or Path.home() / ".cache/openstack-ndb")
    docker = cache / f"kolla-{VERSION}" / "kolla" / "docker"
    if not (docker / "base" / "set_configs.py").is_file():
        unavailable(f"no Kolla sources at {docker}; run tests/kolla/provision_kolla.sh")
    return docker


def image_names(docker: Path) -> set[str]:
    return {p.parent.name for p in docker.rglob("Dockerfile.j2")}


def test_catalog_images_and_health_checks_are_kollas() -> None:
    docker = kolla_docker()
    images = image_names(docker)
    base_scripts = {p.name for p in (docker / "base").iterdir()}
    for service in load_catalog().services.values():
        used = {c.image for c in service.containers.values()}
        used |= {service.bootstrap.image} if service.bootstrap else set()
        assert used <= images, f"{service.name}: {sorted(used - images)} are not Kolla images"
        for name, container in service.containers.items():
            assert container.healthcheck[0] in base_scripts, f"{service.name}.{name}"
    # The wsgi containers run `uwsgi`: Kolla installs it in every OpenStack image's base.
    assert "'uwsgi'," in (docker / "openstack-base" / "Dockerfile.j2").read_text()


def _containers(service: ServiceLayout) -> list[Placed]:
    return [*([service.bootstrap] if service.bootstrap else []), *service.containers]


def _uploads(service: ServiceLayout, where: Placed, workdir: Path) -> tuple[Path, str, str]:
    """The files the program uploads into one container: (dir, command, user)."""
    settings = settings_for("dev")
    layout = build_layout(settings)
    spec = service.service
    files = render_service_files(settings, build_topology(settings), layout, spec,
                                 where=where, secrets=SECRETS)
    secrets: dict[str, str] = {}
    if isinstance(where, ServiceContainer):
        command = container_command(spec, where)
        user = spec.containers[where.role].user
    else:  # the bootstrap container
        assert spec.bootstrap is not None
        secrets = secret_files(spec)
        command = BOOTSTRAP_COMMAND
        user = spec.bootstrap.user
        files[BOOTSTRAP_SCRIPT] = render_bootstrap(settings, layout, service,
                                                   container_paths(service)).text
    directory = workdir / where.name
    directory.mkdir(parents=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    for name in secrets:
        (directory / name).write_text(SECRETS.admin_password)
    for dest in spec.fernet_keys:
        (directory / Path(fernet_source(dest)).name).write_text("a" * 43 + "=")
    (directory / "config.json").write_text(
        render_config_json(spec, command, user, file_dests(spec, where), secrets))
    return directory, command, user


@pytest.mark.parametrize("name", list(load_catalog().services))
def test_set_configs_places_every_file(name: str, tmp_path: Path) -> None:
    docker = kolla_docker()
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        unavailable("needs root and unshare (a private mount namespace)")
    layout = build_layout(settings_for("dev"))
    service = layout.service(name)
    for where in _containers(service):
        directory, command, user = _uploads(service, where, tmp_path)
        done = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "--fork", "bash", "-c",
             _NAMESPACE_SCRIPT, "namespace", str(directory),
             str(docker / "base" / "set_configs.py"), sys.executable, user],
            capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{where.name}:\n{done.stderr[-3000:]}"
        seen = json.loads(done.stdout.strip().splitlines()[-1])
        assert seen["run_command"] == command, where.name
        config = json.loads((directory / "config.json").read_text())
        assert len(seen["files"]) == len(config["config_files"]) >= 1
        for dest, info in seen["files"].items():
            assert info == {"owner": user, "mode": "0o600", "same": True}, (where.name, dest)
