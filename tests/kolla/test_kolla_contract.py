"""What the program gives Kolla's images, checked against Kolla's own sources (kolla 23.0.0 =
the 2026.2 images the stacks pin; `tests/kolla/provision_kolla.sh`).

- Every image the catalog names is a Kolla image, every health check command one of Kolla's
  scripts, and uWSGI is in the image base that the `wsgi` containers need.
- Every container's rendered config.json and files go through Kolla's real
  `docker/base/set_configs.py` (what `kolla_start` runs, with KOLLA_CONFIG_STRATEGY=
  COPY_ALWAYS): each file lands at its destination with its owner and mode 0600, the files
  it writes (read back from the overlay) are exactly the ones config.json lists, and the
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

from components.render.kolla import (
    BOOTSTRAP_COMMAND,
    KOLLA_CONFIG_DIR,
    fernet_source,
)
from components.render.openstack import (
    container_command,
    file_dests,
)
from components.render.service import ContainerArtifacts, render_service
from config import build_topology
from config.catalog import load_catalog
from config.openstack_layout import ServiceContainer, ServiceLayout, build_layout
from config.service_secrets import ServiceSecrets
from testbed.pytest_support import unavailable
from tests.stacks import settings_for

VERSION = "23.0.0"
SECRETS = ServiceSecrets("db-pw", "ks-pw", "rabbit-pw", "admin-pw")

# Runs inside the private mount namespace: an overlay of / as the new root, then in it the
# users and the uploaded files; a snapshot of the overlay's upper directory; Kolla's
# set_configs.py; then the report of what it wrote (tests/kolla/overlay_report.py).
_NAMESPACE_SCRIPT = r"""
set -euo pipefail
files=$1 set_configs=$2 python=$3 users=$4 report=$5
top=$(mktemp -d)
mount -t tmpfs tmpfs "$top"
mkdir -p "$top/upper" "$top/work" "$top/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$top/upper,workdir=$top/work" "$top/root"
mount --rbind /proc "$top/root/proc"
mount --rbind /dev "$top/root/dev"
mkdir -p "$top/root/var/lib/kolla/config_files"
cp -a "$files/." "$top/root/var/lib/kolla/config_files/"
chroot "$top/root" /bin/bash -c '
  for user in '"$users"'; do id "$user" >/dev/null 2>&1 || useradd -M -r "$user"; done'
"$python" "$report" snapshot "$top/upper" >"$top/before.json"
# No .pyc files: the report would count them as written by set_configs.py.
chroot "$top/root" /usr/bin/env KOLLA_CONFIG_STRATEGY=COPY_ALWAYS PYTHONDONTWRITEBYTECODE=1 \
  "$python" "$set_configs" >&2
"$python" "$report" report "$top" "$top/before.json"
"""
REPORT = Path(__file__).with_name("overlay_report.py")
# set_configs.py writes the command to run there; kolla_start then runs it.
RUN_COMMAND = "/run_command"
# set_configs.py's own bookkeeping (KOLLA_DEFAULTS there): the image's files that config.json
# overwrites are kept under it, and which those were in its `state` file.
KOLLA_DEFAULTS = "/etc/kolla/defaults"


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


def _containers(service: ServiceLayout) -> list[ContainerArtifacts]:
    settings = settings_for("dev")
    artifacts = render_service(settings, build_topology(settings), build_layout(settings),
                               service)
    return [*([artifacts.bootstrap] if artifacts.bootstrap else []), *artifacts.containers]


def _uploads(service: ServiceLayout, container: ContainerArtifacts, workdir: Path
             ) -> tuple[Path, str, str, set[str]]:
    """The files the program uploads into the Kolla config dir of one container, plain and
    secret (rendered from SECRETS), written as they are uploaded: (dir, command, user, the
    paths the program means them to land at)."""
    spec, where = service.spec, container.placed
    if isinstance(where, ServiceContainer):
        command = container_command(spec, where)
        user = spec.containers[where.role].user
    else:  # the bootstrap container
        assert spec.bootstrap is not None
        command = BOOTSTRAP_COMMAND
        user = spec.bootstrap.user
    directory = workdir / where.name
    directory.mkdir(parents=True)
    for file in container.files:
        if file.path.startswith(KOLLA_CONFIG_DIR + "/"):
            (directory / Path(file.path).name).write_text(file.text)
    for name, text in container.render_secrets(SECRETS).items():
        (directory / name).write_text(text)
    for dest in spec.fernet_keys:
        (directory / Path(fernet_source(dest)).name).write_text("a" * 43 + "=")
    meant = {*file_dests(spec, where).values(), *spec.fernet_keys,
             *container.secret_files.values()}
    return directory, command, user, meant


@pytest.mark.parametrize("name", list(load_catalog().services))
def test_set_configs_places_every_file(name: str, tmp_path: Path) -> None:
    docker = kolla_docker()
    assert f'KOLLA_DEFAULTS = "{KOLLA_DEFAULTS}"' in (
        docker / "base" / "set_configs.py").read_text(), "set_configs.py moved its bookkeeping"
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        unavailable("needs root and unshare (a private mount namespace)")
    layout = build_layout(settings_for("dev"))
    service = layout.service(name)
    for container in _containers(service):
        where = container.placed
        directory, command, user, meant = _uploads(service, container, tmp_path)
        done = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "--fork", "bash", "-c",
             _NAMESPACE_SCRIPT, "namespace", str(directory),
             str(docker / "base" / "set_configs.py"), sys.executable, user, str(REPORT)],
            capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{where.name}:\n{done.stderr[-3000:]}"
        seen = json.loads(done.stdout.strip().splitlines()[-1])
        assert seen["run_command"] == command, where.name
        config = json.loads((directory / "config.json").read_text())
        listed = {entry["dest"] for entry in config["config_files"]}
        assert listed == meant, where.name
        # What set_configs.py wrote, read from the overlay, is what config.json lists: no
        # listed file missing, none written elsewhere (its bookkeeping aside).
        written = {p for p in seen["written"] if not p.startswith(f"{KOLLA_DEFAULTS}/")}
        assert written == listed | {RUN_COMMAND}, where.name
        for dest, info in seen["files"].items():
            assert info == {"owner": user, "mode": "0o600", "same": True}, (where.name, dest)
