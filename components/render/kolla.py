"""What a Kolla container is started with: config.json, and the scripts of the bootstrap step.

Kolla's start contract (openstack/kolla docker/base/set_configs.py and start.sh): the image
runs `kolla_start`, which reads /var/lib/kolla/config_files/config.json, copies each
`config_files` entry from `source` to `dest` with its owner and mode, applies `permissions`,
and execs `command` (split on blanks, no shell). The program uploads the rendered files into
/var/lib/kolla/config_files/ and sets KOLLA_CONFIG_STRATEGY=COPY_ALWAYS, so every start copies
them afresh. Secrets are files with mode 0600 owned by the service user, never environment.
"""

from __future__ import annotations

import json
import re
import shlex
import string
from collections.abc import Mapping

from components.render.shell import Script, script_file
from config.catalog import FILE_MARKER, Service

KOLLA_CONFIG_DIR = "/var/lib/kolla/config_files"
KOLLA_ENV = {"KOLLA_CONFIG_STRATEGY": "COPY_ALWAYS"}
BOOTSTRAP_SCRIPT = "openstack-ndb-bootstrap.sh"
BOOTSTRAP_COMMAND = f"bash {KOLLA_CONFIG_DIR}/{BOOTSTRAP_SCRIPT}"  # the one-shot's command


def kolla_source(name: str) -> str:
    """Where an uploaded file sits before kolla_start copies it."""
    return f"{KOLLA_CONFIG_DIR}/{name}"


def fernet_source(dest: str) -> str:
    return kolla_source("fernet-" + dest.strip("/").replace("/", "-"))


def render_config_json(service: Service, command: str, user: str,
                       config_files: Mapping[str, str], secret_files: Mapping[str, str]) -> str:
    """config.json for one container: its config files and the named secret files (upload
    name -> dest) copied into place, owned by `user`, mode 0600, and the service's keys."""
    files = [{"source": kolla_source(name), "dest": dest, "owner": user, "perm": "0600"}
             for name, dest in config_files.items()]
    files += [{"source": kolla_source(name), "dest": dest, "owner": user, "perm": "0600"}
              for name, dest in secret_files.items()]
    files += [{"source": fernet_source(dest), "dest": dest, "owner": user, "perm": "0600"}
              for dest in service.fernet_keys]
    document = {
        "command": command,
        "config_files": files,
        "permissions": [{"path": f"/var/log/kolla/{service.name}", "owner": f"{user}:{user}",
                         "recurse": True}],
    }
    return json.dumps(document, indent=2) + "\n"


def bootstrap_lines(service: Service, values: Mapping[str, str],
                    paths: Mapping[str, str]) -> list[str]:
    """The catalog's bootstrap lines with ${name} fields filled and {conf:x}/{secret:x} set to
    `paths` ("conf:keystone.conf" -> a path): the container's paths in a deployment, a temp
    dir's in the tests, which run these very lines."""
    assert service.bootstrap is not None
    out = []
    for line in service.bootstrap.commands:
        filled = string.Template(line).substitute(values)
        out.append(FILE_MARKER.sub(lambda m: shlex.quote(paths[f"{m[1]}:{m[2]}"]), filled))
    return out


def render_bootstrap_script(service: Service, lines: list[str]) -> Script:
    """The one-shot migration container's command: scripts/bootstrap-prelude.sh, then each
    catalog line in order after a `step` line that logs it, stopping at the first failure.
    The container's exit code is what the NDB gate reads first. The lines are data from the
    catalog, so they are generated; what a step line shows is masked here, in Python, so the
    text of a secret (or of the expression that reads it) never reaches the log."""
    steps = []
    for number, line in enumerate(lines, 1):
        shown = re.sub(r"\s+", " ", line)
        shown = re.sub(r'OS_BOOTSTRAP_PASSWORD="[^"]*"', "OS_BOOTSTRAP_PASSWORD=...", shown)
        steps.append(f"step {number} {len(lines)} {shlex.quote(shown)}\n{line}\n")
    return Script(
        script_file("bootstrap-prelude.sh") + "\n" + "".join(steps) + "log finished\n",
        {"BOOTSTRAP_SERVICE": service.name},
    )


def render_ndb_gate_script(service: Service, schemas: list[str]) -> Script:
    """After the bootstrap container: scripts/service-ndb-gate.sh, which fails with its log
    tail if it failed, else runs ndb_fit on `schemas`. Runs on the deploying machine; the
    component adds MIGRATION_EXIT_CODE, MIGRATION_CONTAINER, DOCKER_HOST and NDB_FIT_*."""
    return Script(script_file("service-ndb-gate.sh"),
                  {"NDB_GATE_SERVICE": service.name, "NDB_FIT_SCHEMAS": " ".join(schemas)})
