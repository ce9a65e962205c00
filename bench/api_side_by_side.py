"""Benchmark (not a test): the OpenStack APIs measured with Rally on the NDB cluster and on
plain InnoDB, the same services and files, on this machine.

For each arm (tests/openstack/database_backend.py: ``innodb`` one plain MySQL 9.7 mysqld
with InnoDB and ndb_adapt off, ``ndb`` the dev stack's NDB cluster with ndb_adapt on), the
dev control plane of tests/openstack/cloud.py starts as ``make tempest`` starts it (with the
test-only compute host and volume back end), the compute resources Tempest gets are made
(an image, a flavor, a shared network), Rally 5.1.1 with rally-openstack 4.1.0 (its venv:
tests/openstack/service-pins.txt) runs bench/rally/api.yaml against it as an existing cloud,
and the cloud stops. Only the database differs between the arms.

Per scenario the figures are: iterations, failures, and the mean, median and 95th
percentile of the whole iteration's duration in seconds, over the iterations that did not
fail (Rally's own "total" row: the scenario's run and Rally's deliberate sleeps, which the
settings here make none); plus the workload's load duration (its first iteration's start to
its last one's end) in seconds.

It prints progress lines, then the Markdown table (per scenario and figure: InnoDB, NDB,
NDB/InnoDB for durations), and writes every figure with the machine and each arm's wall
seconds to the JSON file (default .bench/api-side-by-side.json) and Rally's own JSON report
of each arm beside it (.bench/api-side-by-side-rally/<arm>.json). It exits 1 if an iteration
failed on either arm (the figures are written all the same). One run on 2 cores takes about
13 minutes: per arm the cloud's start (about 2 minutes on InnoDB, 5.5 on NDB) and Rally's
task (about 2.5 to 3 minutes).

Usage: python bench/api_side_by_side.py [--arm innodb|ndb ...] [--json PATH] [--scale F]
Starts real servers on loopback addresses that make tempest and make cloud-up use too: run
it alone, `flock /tmp/openstack-ndb-real.lock .venv/bin/python bench/api_side_by_side.py`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/api_side_by_side.py` from anywhere
    sys.path.insert(0, str(ROOT))

from bench import process  # noqa: E402
from bench.report import machine, ratio  # noqa: E402
from tests.openstack.services import VENVS  # noqa: E402

ARMS = ("innodb", "ndb")
ARM_LABEL = {"innodb": "InnoDB", "ndb": "NDB"}
TASK = Path(__file__).with_name("rally") / "api.yaml"
DEFAULT_JSON = ROOT / ".bench" / "api-side-by-side.json"
# One arm's task takes 2.5-3 minutes on 2 cores; past this it is stuck (Rally.stream).
TASK_LIMIT_S = 900.0
RALLY_PIN = "rally-openstack"  # its line in tests/openstack/service-pins.txt
# The scenarios of bench/rally/api.yaml, in the table's order.
SCENARIOS = (
    "KeystoneBasic.authenticate_user_and_validate_token",
    "NeutronNetworks.create_and_delete_networks",
    "NeutronNetworks.create_and_delete_ports",
    "NovaServers.boot_and_delete_server",
)
# figure -> its unit in the table, in the table's order.
FIGURES: dict[str, str] = {
    "iterations": "count",
    "failures": "count",
    "mean_s": "s",
    "p50_s": "s",
    "p95_s": "s",
    "load_duration_s": "s",
}
# Rally's own settings. Its database is a sqlite file in the run's private folder (it holds
# the environment's spec, password included). Rally polls a booting or deleting server
# every 2 s after a 1 s sleep by default: at that grain a few tenths of a second of database
# time would not show in the boot-and-delete figure, so it polls every 0.2 s, with no sleep
# first (the same on both arms; a poll is one GET /servers/{id}).
RALLY_CONF = """\
[DEFAULT]
use_stderr = true

[database]
connection = sqlite:///{db}

[openstack]
nova_server_boot_prepoll_delay = 0
nova_server_boot_poll_interval = 0.2
nova_server_delete_poll_interval = 0.2
"""
# Rally's output lines worth showing while it runs (all of it goes to the arm's rally.log):
# each workload's title (in the config it logs), every 10th iteration, every failed one,
# each workload's load duration and end, the task's error counts.
_PROGRESS = re.compile(r'^\s+"title": "(?!A cropped)|ITER: \d*0 END|ITER: \d+ END: Error|'
                       r"Load duration is|Finished workload|has \d+ error|input file is valid")

Figures = dict[str, float]  # figure name (FIGURES) -> value
Results = dict[str, dict[str, Figures]]  # arm -> scenario -> figures


def log(message: str) -> None:
    print(f"[api] {message}", flush=True)


# --- pure: what goes into Rally, what comes out of it ------------------------------------


def env_spec(openrc: str) -> dict[str, Any]:
    """rally-openstack's existing-cloud spec (`existing@openstack`) for the admin of an
    openrc's text (`export OS_X=value` lines, as tests/openstack/cloud.py's Cloud.openrc()
    writes them). Raises KeyError naming an OS_ variable the openrc lacks."""
    values: dict[str, str] = {}
    for line in openrc.splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            key, _, value = words[1].partition("=")
            values[key] = value
    return {"existing@openstack": {
        "auth_url": values["OS_AUTH_URL"],
        "region_name": values["OS_REGION_NAME"],
        "endpoint_type": values.get("OS_INTERFACE", "public"),
        "https_insecure": False,
        "admin": {
            "username": values["OS_USERNAME"],
            "password": values["OS_PASSWORD"],
            "project_name": values["OS_PROJECT_NAME"],
            "user_domain_name": values["OS_USER_DOMAIN_NAME"],
            "project_domain_name": values["OS_PROJECT_DOMAIN_NAME"],
        },
    }}


def percentile(values: list[float], fraction: float) -> float:
    """The `fraction` (0..1) percentile of `values`, linearly interpolated between the two
    nearest ranks, as Rally's own report computes it (so the figures match its HTML)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * fraction
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def figures(report: Mapping[str, Any]) -> dict[str, Figures]:
    """Scenario name -> its figures, from `rally task report --json` (format 1.x: tasks ->
    subtasks -> workloads, each with `data`, one entry per iteration with `duration`,
    `idle_duration` and `error`). Durations in seconds, of the whole iterations (Rally's
    "total") with no error; NaN when every iteration failed. Raises ValueError for a
    report of another format."""
    version = str(report.get("info", {}).get("format_version", ""))
    if not version.startswith("1."):
        raise ValueError(f"not a Rally JSON report of format 1.x: {version!r}")
    out: dict[str, Figures] = {}
    for task in report["tasks"]:
        for subtask in task["subtasks"]:
            for workload in subtask["workloads"]:
                (name,) = workload["scenario"]  # {name: args}
                iterations = workload["data"]
                # Rally's "total": the scenario's run plus its deliberate sleeps (none here:
                # see RALLY_CONF), as its own report's first row gives it.
                ok = [float(i["duration"]) + float(i["idle_duration"])
                      for i in iterations if not i["error"]]
                out[name] = {
                    "iterations": float(len(iterations)),
                    "failures": float(len(iterations) - len(ok)),
                    "mean_s": sum(ok) / len(ok) if ok else math.nan,
                    "p50_s": percentile(ok, 0.50),
                    "p95_s": percentile(ok, 0.95),
                    "load_duration_s": float(workload["load_duration"]),
                }
    return out


def errors(report: Mapping[str, Any], limit: int = 3) -> dict[str, list[str]]:
    """Scenario name -> up to `limit` distinct errors of its failed iterations (Rally's
    `error` is [type, message, traceback]), for the log."""
    out: dict[str, list[str]] = {}
    for task in report["tasks"]:
        for subtask in task["subtasks"]:
            for workload in subtask["workloads"]:
                (name,) = workload["scenario"]
                seen = []
                for iteration in workload["data"]:
                    if iteration["error"]:
                        text = ": ".join(str(p) for p in iteration["error"][:2])
                        if text not in seen:
                            seen.append(text)
                if seen:
                    out[name] = seen[:limit]
    return out


def table(results: Results) -> str:
    """Markdown: per scenario and figure, the InnoDB and NDB values and NDB/InnoDB (counts
    as integers, seconds with 3 decimals; "-" where an arm has no figure)."""
    lines = ["| scenario | figure | InnoDB | NDB | ratio NDB/InnoDB |",
             "|---|---|---:|---:|---:|"]

    def value(arm: str, scenario: str, figure: str) -> float | None:
        return results.get(arm, {}).get(scenario, {}).get(figure)

    def cell(v: float | None, unit: str) -> str:
        if v is None or math.isnan(v):
            return "-"
        return f"{v:.0f}" if unit == "count" else f"{v:.3f} s"

    scenarios = [s for s in SCENARIOS if any(s in r for r in results.values())]
    scenarios += sorted({s for r in results.values() for s in r} - set(SCENARIOS))
    for scenario in scenarios:
        for figure, unit in FIGURES.items():
            innodb, ndb = value("innodb", scenario, figure), value("ndb", scenario, figure)
            # A ratio of counts says little (the same `times` on both arms); of failures,
            # nothing: they are read as they are.
            shown = ratio(ndb, innodb) if unit == "s" else ""
            lines.append(f"| {scenario} | {figure} | {cell(innodb, unit)} | "
                         f"{cell(ndb, unit)} | {shown} |")
    return "\n".join(lines)


# --- Rally as a process ------------------------------------------------------------------


def rally_venv() -> Path:
    venv = VENVS[RALLY_PIN]
    if not (venv / ".provisioned").is_file():
        raise SystemExit(f"no Rally venv at {venv}: run "
                         f"bash tests/openstack/provision_services.sh {RALLY_PIN}")
    return venv


def private_file(path: Path, text: str) -> Path:
    """`text` in a new file readable by its owner only from the start (no window in which
    another user could read a password); raises FileExistsError if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return path


class Rally:
    """The `rally` CLI in its own folder (made 0700: the spec and Rally's sqlite database
    hold the admin's password), which is also its HOME (Rally keeps its default env and task
    in ~/.rally) and working directory. The environment is PATH, HOME and LANG only: no
    OS_* variable of the caller's reaches it, and the password is in no argument. Every
    string of `secrets` is masked in what it logs or raises (`rally env create` prints the
    spec it was given)."""

    def __init__(self, folder: Path, secrets: tuple[str, ...] = ()) -> None:
        self.folder = folder
        self.secrets = tuple(s for s in secrets if s)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
        self.venv = rally_venv()
        self.conf = folder / "rally.conf"
        self.conf.write_text(RALLY_CONF.format(db=folder / "rally.sqlite"))
        self.log = folder / "rally.log"

    def masked(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def argv(self, *args: str) -> list[str]:
        return [str(self.venv / "bin" / "rally"), "--config-file", str(self.conf), *args]

    def env(self) -> dict[str, str]:
        return {"PATH": f"{self.venv / 'bin'}:/usr/bin:/bin", "HOME": str(self.folder),
                "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}

    def run(self, *args: str, timeout: float = 300) -> str:
        """`rally args`; its stdout. Raises RuntimeError with its output's tail if it fails."""
        done = subprocess.run(self.argv(*args), cwd=self.folder, env=self.env(), text=True,
                              capture_output=True, timeout=timeout, check=False)
        with self.log.open("a") as out:
            out.write(self.masked(f"$ rally {shlex.join(args)}\n{done.stdout}{done.stderr}"))
        if done.returncode != 0:
            raise RuntimeError(f"rally {shlex.join(args)} exited {done.returncode}:\n"
                               f"{self.masked(done.stdout + done.stderr)[-3000:]}")
        return done.stdout

    def stream(self, progress: Callable[[str], None], *args: str,
               timeout: float = TASK_LIMIT_S) -> int:
        """`rally args` with its output into rally.log and the lines _PROGRESS matches to
        `progress` as they come; its exit code. Killed after `timeout` seconds (then the
        code is negative): Rally's cleanup has been seen to page through the same server
        forever after a boot failed (a build request left behind)."""
        with self.log.open("a") as out:
            out.write(f"$ rally {shlex.join(args)}\n")

            def on_line(raw: str) -> None:
                line = self.masked(raw)
                out.write(line)
                out.flush()
                if _PROGRESS.search(line):
                    progress(f"  {line.rstrip()}"[:200])

            code = process.stream(self.argv(*args), timeout, on_line, cwd=self.folder,
                                  env=self.env())
        if code < 0:
            progress(f"  rally {args[0]} {args[1]} killed after {timeout:.0f} s")
        return code


def run_task(rally: Rally, spec: Mapping[str, Any], task_args: Mapping[str, Any],
             progress: Callable[[str], None]) -> dict[str, Any]:
    """Rally's existing-cloud environment from `spec`, checked, then bench/rally/api.yaml
    with `task_args`; Rally's JSON report of the task. Raises RuntimeError if Rally cannot
    start the task or report it (failed iterations are figures, not errors)."""
    rally.run("db", "create")
    spec_file = private_file(rally.folder / "env-spec.json", json.dumps(spec))
    rally.run("env", "create", "--name", "bench", "--spec", str(spec_file))
    rally.run("env", "check", "--env", "bench")
    args_file = rally.folder / "task-args.json"
    args_file.write_text(json.dumps(task_args))
    # 0 ran; 2 an SLA failed (none is set, but Rally's defaults may count failed iterations
    # as one): the report has the figures either way. 1: the task did not run as a whole.
    code = rally.stream(progress, "task", "start", "--env", "bench", "--task-args-file",
                        str(args_file), str(TASK))
    uuids = rally.run("task", "list", "--uuids-only").split()
    if not uuids:
        raise RuntimeError(f"rally task start exited {code} and made no task "
                           f"(see {rally.log})")
    out = rally.folder / "report.json"
    rally.run("task", "report", uuids[-1], "--json", "--out", str(out))
    report: dict[str, Any] = json.loads(out.read_text())
    if code not in (0, 2):
        progress(f"rally task start exited {code} (see {rally.log}); figures as reported")
    return report


# --- one arm: its cloud, the task, the figures -------------------------------------------


def task_args(cloud: Any, folder: Path, scale: float) -> dict[str, Any]:
    """bench/rally/api.yaml's arguments: what Tempest's compute tests get (the image, the
    flavor and the shared network of tests/openstack/tempest_run.py's compute_resources,
    made by the admin), the network by id (a name would cost a lookup in every iteration);
    `scale` multiplies every workload's `times`."""
    from tests.openstack.tempest_run import compute_resources, openstack

    folder.mkdir(parents=True, exist_ok=True)  # compute_resources writes its image there
    made = compute_resources(cloud, folder)
    shown = openstack(cloud, folder, "network", "show", made.network, "-f", "value", "-c",
                      "id")
    if shown.returncode != 0:
        raise RuntimeError(f"openstack network show {made.network}: {shown.stderr[-1500:]}")
    return {"image_id": made.image, "flavor_id": made.flavor,
            "network_id": shown.stdout.strip(), "scale": scale}


def run_arm(arm: str, folder: Path, progress: Callable[[str], None],
            seconds: dict[str, float], scale: float = 1.0
            ) -> tuple[dict[str, Figures], dict[str, Any]]:
    """One arm: its cloud started with the stand-ins, the task run, the cloud stopped. Its
    figures and Rally's report; `seconds` gets cloud_start, rally and total (wall seconds)."""
    from tests.openstack.cloud import Cloud
    from tests.openstack.cluster import dev_settings
    from tests.openstack.database_backend import backend

    settings = dev_settings()
    began = time.monotonic()
    progress(f"{ARM_LABEL[arm]}: starting the control plane")
    with Cloud(folder / "cloud", settings, database=backend(arm, settings),
               progress=lambda m: progress(f"[cloud] {m}")) as cloud:
        cloud.start()
        cloud.start_stand_ins()  # the test-only compute host (nova's fake driver)
        # A container that is not healthy would make its API's figures about its failure,
        # not about the database: no figures then.
        failed = [name for name, r in cloud.results.items() if not r.healthy]
        if failed:
            raise RuntimeError(f"{arm}: containers not healthy: {failed}\n{cloud.report()}")
        seconds["cloud_start"] = round(time.monotonic() - began)
        progress(f"{ARM_LABEL[arm]}: control plane up in {seconds['cloud_start']} s")
        args = task_args(cloud, folder / "resources", scale)
        step = time.monotonic()
        spec = env_spec(cloud.openrc())
        rally = Rally(folder / "rally", (spec["existing@openstack"]["admin"]["password"],))
        report = run_task(rally, spec, args, progress)
        seconds["rally"] = round(time.monotonic() - step)
    seconds["total"] = round(time.monotonic() - began)
    found = figures(report)
    for scenario, errs in errors(report).items():
        progress(f"{ARM_LABEL[arm]}: {scenario}: errors: {errs}")
    progress(f"{ARM_LABEL[arm]}: Rally ran {len(found)} scenarios in {seconds['rally']} s; "
             f"{seconds['total']} s with the cloud")
    return found, report


def run(arms: list[str], progress: Callable[[str], None], *,
        workdir: Path | None = None, seconds: dict[str, dict[str, float]] | None = None,
        reports: Path | None = None, scale: float = 1.0) -> Results:
    """Each arm in turn (innodb, ndb): arm -> scenario -> figure (FIGURES) -> value, counts
    as floats, durations in seconds. `workdir`: where the clouds and Rally's folders go
    (default a temporary folder, removed); `seconds` gets arm -> its wall seconds (run_arm);
    `reports`: a folder for Rally's JSON report of each arm (<arm>.json); `scale`: a
    multiplier of every workload's `times` (1: the task as written; less for a quick try)."""
    results: Results = {}
    with tempfile.TemporaryDirectory(prefix="api-side-by-side-") as tmp:
        base = workdir or Path(tmp)
        for arm in [a for a in ARMS if a in arms]:
            folder = base / arm
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            arm_seconds: dict[str, float] = {}
            results[arm], report = run_arm(arm, folder, progress, arm_seconds, scale)
            if seconds is not None:
                seconds[arm] = arm_seconds
            if reports is not None:
                reports.mkdir(parents=True, exist_ok=True)
                (reports / f"{arm}.json").write_text(json.dumps(report, indent=1))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--arm", action="append", choices=ARMS,
                        help="run only this arm (repeatable); default both, InnoDB first")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--workdir", type=Path,
                        help="keep the clouds' and Rally's folders here (default: a "
                        "temporary folder, removed)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every workload's iterations (default 1: the task's "
                        "figures; e.g. 0.1 for a quick try)")
    args = parser.parse_args(argv)
    # SIGTERM (a stopped job, a user's kill): stop the cloud with its cleanup.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    began = time.monotonic()
    seconds: dict[str, dict[str, float]] = {}
    results = run(args.arm or list(ARMS), log, workdir=args.workdir, seconds=seconds,
                  reports=args.json.with_name(f"{args.json.stem}-rally"), scale=args.scale)
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": round(time.monotonic() - began),
        "arm_seconds": seconds,
        "machine": machine(rally=VENVS[RALLY_PIN].name),
        "task": str(TASK.relative_to(ROOT)),
        "scale": args.scale,
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    # NaN (every iteration failed) is not JSON: null instead.
    clean = json.loads(json.dumps(report), parse_constant=lambda _: None)
    args.json.write_text(json.dumps(clean, indent=2) + "\n")
    print(f"\nOpenStack APIs with Rally ({TASK.relative_to(ROOT)}), NDB and InnoDB, "
          f"{report['when']}, {report['machine']['cpus']} CPUs ({report['machine']['cpu']}); "
          f"seconds per arm: {seconds}\n")
    print(table(results))
    print(f"\nevery figure: {args.json}")
    # A scenario with no successful iteration failed too: all of them erred, or the task
    # was killed before its workload reported any (Rally.stream's limit).
    failed = {arm: {s: f["failures"] for s, f in by.items()
                    if f["failures"] or math.isnan(f["mean_s"])}
              for arm, by in results.items()}
    if any(failed.values()):
        print(f"FAILED scenarios (failed iterations, or none succeeded): {failed}")
    return 1 if any(failed.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
