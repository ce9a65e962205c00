"""The OpenStack service catalog (`catalog.yaml`), typed and validated.

The catalog is data shipped with the program, not stack config: a broken entry is a bug of
ours, so it is checked when loaded (and by a unit test), with the entry's key path.
"""

from __future__ import annotations

import re
import string
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from config.addressing import SERVICE_BLOCK
from config.placeholders import SECRET_PLACEHOLDERS, is_known
from config.service_secrets import SECRET_FILES

CATALOG = Path(__file__).with_name("catalog.yaml")
Port = Annotated[int, Field(ge=1, le=65535)]
# The file markers of bootstrap lines and config templates: {conf:<config file>} and
# {secret:<secret file>}, which the renderer turns into the file's path in the container.
FILE_MARKER = re.compile(r"\{(conf|secret):([\w.-]+)\}")
IDENTITY_TYPE = "identity"  # the keystone catalog type of the service every other one uses


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


# An INI option as <section>.<option>, e.g. conductor.workers or DEFAULT.rpc_workers.
IniOption = Annotated[str, Field(pattern=r"^[A-Za-z_]+\.[a-z_]+$")]
UwsgiOption = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]


class Container(Entry):
    image: str
    command: str | None = None
    wsgi: str | None = None  # module:callable served by uWSGI (components/render/openstack.py)
    env: dict[str, str] = Field(default_factory=dict)  # for the uWSGI app
    # Further options of the uWSGI ini, for what one service needs (glance's chunk limit).
    uwsgi: dict[UwsgiOption, str | int | bool] = Field(default_factory=dict)
    # A command container's INI options that take openstack.workers; [] when it runs one
    # process or a template takes ${workers}. A wsgi container's count is uWSGI's processes.
    workers: tuple[IniOption, ...] | None = None
    user: str
    api: str | None = None
    healthcheck: tuple[str, ...]

    @model_validator(mode="after")
    def _runs_something(self) -> Container:
        if (self.command is None) == (self.wsgi is None):
            raise ValueError("give exactly one of command or wsgi")
        if self.wsgi is not None and self.api is None:
            raise ValueError("a wsgi container serves an API: set api")
        if self.wsgi is None and (self.uwsgi or self.env):
            raise ValueError("uwsgi and env are for a wsgi container's uWSGI")
        # Services fork one worker per core by default (nova-conductor, heat-engine, ...):
        # every process's count must be explicit, so a command container says where it goes.
        if self.command is not None and self.workers is None:
            raise ValueError("a command container lists the options that take its worker "
                             "count (workers: [section.option, ...], [] for one process)")
        if self.wsgi is not None and self.workers is not None:
            raise ValueError("a wsgi container's worker count is uWSGI's processes: "
                             "no workers list")
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


class NdbSizing(Entry):
    """What the service's migrations were measured to create in NDB's dictionary
    (config/ndb_sizing.yaml says how; config/sizing.py turns it into config.ini limits)."""

    version: str  # the PyPI release measured
    tables: int = Field(ge=0)
    ordered_indexes: int = Field(ge=0)
    unique_hash_indexes: int = Field(ge=0)
    foreign_keys: int = Field(ge=0)
    triggers: int = Field(ge=0)
    attributes: int = Field(ge=0)


class Service(Entry):
    name: str = ""
    slot: int = Field(ge=0)  # its block of bridge addresses (config/addressing.py); never reused
    description: str
    databases: tuple[str, ...]
    database: DatabaseRef | None = None
    api_database: DatabaseRef | None = None
    keystone: KeystoneRegistration | None = None
    keystone_domain: KeystoneDomain | None = None
    authtoken: bool = False
    messaging: bool = False
    cache: bool = False
    # Sections that hold the service's keystone credentials for calling another service
    # ([placement], [neutron], ...), rendered from one credentials block.
    clients: tuple[Annotated[str, Field(pattern=r"^[a-z_]+$")], ...] = ()
    ndb_sizing: NdbSizing | None = None
    apis: dict[str, Api] = Field(default_factory=dict)
    containers: dict[str, Container]
    config_files: dict[str, ConfigFile] = Field(default_factory=dict)
    # Where the service's own files go (uWSGI ini, secret files); default: the directory of
    # its first config file.
    config_dir: Annotated[str, Field(pattern=r"^/[\w./-]*[\w-]$")] | None = None
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
        if self.databases and self.ndb_sizing is None:
            problems.append("a service with databases needs ndbSizing (config/ndb_sizing.yaml "
                            "says how to measure it)")
        main = next((f for f in self.config_files.values() if f.sections is not None), None)
        for name, c in self.containers.items():
            for option in c.workers or ():
                section, key = option.split(".", 1)
                if main is None or main.sections is None:
                    problems.append(f"containers.{name}.workers: the service has no INI "
                                    f"config file to hold {option}")
                elif key in main.sections.get(section, {}):
                    problems.append(f"containers.{name}.workers: {option} is also set in "
                                    "configFiles; it takes openstack.workers")
        if len(self.containers) >= SERVICE_BLOCK:
            problems.append(f"at most {SERVICE_BLOCK - 1} containers: a slot holds "
                            f"{SERVICE_BLOCK} addresses, one of them the bootstrap's")
        return problems

    def _text_problems(self) -> list[str]:
        problems = []
        # Secrets reach a container only as files (a secret INI option is written to the
        # service's secret config file): never in a text that previews and logs show.
        for what, text in self._shown_texts():
            leaked = SECRET_PLACEHOLDERS & set(_fields(text))
            if leaked:
                problems.append(f"{what} uses secret fields {sorted(leaked)}: only INI "
                                "options and {secret:...} files may hold secrets")
        marked = [("bootstrap line", line)
                  for line in (self.bootstrap.commands if self.bootstrap else ())]
        marked += [(f"configFiles.{n}.template", f.template)
                   for n, f in self.config_files.items() if f.template is not None]
        for what, text in marked:
            for kind, name in FILE_MARKER.findall(text):
                known = self.config_files if kind == "conf" else SECRET_FILES
                if name not in known:
                    problems.append(f"{what} names unknown {kind} file {name!r}")
        apis = set(self.apis)
        problems += [f"unknown placeholder ${{{field}}}" for text in self._texts()
                     for field in _fields(text) if not is_known(field, apis)]
        return problems

    def _shown_texts(self) -> list[tuple[str, str]]:
        texts = [(f"containers.{n}.healthcheck", " ".join(c.healthcheck))
                 for n, c in self.containers.items()]
        texts += [("a bootstrap line", line)
                  for line in (self.bootstrap.commands if self.bootstrap else ())]
        texts += [(f"configFiles.{n}.template", f.template)
                  for n, f in self.config_files.items() if f.template is not None]
        return texts

    def _texts(self) -> list[str]:
        texts = [text for _, text in self._shown_texts()]
        for file in self.config_files.values():
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
    def _consistent(self) -> Catalog:
        problems = []
        for name, service in self.services.items():
            unknown = [d for d in service.depends_on if d not in self.services]
            if unknown:
                problems.append(f"{name}.dependsOn: unknown services {unknown}")
        slots: dict[int, str] = {}
        for name, service in self.services.items():
            if service.slot in slots:
                problems.append(f"{name}.slot: {service.slot} is {slots[service.slot]}'s; "
                                "give the new entry the next free slot")
            slots.setdefault(service.slot, name)
        identity = [n for n, s in self.services.items()
                    if s.keystone is not None and s.keystone.type == IDENTITY_TYPE]
        if len(identity) != 1:
            problems.append(f"exactly one service must register as {IDENTITY_TYPE!r} "
                            f"(found {identity})")
        else:
            problems += [f"{name}.dependsOn: must list {identity[0]} (it authenticates there)"
                         for name, s in self.services.items()
                         if name != identity[0] and identity[0] not in s.depends_on
                         and (s.keystone or s.authtoken or s.clients)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def identity(self) -> Service:
        """The identity service (keystone), whose URL every other service is given."""
        return next(s for s in self.services.values()
                    if s.keystone is not None and s.keystone.type == IDENTITY_TYPE)

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


class CatalogError(ValueError):
    """The catalog file is invalid: one line per problem, `<entry>.<key path>: reason`."""

    def __init__(self, path: Path, problems: list[str]):
        self.problems = problems
        super().__init__(f"invalid service catalog {path}:\n"
                         + "\n".join(f"  {p}" for p in problems))


def load_catalog(path: Path | None = None) -> Catalog:
    """The catalog at `path` (default: CATALOG, read when called), validated once per path.

    Raises CatalogError naming each problem's entry and key path as written in the file."""
    return _load(path or CATALOG)


@cache
def _load(path: Path) -> Catalog:
    raw = yaml.safe_load(path.read_text())
    try:
        return Catalog.model_validate(
            {"services": {name: {**entry, "name": name} for name, entry in raw.items()}})
    except pydantic.ValidationError as exc:
        raise CatalogError(path, [_problem(e) for e in exc.errors()]) from None


def _problem(error: Any) -> str:
    """`keystone.containers.api.healthcheck: Field required`: the path as in the file (its
    entries are top-level keys, so the model's `services.` prefix goes)."""
    loc = [str(part) for part in error["loc"]]
    if loc[:1] == ["services"]:
        loc = loc[1:]
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{'.'.join(loc) or '(top level)'}: {message}"
