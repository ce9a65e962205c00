"""The control plane's scripts, from the settings: each service's bootstrap (its migrations)
and its NDB gate. The component uploads and runs exactly these; the tests run the bootstrap
lines of the same services against the test bed, with the file paths of a temp dir."""

from __future__ import annotations

from collections.abc import Mapping

from components.render.kolla import (
    bootstrap_lines,
    render_bootstrap_script,
    render_ndb_gate_script,
)
from components.render.openstack import (
    file_dests,
    placeholders,
    secret_dest,
    template_secret_files,
)
from components.render.shell import Script
from config.catalog import FILE_MARKER, Service
from config.openstack_layout import ControlPlaneLayout, ServiceLayout, build_layout
from config.service_secrets import ServiceSecrets
from config.settings import Settings


def secret_files(service: Service, *, bootstrap: bool = True) -> dict[str, str]:
    """The {secret:<file>} files a container of the service reads - those its config
    templates name and, for the bootstrap, those its lines read: upload name -> container
    path."""
    lines = service.bootstrap.commands if service.bootstrap and bootstrap else ()
    names = {name for line in lines for kind, name in FILE_MARKER.findall(line)
             if kind == "secret"}
    return {n: secret_dest(service, n)
            for n in sorted(names | set(template_secret_files(service)))}


def container_paths(service: ServiceLayout) -> dict[str, str]:
    """{conf:x} and {secret:x} of the bootstrap lines -> their paths in the container."""
    assert service.bootstrap is not None
    paths = {f"conf:{n}": d for n, d in file_dests(service.spec, service.bootstrap).items()}
    return paths | {f"secret:{n}": d for n, d in secret_files(service.spec).items()}


def render_bootstrap(settings: Settings, layout: ControlPlaneLayout, service: ServiceLayout,
                     paths: Mapping[str, str] | None = None) -> Script:
    """The bootstrap script; `paths` replaces the container's file paths (tests)."""
    assert service.bootstrap is not None
    values = placeholders(settings, layout, service.spec, service.bootstrap, ServiceSecrets())
    lines = bootstrap_lines(service.spec, values, paths or container_paths(service))
    return render_bootstrap_script(service.spec, lines)


def control_plane_scripts(settings: Settings) -> dict[str, Script]:
    """Every script of the control plane, by a file name (for shellcheck and the tests)."""
    layout = build_layout(settings)
    out: dict[str, Script] = {}
    for service in layout.services:
        if service.bootstrap is None:
            continue
        name = service.name
        out[f"bootstrap-{name}.sh"] = render_bootstrap(settings, layout, service)
        out[f"ndb-gate-{name}.sh"] = render_ndb_gate_script(service.spec,
                                                            list(service.spec.databases))
    return out
