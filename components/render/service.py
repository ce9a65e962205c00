"""Everything one OpenStack service's containers are started with, rendered up front.

`render_service` turns a catalog entry and its layout into `ServiceArtifacts`: per container
its image, command, plain files (config.json, config files, uWSGI ini, bootstrap script, the
NDB adaptation), environment and health check, and the names of its secret files with a pure
function that renders them from the generated secrets. `OpenStackService` only wires these;
the tests run the very same texts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import ndb_adapt
from components.render.control_plane import render_bootstrap, secret_files
from components.render.kolla import (
    BOOTSTRAP_COMMAND,
    BOOTSTRAP_SCRIPT,
    KOLLA_ENV,
    fernet_source,
    kolla_source,
    render_config_json,
    render_ndb_gate_script,
)
from components.render.openstack import (
    SECRET_CONFIG,
    container_command,
    file_dests,
    has_secret_config,
    render_healthcheck,
    render_secret_files,
    render_service_files,
    secret_config_dest,
)
from components.render.registration import ServiceRegistration, service_registration
from components.render.shell import Script
from config.catalog import Service
from config.openstack_layout import ControlPlaneLayout, Placed, ServiceLayout
from config.service_secrets import ServiceSecrets
from config.settings import Settings
from config.topology import Topology


@dataclass(frozen=True)
class PlainFile:
    """A file uploaded into the container as it is: never a secret."""

    path: str
    text: str
    mode: str = "0644"


@dataclass(frozen=True)
class ContainerArtifacts:
    placed: Placed
    role: str  # the catalog's container name (api, conductor, ...), or "bootstrap"
    image: str  # the Kolla image's name (openstack.images gives registry and tag)
    label: str  # the container's org.openstack-ndb.role label
    files: tuple[PlainFile, ...]
    secret_files: dict[str, str]  # upload name under the Kolla config dir -> its dest (0600)
    render_secrets: Callable[[ServiceSecrets], dict[str, str]]  # -> secret_files' texts
    envs: tuple[str, ...]
    healthcheck: tuple[str, ...] | None  # Docker's test form, ("CMD", ...)


@dataclass(frozen=True)
class ServiceArtifacts:
    layout: ServiceLayout
    bootstrap: ContainerArtifacts | None
    ndb_gate_script: Script | None  # runs after the bootstrap, on the deploying machine
    containers: tuple[ContainerArtifacts, ...]
    registration: ServiceRegistration | None  # what it registers in keystone

    @property
    def name(self) -> str:
        return self.layout.name


def _container(settings: Settings, topology: Topology, layout: ControlPlaneLayout,
               service: ServiceLayout, where: Placed, *, role: str, image: str, user: str,
               command: str, label: str, named_secrets: dict[str, str],
               healthcheck: tuple[str, ...] | None, extra: tuple[PlainFile, ...] = (),
               env: Mapping[str, str] | None = None) -> ContainerArtifacts:
    spec = service.spec
    dests = file_dests(spec, where)
    secrets = dict(named_secrets)
    if has_secret_config(settings, topology, layout, spec, where):
        secrets[SECRET_CONFIG] = secret_config_dest(spec)
    texts = render_service_files(settings, topology, layout, spec, where=where)
    files = [PlainFile(kolla_source("config.json"),
                       render_config_json(spec, command, user, dests, secrets))]
    files += [PlainFile(kolla_source(n), texts[n], "0600") for n in dests]
    files += list(extra)
    files += [PlainFile(f"{ndb_adapt.CONTAINER_ROOT}/{path}", text)
              for path, text in ndb_adapt.files().items()]
    return ContainerArtifacts(
        placed=where, role=role, image=image, label=label, files=tuple(files),
        secret_files=secrets,
        render_secrets=SecretRenderer(settings, topology, layout, spec, where, tuple(secrets)),
        envs=tuple(f"{k}={v}" for k, v in
                   {**KOLLA_ENV, **ndb_adapt.CONTAINER_ENV, **(env or {})}.items()),
        healthcheck=healthcheck,
    )


@dataclass(frozen=True)
class SecretRenderer:
    """The secret files of one container, as a pure function of the generated secrets."""

    settings: Settings
    topology: Topology
    layout: ControlPlaneLayout
    service: Service
    where: Placed
    names: tuple[str, ...]

    def __call__(self, secrets: ServiceSecrets) -> dict[str, str]:
        return render_secret_files(self.settings, self.topology, self.layout, self.service,
                                   where=self.where, secrets=secrets, names=self.names)


def render_service(settings: Settings, topology: Topology, layout: ControlPlaneLayout,
                   service: ServiceLayout) -> ServiceArtifacts:
    """Every file, command and script of one enabled service (`layout.services`)."""
    spec = service.spec
    bootstrap = None
    gate = None
    if service.bootstrap is not None and spec.bootstrap is not None:
        rendered = render_bootstrap(settings, layout, service)
        script = PlainFile(kolla_source(BOOTSTRAP_SCRIPT), rendered.text, "0755")
        bootstrap = _container(
            settings, topology, layout, service, service.bootstrap, role="bootstrap",
            image=spec.bootstrap.image, user=spec.bootstrap.user, command=BOOTSTRAP_COMMAND,
            label=f"{spec.name}-bootstrap", named_secrets=secret_files(spec),
            healthcheck=None, extra=(script,), env=rendered.environment)
        gate = render_ndb_gate_script(spec, list(spec.databases))
    containers = []
    for placed in service.containers:
        role = spec.containers[placed.role]
        containers.append(_container(
            settings, topology, layout, service, placed, role=placed.role, image=role.image,
            user=role.user,
            command=container_command(spec, placed), label=f"{spec.name}-{role.image}",
            named_secrets=secret_files(spec, bootstrap=False),
            healthcheck=tuple(render_healthcheck(settings, layout, spec, placed))))
    return ServiceArtifacts(service, bootstrap, gate, tuple(containers),
                            service_registration(settings, layout, service))


def fernet_files(service: ServiceLayout) -> dict[str, str]:
    """Fernet key dest -> its upload path (the keys are generated once per stack)."""
    return {dest: fernet_source(dest) for dest in service.spec.fernet_keys}
