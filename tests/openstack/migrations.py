"""Run one OpenStack service's own migration commands against a MySQL-protocol server.

``prepare`` creates the service's databases and account with ``components.database`` (the
program's own functions); ``migrate`` writes the minimal config file the manage command reads
and runs the commands from the service's venv (``provision_services.sh``), with or without
the NDB adaptation (``ndb_adapt``, switched on by ``OPENSTACK_NDB_ADAPT=1``). The result
names the first failing statement and its error, parsed from the command's own traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from components.database import AdminEndpoint, ServiceAccount, create_or_adopt, drop_databases
from tests.openstack.services import Service, Target

REPO = Path(__file__).resolve().parents[2]
# What the program puts on PYTHONPATH inside the service containers (ndb_adapt/site holds
# the sitecustomize that loads the adaptation when OPENSTACK_NDB_ADAPT=1).
ADAPT_PATH = REPO / "ndb_adapt" / "site"
COMMAND_TIMEOUT_S = 1800

# SQLAlchemy wraps DB-API errors as "(pymysql.err.OperationalError) (1005, "...")" and
# prints the statement as "[SQL: ...]" (up to the next "[" line or "(Background").
_DBAPI_ERROR = re.compile(r"\(pymysql\.err\.(\w+)\) \((\d+), ['\"](.*?)['\"]\)\n", re.S)
_SQL = re.compile(r"\[SQL: (.*?)\]\n(?:\[parameters|\(Background)", re.S)
_CODES = re.compile(r"^\[ndb_adapt\] rule=failed .*?codes=\[([\d, ]*)\]", re.M)
# ndb_adapt's one line per adaptation (ndb_adapt/log.py `note`); rule=failed is no adaptation
# but a statement no rule could save.
ADAPT_LINE = re.compile(r"^\[ndb_adapt\] rule=(?P<rule>\S+) table=(?P<table>\S+) why=.*$", re.M)
FAILED_RULE = "failed"


@dataclass(frozen=True)
class StepResult:
    argv: tuple[str, ...]
    returncode: int
    seconds: float
    output: str


@dataclass(frozen=True)
class Failure:
    step: str  # the manage command, without the config path
    error_code: int | None
    error: str
    statement: str | None
    ndb_codes: tuple[int, ...] = ()  # every code behind it (message, SHOW WARNINGS)

    def summary(self) -> str:
        where = f" in: {self.statement[:300]}" if self.statement else ""
        code = f"{self.error_code} " if self.error_code is not None else ""
        return f"{self.step}: {code}{list(self.ndb_codes)} {self.error[:300]}{where}"


@dataclass
class MigrationResult:
    service: str
    adapted: bool
    steps: list[StepResult] = field(default_factory=list)
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    @property
    def adaptations(self) -> list[str]:
        """The one-line log of every rewrite ndb_adapt made, in order."""
        return [m.group(0) for s in self.steps for m in ADAPT_LINE.finditer(s.output)
                if m.group("rule") != FAILED_RULE]


def account_for(service: Service, target: Target) -> ServiceAccount:
    return ServiceAccount(target.user, "%", target.password)


def prepare(admin: AdminEndpoint, service: Service, target: Target) -> None:
    """Databases and account, exactly as the program's ServiceDatabase provider makes them."""
    create_or_adopt(admin, account_for(service, target),
                    [target.db(d) for d in service.databases])


def drop(admin: AdminEndpoint, service: Service, target: Target) -> None:
    """Drop the service's databases (the account first, so no grant keeps them)."""
    from components.database import drop_user

    drop_user(admin, target.user, "%")
    drop_databases(admin, [target.db(d) for d in service.databases])


def _argv(service: Service, template: tuple[str, ...], conf: Path) -> list[str]:
    return [str(service.venv() / "bin" / template[0]),
            *(str(conf) if part == "{conf}" else part for part in template[1:])]


def service_env(adapt: bool) -> dict[str, str]:
    """With adapt, ndb_adapt rewrites; without, it only observes: it sends every statement
    unchanged and logs the NDB codes behind a failed DDL (SHOW WARNINGS), which the MySQL
    error alone (1005, 1215, ...) does not name."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PYTHONPATH"] = str(ADAPT_PATH)
    env["OPENSTACK_NDB_ADAPT"] = "1" if adapt else "observe"
    return env


def parse_failure(step: str, output: str) -> Failure:
    errors = _DBAPI_ERROR.findall(output)
    statements = _SQL.findall(output)
    statement = " ".join(statements[-1].split()) if statements else None
    logged = _CODES.findall(output)
    codes = tuple(int(c) for c in logged[-1].split(",") if c.strip()) if logged else ()
    if errors:
        _, code, message = errors[-1]
        return Failure(step, int(code), message, statement, codes)
    tail = [line for line in output.strip().splitlines() if line.strip()][-3:]
    return Failure(step, None, " | ".join(tail), statement)


def migrate(service: Service, target: Target, workdir: Path, adapt: bool) -> MigrationResult:
    """Run every manage command in order; stop at the first that fails."""
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / f"{service.name}.conf"
    conf.write_text(service.config(target))
    result = MigrationResult(service.name, adapt)
    for template in service.commands:
        argv = _argv(service, template, conf)
        start = time.monotonic()
        try:
            done = subprocess.run(
                argv, env=service_env(adapt), cwd=workdir, capture_output=True, text=True,
                timeout=COMMAND_TIMEOUT_S, check=False,
            )
            code, output = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired as expired:
            code, output = -1, f"timed out after {COMMAND_TIMEOUT_S}s: {expired.stderr!r}"
        step = StepResult(tuple(argv), code, time.monotonic() - start, output)
        result.steps.append(step)
        (workdir / f"{service.name}-{'b' if adapt else 'a'}.log").open("a").write(
            f"$ {' '.join(template)}\n{output}\n"
        )
        if code != 0:
            result.failure = parse_failure(" ".join(p for p in template if p != "{conf}"),
                                           output)
            break
    return result
