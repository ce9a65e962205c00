"""The OpenStack services whose own migrations run against the test-bed cluster, configured
by hand: for the runs without the adaptation (a), the shipped-schema and sizing measurements.
The runs with it (b) use the program's own rendered files instead (tests/openstack/rendered.py).

What a service is comes from the program's catalog (config/catalog.yaml): its databases, and
its migration commands, which are the catalog's bootstrap lines that are plain commands
(``migration_commands``). Its PyPI release comes from ``service-pins.txt``, which
``provision_services.sh`` installs from. What stays here is the minimal config file each
manage command reads. Nothing here talks to a server.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from components.render.ndb import SERVICE_SQL_MODE
from config.catalog import FILE_MARKER, load_catalog

PINS = Path(__file__).with_name("service-pins.txt")


@dataclass(frozen=True)
class Target:
    """Where one service's databases live: a SQL node and the service's account."""

    host: str
    port: int
    user: str
    password: str
    prefix: str = ""  # prepended to every database name, e.g. for a second run side by side

    def db(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def url(self, name: str) -> str:
        return (
            f"mysql+pymysql://{self.user}:{self.password}@{self.host}:{self.port}/"
            f"{self.db(name)}?charset=utf8"
        )


def _database_section(group: str, url: str) -> str:
    # mysql_sql_mode: oslo.db's default (TRADITIONAL) includes NO_ENGINE_SUBSTITUTION, which
    # turns the server's InnoDB->NDBCLUSTER substitution into error 3161 (docs/design.md §4.3).
    return f"[{group}]\nconnection = {url}\nmysql_sql_mode = {SERVICE_SQL_MODE}\n"


def _keystone(t: Target) -> str:
    return _database_section("database", t.url("keystone"))


def _glance(t: Target) -> str:
    return _database_section("database", t.url("glance"))


def _placement(t: Target) -> str:
    # placement has its own group; it has no mysql_sql_mode option, and names no engine.
    return f"[placement_database]\nconnection = {t.url('placement')}\n"


def _nova(t: Target) -> str:
    return (
        _database_section("api_database", t.url("nova_api"))
        + _database_section("database", t.url("nova"))
        # nova-manage refuses to run without a transport URL for the cell mapping.
        + "[DEFAULT]\ntransport_url = rabbit://guest:guest@127.0.0.1:5672/\n"
    )


def _neutron(t: Target) -> str:
    return _database_section("database", t.url("neutron"))


def _heat(t: Target) -> str:
    return _database_section("database", t.url("heat"))


def _cinder(t: Target) -> str:
    return _database_section("database", t.url("cinder"))


@dataclass(frozen=True)
class Service:
    name: str
    requirement: str  # PyPI requirement, pinned
    databases: tuple[str, ...]
    config: Callable[[Target], str]
    # argv after the venv's bin folder; "{conf}" is the config file
    commands: tuple[tuple[str, ...], ...]

    @property
    def version(self) -> str:
        return self.requirement.split("==", 1)[1]

    def venv(self) -> Path:
        return venv_path(self.name, self.version)


def venv_path(name: str, version: str) -> Path:
    """Where provision_services.sh builds the venv of pin `name` at `version`."""
    cache = os.environ.get("OPENSTACK_NDB_CACHE") or str(Path.home() / ".cache/openstack-ndb")
    return Path(cache) / "openstack" / f"{name}-{version}"


@dataclass(frozen=True)
class Pin:
    service: str  # a catalog service, or a tool the tests run (the openstack CLI, ...)
    requirement: str  # PyPI requirement, pinned
    extras: tuple[str, ...]  # what only this venv gets besides it

    def venv(self) -> Path:
        return venv_path(self.service, self.requirement.split("==", 1)[1])


def read_pins(path: Path = PINS) -> dict[str, Pin]:
    """service -> its pin, in the file's order (the order the tests run the services in)."""
    pins: dict[str, Pin] = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields and not fields[0].startswith("#"):
            pins[fields[0]] = Pin(fields[0], fields[1], tuple(fields[2:]))
    return pins


# Shell that makes a bootstrap line more than one plain command: pipes, lists, redirections,
# substitutions, and ${placeholder}s only the renderer fills in.
_SHELL = frozenset("|&;<>()$`")


def is_plain_command(line: str) -> bool:
    """One command with literal arguments and {conf:...} markers only: no shell, no
    placeholder, no secret file, no environment assignment in front."""
    words = shlex.split(FILE_MARKER.sub("CONF", line))
    return (not _SHELL & set(line) and "{secret:" not in line and bool(words)
            and "=" not in words[0])


def migration_commands(lines: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    """The catalog's bootstrap lines that are plain commands, as argv templates: every
    ``--config-file {conf:X}`` becomes one ``--config-file {conf}`` (the minimal config file
    written for the run holds every section the service's files would). The other lines
    (keystone's bootstrap of the admin and its endpoints, nova's cell1 mapping) write rows,
    not schema; tests/unit/test_openstack_services.py names them, so a new one fails there."""
    out = []
    for line in lines:
        if not is_plain_command(line):
            continue
        argv: list[str] = []
        for word in shlex.split(FILE_MARKER.sub("{conf}", line)):
            if word == "{conf}" and argv[-1:] == ["--config-file"] and "{conf}" in argv:
                argv.pop()  # the same file again: drop the repeated --config-file
                continue
            argv.append(word)
        out.append(tuple(argv))
    return tuple(out)


_CONFIGS: dict[str, Callable[[Target], str]] = {
    "keystone": _keystone, "glance": _glance, "placement": _placement, "nova": _nova,
    "neutron": _neutron, "heat": _heat, "cinder": _cinder,
}


def _service(pin: Pin) -> Service:
    entry = load_catalog().services[pin.service]
    assert entry.bootstrap is not None, f"{pin.service}: no bootstrap in the catalog"
    return Service(pin.service, pin.requirement, entry.databases, _CONFIGS[pin.service],
                   migration_commands(entry.bootstrap.commands))


PINS_BY_NAME: dict[str, Pin] = read_pins()
# The catalog services with migrations; the other pins are venvs only (VENVS).
SERVICES: dict[str, Service] = {name: _service(pin) for name, pin in PINS_BY_NAME.items()
                                if name in _CONFIGS}
VENVS: dict[str, Path] = {name: pin.venv() for name, pin in PINS_BY_NAME.items()}
