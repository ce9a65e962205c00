"""The OpenStack service catalog (`catalog.yaml`), typed and validated.

The catalog is data shipped with the program, not stack config: a broken entry is a bug of
ours, so it is checked when loaded (and by a unit test), with the entry's key path.
"""

from __future__ import annotations

import re
import string
from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

CATALOG = Path(__file__).with_name("catalog.yaml")
Port = Annotated[int, Field(ge=1, le=65535)]
# The bootstrap lines' file markers: {conf:<config file>} and {secret:<secret file>}.
FILE_MARKER = re.compile(r"\{(conf|secret):([\w.-]+)\}")
# What the renderer can fill in (components/render/openstack.py, `placeholders`).
PLACEHOLDERS = frozenset({
    "bind_host", "api_port", "keystone_internal_url", "keystone_public_url", "region",
    "memcache_servers", "transport_url", "service_password", "public_host", "admin_user",
    "admin_project", "domain_admin_password",
})
SECRET_FILES = frozenset({"admin-password"})
# Secrets never enter a bootstrap line (the script is shown in previews): {secret:x} files only.
SECRET_PLACEHOLDERS = frozenset({"service_password", "transport_url", "domain_admin_password"})


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, frozen=True)


class DatabaseRef(Entry):
    database: str
    section: str = "database"


class KeystoneRegistration(Entry):
    type: str
    api: str
    path: str = ""


class KeystoneDomain(Entry):
    """A keystone domain the service owns (heat's stack users), with its administrator and
    the roles the service expects to exist."""

    name: str
    admin: str
    roles: tuple[str, ...] = ()


class Api(Entry):
    port: Port
    backend_port: Port


class Container(Entry):
    image: str
    command: str | None = None
    wsgi: str | None = None  # module:callable served by uWSGI (components/render/openstack.py)
    env: dict[str, str] = Field(default_factory=dict)  # for the uWSGI app
    user: str
    api: str | None = None
    healthcheck: tuple[str, ...]

    @model_validator(mode="after")
    def _runs_something(self) -> Container:
        if (self.command is None) == (self.wsgi is None):
            raise ValueError("give exactly one of command or wsgi")
        if self.wsgi is not None and self.api is None:
            raise ValueError("a wsgi container serves an API: set api")
        return self


class ConfigFile(Entry):
    dest: str
    sections: dict[str, dict[str, str | int | bool]] | None = None
    template: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ConfigFile:
        if (self.sections is None) == (self.template is None):
            raise ValueError("give exactly one of sections (INI) or template (text)")
        return self


class Bootstrap(Entry):
    image: str
    user: str
    commands: tuple[str, ...]


class Service(Entry):
    name: str = ""
    description: str
    databases: tuple[str, ...]
    database: DatabaseRef | None = None
    api_database: DatabaseRef | None = None
    keystone: KeystoneRegistration | None = None
    keystone_domain: KeystoneDomain | None = None
    authtoken: bool = False
    messaging: bool = False
    cache: bool = False
    placement_client: bool = False
    nova_client: bool = False
    neutron_client: bool = False
    apis: dict[str, Api] = Field(default_factory=dict)
    containers: dict[str, Container]
    config_files: dict[str, ConfigFile] = Field(default_factory=dict)
    bootstrap: Bootstrap | None = None
    depends_on: tuple[str, ...] = ()
    fernet_keys: tuple[str, ...] = ()

    @property
    def db_user(self) -> str:
        return self.name

    @property
    def database_refs(self) -> tuple[DatabaseRef, ...]:
        return tuple(r for r in (self.database, self.api_database) if r is not None)

    @model_validator(mode="after")
    def _consistent(self) -> Service:
        problems = self._reference_problems() + self._text_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _reference_problems(self) -> list[str]:
        problems = [f"database {ref.database!r} is not in databases"
                    for ref in self.database_refs if ref.database not in self.databases]
        if self.keystone is not None and self.keystone.api not in self.apis:
            problems.append(f"keystone.api {self.keystone.api!r} is not in apis")
        problems += [f"containers.{name}.api {c.api!r} is not in apis"
                     for name, c in self.containers.items()
                     if c.api is not None and c.api not in self.apis]
        if self.databases and self.bootstrap is None:
            problems.append("a service with databases needs a bootstrap (its migrations)")
        return problems

    def _text_problems(self) -> list[str]:
        problems = []
        for line in self.bootstrap.commands if self.bootstrap else ():
            leaked = SECRET_PLACEHOLDERS & set(_fields(line))
            if leaked:
                problems.append(f"bootstrap line uses secret fields {sorted(leaked)}")
            for kind, name in FILE_MARKER.findall(line):
                known = self.config_files if kind == "conf" else SECRET_FILES
                if name not in known:
                    problems.append(f"bootstrap line names unknown {kind} file {name!r}")
        ports = {f"port_{a}" for a in self.apis}
        problems += [f"unknown placeholder ${{{field}}}" for text in self._texts()
                     for field in _fields(text) if field not in PLACEHOLDERS | ports]
        return problems

    def _texts(self) -> list[str]:
        texts = [" ".join(c.healthcheck) for c in self.containers.values()]
        texts += list(self.bootstrap.commands if self.bootstrap else ())
        for file in self.config_files.values():
            if file.template is not None:
                texts.append(file.template)
            for options in (file.sections or {}).values():
                texts += [str(v) for v in options.values()]
        return texts


def _fields(text: str) -> list[str]:
    return [named or braced for _, named, braced, _ in string.Template.pattern.findall(text)
            if named or braced]


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    services: dict[str, Service]

    @model_validator(mode="after")
    def _dependencies_known(self) -> Catalog:
        for name, service in self.services.items():
            unknown = [d for d in service.depends_on if d not in self.services]
            if unknown:
                raise ValueError(f"{name}.dependsOn: unknown services {unknown}")
        return self

    def ordered(self, enabled: tuple[str, ...]) -> tuple[Service, ...]:
        """The enabled services, each after the services it depends on (catalog order)."""
        done: list[str] = []

        def visit(name: str) -> None:
            if name in done:
                return
            for dep in self.services[name].depends_on:
                if dep in enabled:
                    visit(dep)
            done.append(name)

        for name in self.services:
            if name in enabled:
                visit(name)
        return tuple(self.services[n] for n in done)


@cache
def load_catalog(path: Path = CATALOG) -> Catalog:
    raw = yaml.safe_load(path.read_text())
    return Catalog.model_validate(
        {"services": {name: {**entry, "name": name} for name, entry in raw.items()}})
