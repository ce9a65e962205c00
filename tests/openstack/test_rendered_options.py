"""Every option the program renders into a service's config files is one that the service's
release has, and none is deprecated: oslo.config ignores an option it does not know, so a
removed or misspelt option is silently without effect (glance 33 and neutron 29 have no
bind_host; neutron reads its nova endpoint from endpoint_type, not valid_interfaces).

For each OpenStack service of the dev stack, every container's plain INI files and its
secret file are checked against every option the service's PyPI venv registers for
oslo-config-generator (tests/openstack/options_probe.py, the oslo-config-validator check).
No server runs. Needs the service venvs (``make openstack-venvs``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from components.render.openstack import SECRET_CONFIG, render_service_files
from components.render.service import render_service
from config import build_topology
from config.openstack_layout import build_layout
from config.service_secrets import ServiceSecrets
from testbed.pytest_support import unavailable
from tests.openstack.services import SERVICES
from tests.stacks import settings_for

PROBE = Path(__file__).with_name("options_probe.py")
SECRETS = ServiceSecrets("db-pw", "ks-pw", "rabbit-pw", "admin-pw", "domain-pw")
# Groups the check cannot see: glance registers its reserved stores' groups at start
# (glance.common.wsgi_app.RESERVED_STORES), they are in no sample config.
EXCLUDED_GROUPS = {"glance": ["os_glance_staging_store", "os_glance_tasks_store"]}
# cinder.opts imports every backup driver to list its options; GCS's needs googleapiclient.
STUBS = {"cinder": ["googleapiclient"]}


@pytest.mark.parametrize("name", list(SERVICES))
def test_every_rendered_option_exists_in_the_release(name: str, tmp_path: Path) -> None:
    python = SERVICES[name].venv() / "bin" / "python"
    if not python.is_file():
        unavailable(f"no venv for {name}; run make openstack-venvs")
    settings = settings_for("dev")
    topology, layout = build_topology(settings), build_layout(settings)
    service = layout.service(name)
    artifacts = render_service(settings, topology, layout, service)
    ini_files = {n for n, f in service.spec.config_files.items() if f.sections is not None}
    paths: dict[str, str] = {}
    for container in [*([artifacts.bootstrap] if artifacts.bootstrap else []),
                      *artifacts.containers]:
        where = container.placed
        texts = render_service_files(settings, topology, layout, service.spec, where=where)
        texts |= container.render_secrets(SECRETS)
        for file_name, text in texts.items():
            if file_name in ini_files or file_name == SECRET_CONFIG:
                path = tmp_path / f"{where.name}--{file_name}"
                path.write_text(text)
                paths[str(path)] = f"{where.name}: {file_name}"
    request = {"files": sorted(paths), "exclude_groups": EXCLUDED_GROUPS.get(name, []),
               "stubs": STUBS.get(name, [])}
    done = subprocess.run([str(python), str(PROBE)], input=json.dumps(request),
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # The service's own options were loaded (nova.conf, glance.api, heat.common.config, ...)
    assert [n for n in result["namespaces"] if n.split(".")[0] == name], result["namespaces"]
    found = {paths[path]: {k: v for k, v in seen.items() if v}
             for path, seen in result["files"].items() if any(seen.values())}
    assert not found, json.dumps(found, indent=1)
