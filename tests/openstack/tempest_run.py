"""`make tempest`: Tempest against the harness's control plane, on InnoDB (arm A) and on NDB
(arm B), with nothing else changed.

Per arm, the control plane of tests/openstack/cloud.py starts on that arm's database
(tests/openstack/database_backend.py: arm A one plain MySQL 9.7 mysqld with InnoDB and
ndb_adapt off, arm B the dev stack's NDB cluster with ndb_adapt on) from the same venvs and
rendered files; tempest.conf comes from one template (tests/openstack/tempest_conf.py); each
area's selection (tests/openstack/tempest/<area>.txt, less exclude.txt) is listed once and
partitioned once - whole classes, two workers - and both arms run that very list and
partition (`tempest run --load-list --worker-file`), the runner under `nice`.

A test is an **NDB regression** when it passes on A and fails on B twice: in B's run and in
one more serial rerun of B's failures that passed on A (B-only failures). Results: per arm
and area `results.json` (every test's status, its error for failures), and `summary.json`
plus `summary.md` (per area passed/failed/skipped and wall time on A and B, and every B-only
failure with its error), under `.tempest/` unless told otherwise.

    python -m tests.openstack.tempest_run --arm innodb --arm ndb --area identity
    python -m tests.openstack.tempest_run --compare-only   # the table from saved results

Starts real servers: run it alone (`flock /tmp/openstack-ndb-real.lock make tempest`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `python -m tests.openstack.tempest_run` from anywhere
    sys.path.insert(0, str(ROOT))

from tests.openstack import tempest_conf  # noqa: E402
from tests.openstack.openstack_cli import Cli  # noqa: E402
from tests.openstack.services import VENVS  # noqa: E402

SELECTIONS = Path(__file__).with_name("tempest")
ARMS = ("innodb", "ndb")  # A, then B
# make tempest's areas (smoke, the slice make test runs, is a selection of its own)
AREAS = ("identity", "image", "network", "orchestration", "compute", "volume")
ARM_LABEL = {"innodb": "A (InnoDB)", "ndb": "B (NDB)"}
WORKERS = 2  # --concurrency 2 on 2 cores, as one fixed partition
NICE = 10
PASSED = ("success", "xfail")
FAILED = ("fail", "uxsuccess")
# Parses a subunit v2 stream (stdin) in the tempest venv: test id -> status, seconds, error.
_PARSE_SUBUNIT = r"""
import json, sys
import subunit, testtools
out = {}
def on_test(test):
    details = test["details"]
    text = ""
    for key in ("traceback", "reason"):
        if key in details:
            text = details[key].as_text()
            break
    stamps = [t for t in test["timestamps"] if t is not None]
    secs = (stamps[-1] - stamps[0]).total_seconds() if len(stamps) == 2 else None
    out[test["id"]] = {"status": test["status"], "seconds": secs, "error": text[-6000:]}
result = testtools.StreamToDict(on_test)
result.startTestRun()
subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout").run(result)
result.stopTestRun()
json.dump(out, sys.stdout)
"""
_ATTRS = re.compile(r"\[[^\]]*\]$")
_CLASS_FIXTURE = re.compile(r"^(setUpClass|tearDownClass) \((.+)\)$")


def log(message: str) -> None:
    print(f"[tempest] {message}", flush=True)


def tempest_venv() -> Path:
    venv = VENVS["tempest"]
    if not (venv / ".provisioned").is_file():
        raise SystemExit(f"no tempest venv at {venv}: run "
                         "bash tests/openstack/provision_services.sh tempest")
    return venv


def class_of(test_id: str) -> str:
    """tempest.api.identity.admin.v3.test_users.UsersV3TestJSON.test_x[id-...] -> the class;
    a class fixture's id ("setUpClass (module.Class)") -> that class."""
    fixture = _CLASS_FIXTURE.match(test_id)
    if fixture:
        return fixture.group(2)
    return _ATTRS.sub("", test_id).rsplit(".", 1)[0]


def partition(test_ids: list[str], workers: int = WORKERS) -> list[list[str]]:
    """Whole classes to workers, biggest first, each to the worker with fewest tests: the
    same list always gives the same partition (tempest's per-class credentials and
    fixtures stay in one process)."""
    by_class: dict[str, int] = defaultdict(int)
    for test_id in test_ids:
        by_class[class_of(test_id)] += 1
    loads = [0] * workers
    out: list[list[str]] = [[] for _ in range(workers)]
    for name, count in sorted(by_class.items(), key=lambda kv: (-kv[1], kv[0])):
        worker = loads.index(min(loads))
        loads[worker] += count
        out[worker].append(name)
    return out


def worker_file(classes: list[list[str]]) -> str:
    """stestr's worker file (YAML): one regex per class, anchored on its dotted name."""
    lines = []
    for worker in classes:
        lines.append("- worker:")
        lines += [f"  - '^{re.escape(name)}\\.'" for name in sorted(worker)]
    return "\n".join(lines) + "\n"


def summarise(results: dict[str, dict[str, Any]]) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "skipped": 0, "other": 0}
    for entry in results.values():
        status = entry["status"]
        key = ("passed" if status in PASSED else "failed" if status in FAILED
               else "skipped" if status == "skip" else "other")
        counts[key] += 1
    return counts


def passed(results: dict[str, dict[str, Any]]) -> list[str]:
    """The tests that passed, sorted (what `passed.txt` of an area's run lists)."""
    return sorted(t for t, e in results.items() if e["status"] in PASSED)


def b_only_failures(a: dict[str, dict[str, Any]],
                    b: dict[str, dict[str, Any]]) -> list[str]:
    """The tests that failed on B and passed on A."""
    return sorted(t for t, e in b.items()
                  if e["status"] in FAILED and a.get(t, {}).get("status") in PASSED)


def per_test(stream: dict[str, dict[str, Any]], listed: list[str]) -> dict[str, dict[str, Any]]:
    """Every listed test's outcome. A test the stream does not name did not run because its
    class fixture (setUpClass) failed or skipped the class: it takes that fixture's status
    and error, so that the counts add up to the list on both arms."""
    fixtures = {class_of(t): e for t, e in stream.items() if _CLASS_FIXTURE.match(t)}
    out = {}
    for test_id in listed:
        fixture = fixtures.get(class_of(test_id))
        if test_id in stream:
            out[test_id] = stream[test_id]
        elif fixture is not None:
            out[test_id] = {**fixture, "seconds": None,
                            "error": f"(class fixture) {fixture['error']}"}
        else:
            out[test_id] = {"status": "missing", "seconds": None,
                            "error": "not in the run's subunit stream"}
    return out


@dataclass
class Workspace:
    """A tempest workspace (`tempest init`) in `folder`, with its tempest.conf."""

    folder: Path
    venv: Path

    def run(self, *args: str, capture: bool = False,
            progress: Path | None = None) -> subprocess.CompletedProcess[str]:
        argv = ["nice", "-n", str(NICE), str(self.venv / "bin" / args[0]), *args[1:]]
        env = {**os.environ, "PATH": f"{self.venv / 'bin'}:{os.environ['PATH']}",
               "HOME": str(self.folder), "PYTHONUNBUFFERED": "1"}
        if progress is None:
            return subprocess.run(argv, cwd=self.folder, env=env, text=True, check=False,
                                  capture_output=capture)
        # Progress as it comes (tempest's subunit-trace lines), and into a log.
        with progress.open("a") as out, subprocess.Popen(
                argv, cwd=self.folder, env=env, text=True, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                out.flush()
                if line.strip():
                    print(f"  {line.rstrip()}"[:200], flush=True)
            code = proc.wait()
        return subprocess.CompletedProcess(argv, code, "", "")

    def last_results(self) -> dict[str, dict[str, Any]]:
        """The last stestr run's tests, from its subunit stream."""
        stream = subprocess.run([str(self.venv / "bin" / "stestr"), "last", "--subunit"],
                                cwd=self.folder, capture_output=True, check=False)
        parsed = subprocess.run([str(self.venv / "bin" / "python"), "-c", _PARSE_SUBUNIT],
                                input=stream.stdout, capture_output=True, check=True)
        results: dict[str, dict[str, Any]] = json.loads(parsed.stdout)
        return results


def workspace(folder: Path, conf_text: str) -> Workspace:
    venv = tempest_venv()
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(venv / "bin" / "tempest"), "init", "--workspace-path",
         str(folder.parent / "workspaces.yaml"), "--name", folder.name, str(folder)],
        capture_output=True, text=True, check=False, env={**os.environ, "HOME": str(folder.parent)})
    if done.returncode != 0:
        raise RuntimeError(f"tempest init failed:\n{done.stdout}{done.stderr}")
    tempest_conf.write(folder / "etc" / "tempest.conf", conf_text)
    for line in conf_text.splitlines():  # log_dir and lock_path: tempest makes neither
        key, _, value = line.partition(" = ")
        if key in ("log_dir", "lock_path"):
            Path(value).mkdir(parents=True, exist_ok=True)
    return Workspace(folder, venv)


def selection(ws: Workspace, area: str, out: Path) -> tuple[Path, Path]:
    """The area's test list and worker file: listed and partitioned once, then reused, so
    that both arms run the very same tests in the same partition (a changed selection file
    is another folder)."""
    include = SELECTIONS / f"{area}.txt"
    exclude = SELECTIONS / "exclude.txt"
    if not include.is_file():
        known = sorted(p.stem for p in SELECTIONS.glob("*.txt") if p.stem != "exclude")
        raise SystemExit(f"no selection {include} (areas: {', '.join(known)})")
    digest = hashlib.sha256(include.read_bytes() + exclude.read_bytes()).hexdigest()[:12]
    out = out.with_name(f"{out.name}-{digest}")
    tests, workers = out / "tests.txt", out / "workers.yaml"
    if tests.is_file() and workers.is_file():
        return tests, workers
    listed = ws.run("tempest", "run", "--list-tests", "--include-list", str(include),
                    "--exclude-list", str(exclude), capture=True)
    if listed.returncode != 0:
        raise RuntimeError(f"tempest run --list-tests failed:\n{listed.stdout}{listed.stderr}")
    ids = sorted({line.strip() for line in listed.stdout.splitlines()
                  if re.match(r"^[\w.]+\.test\w*", line.strip())})
    if not ids:
        raise RuntimeError(f"{area}: the selection lists no test:\n{listed.stdout[-2000:]}")
    out.mkdir(parents=True, exist_ok=True)
    tests.write_text("\n".join(ids) + "\n")
    workers.write_text(worker_file(partition(ids)))
    log(f"{area}: {len(ids)} tests in {len(partition(ids)[0])}+{len(partition(ids)[1])} "
        f"classes on {WORKERS} workers ({tests})")
    return tests, workers


def run_area(ws: Workspace, area: str, arm: str, out: Path, saved: Path) -> dict[str, Any]:
    """One area on one arm: the run, then on B a serial rerun of the B-only failures."""
    tests, workers = selection(ws, area, saved / area)
    folder = out / area
    folder.mkdir(parents=True, exist_ok=True)
    count = len(tests.read_text().split())
    log(f"{ARM_LABEL[arm]} {area}: {count} tests, {WORKERS} workers, nice {NICE}")
    began = time.monotonic()
    ws.run("tempest", "run", "--load-list", str(tests), "--worker-file", str(workers),
           progress=folder / "run.log")
    wall = time.monotonic() - began
    stream = ws.last_results()
    results = per_test(stream, tests.read_text().split())
    record: dict[str, Any] = {"arm": arm, "area": area, "wall_seconds": round(wall),
                              "counts": summarise(results), "results": results, "rerun": {},
                              "fixtures": {t: e for t, e in stream.items()
                                           if _CLASS_FIXTURE.match(t)}}
    if arm == "ndb":
        baseline = out.parent / "innodb" / area / "results.json"
        if baseline.is_file():
            suspects = b_only_failures(json.loads(baseline.read_text())["results"], results)
        else:  # no arm A yet: every failure gets its second chance
            suspects = sorted(t for t, e in results.items() if e["status"] in FAILED)
        record["rerun"] = rerun(ws, suspects, folder)
    (folder / "results.json").write_text(json.dumps(record, indent=1))
    (folder / "passed.txt").write_text("".join(f"{t}\n" for t in passed(results)))
    log(f"{ARM_LABEL[arm]} {area}: {record['counts']} in {wall:.0f} s")
    return record


def rerun(ws: Workspace, suspects: list[str], folder: Path) -> dict[str, dict[str, Any]]:
    """The suspects once more, serially."""
    if not suspects:
        return {}
    load = folder / "rerun.txt"
    load.write_text("\n".join(suspects) + "\n")
    log(f"rerunning {len(suspects)} B-only failures serially")
    ws.run("tempest", "run", "--serial", "--load-list", str(load), progress=folder / "rerun.log")
    return per_test(ws.last_results(), suspects)


def compare(out: Path, areas: list[str]) -> dict[str, Any]:
    """Per area and arm: counts and wall time; B-only failures and the regressions among
    them (failed again in the serial rerun)."""
    summary: dict[str, Any] = {"areas": {}}
    for area in areas:
        arms = {}
        for arm in ARMS:
            path = out / arm / area / "results.json"
            if path.is_file():
                arms[arm] = json.loads(path.read_text())
        entry: dict[str, Any] = {
            arm: {"counts": r["counts"], "wall_seconds": r["wall_seconds"]}
            for arm, r in arms.items()}
        if len(arms) == 2:
            a, b = arms["innodb"]["results"], arms["ndb"]["results"]
            rerun_b = arms["ndb"]["rerun"]
            entry["b_only"] = [
                {"test": t, "error": b[t]["error"],
                 "rerun": rerun_b.get(t, {}).get("status", "not rerun"),
                 "regression": rerun_b.get(t, {}).get("status") in FAILED}
                for t in b_only_failures(a, b)]
            entry["a_only"] = b_only_failures(b, a)
        summary["areas"][area] = entry
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "summary.md").write_text(table(summary))
    return summary


def table(summary: dict[str, Any]) -> str:
    lines = ["| area | arm | passed | failed | skipped | wall time |",
             "|---|---|---:|---:|---:|---:|"]
    for area, entry in summary["areas"].items():
        for arm in ARMS:
            if arm in entry:
                c, secs = entry[arm]["counts"], entry[arm]["wall_seconds"]
                lines.append(f"| {area} | {ARM_LABEL[arm]} | {c['passed']} | {c['failed']} | "
                             f"{c['skipped']} | {secs // 60} min {secs % 60} s |")
    for area, entry in summary["areas"].items():
        if "b_only" not in entry:
            continue
        lines += ["", f"{area}: {len(entry['b_only'])} B-only failures "
                  f"({sum(f['regression'] for f in entry['b_only'])} NDB regressions: failed "
                  f"again in the serial rerun); {len(entry['a_only'])} A-only failures"]
        for failure in entry["b_only"]:
            error = failure["error"].strip().splitlines()
            lines.append(f"- {'REGRESSION' if failure['regression'] else 'flaky'} "
                         f"{failure['test']} (rerun: {failure['rerun']}): "
                         f"{error[-1][:300] if error else ''}")
    return "\n".join(lines) + "\n"


def run_arm(arm: str, areas: list[str], out: Path) -> None:
    from tests.openstack.cloud import Cloud
    from tests.openstack.cluster import dev_settings
    from tests.openstack.database_backend import backend

    settings = dev_settings()
    folder = out / arm
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    log(f"arm {ARM_LABEL[arm]}: starting the control plane")
    with Cloud(folder / "cloud", settings, database=backend(arm, settings)) as cloud:
        cloud.start()
        cloud.start_stand_ins()  # the test-only compute host and volume back end
        report = cloud.report()
        (folder / "cloud-report.txt").write_text(report + "\n")
        print(report, flush=True)
        ws = prepare_workspace(cloud, folder)
        for area in areas:
            run_area(ws, area, arm, folder, out / "selection")


def prepare_workspace(cloud: Any, folder: Path) -> Workspace:
    """A tempest workspace in folder/workspace for a running cloud: tempest.conf from its
    settings and layout, with neutron's extensions and the compute resources made for it."""
    from tests.openstack.cloud import service_secrets

    password = service_secrets(cloud.layout.identity or "keystone").admin_password
    conf = tempest_conf.render(
        cloud.settings, cloud.layout, password,
        tempest_conf.TempestPaths(folder / "workspace" / "logs", folder / "locks"),
        cloud.localise, network_extensions=network_extensions(cloud, folder),
        compute=compute_resources(cloud, folder), demo=demo_user(cloud))
    return workspace(folder / "workspace", conf)


def demo_user(cloud: Any) -> tempest_conf.DemoUser:
    """devstack's `demo`: a user with the member role on a project of its own, which
    heat-tempest-plugin's tests run as (the stack's admin is its admin)."""
    return tempest_conf.DemoUser("demo", cloud.add_user("demo", ["member"]), "demo")


def openstack(cloud: Any, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`openstack args` as the admin, through the CLI with the rendered openrc."""
    return Cli(cloud.openrc(), folder / "cli").run(*args, check=False)


def network_extensions(cloud: Any, folder: Path) -> list[str]:
    """The extension aliases neutron lists, through the openstack CLI with the openrc (none
    if neutron is not enabled or does not answer: tempest's default then)."""
    if "neutron" not in cloud.layout.enabled:
        return []
    done = openstack(cloud, folder, "extension", "list", "--network", "-f", "value", "-c",
                     "Alias")
    if done.returncode != 0:
        log(f"neutron's extensions not listed (tempest assumes all): {done.stderr[-500:]}")
        return []
    return done.stdout.split()


def compute_resources(cloud: Any, folder: Path) -> tempest_conf.ComputeResources:
    """What devstack makes for tempest's compute tests, made by the admin: two public
    images (a few KiB of zeros: nova's fake driver boots nothing), two flavors, and a shared
    network with a subnet that every test project's servers go on (no isolated networks).
    Raises RuntimeError naming the command that failed."""
    def made(*args: str) -> dict[str, Any]:
        done = openstack(cloud, folder, *args, "-f", "json")
        if done.returncode != 0:
            raise RuntimeError(f"openstack {shlex.join(args)}: {done.stderr[-1500:]}")
        return dict(json.loads(done.stdout))

    image = folder / "tempest-image.raw"
    image.write_bytes(bytes(4096))
    images = [made("image", "create", "--public", "--disk-format", "raw",
                   "--container-format", "bare", "--file", str(image), name)["id"]
              for name in ("tempest-image", "tempest-image-alt")]
    flavors = [made("flavor", "create", "--ram", str(ram), "--disk", "1", "--vcpus", "1",
                    name)["id"] for name, ram in (("m1.nano", 128), ("m1.micro", 192))]
    network = made("network", "create", "--share", "tempest-net")
    made("subnet", "create", "--network", network["id"], "--subnet-range", "10.99.0.0/24",
         "tempest-subnet")
    return tempest_conf.ComputeResources(images[0], images[1], flavors[0], flavors[1],
                                         network["name"])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.openstack.tempest_run")
    parser.add_argument("--arm", action="append", choices=ARMS,
                        help="innodb (A) and/or ndb (B); default both, A first")
    parser.add_argument("--area", action="append",
                        help="a selection of tests/openstack/tempest/ (default: every area "
                        "but smoke)")
    parser.add_argument("--out", type=Path, default=ROOT / ".tempest")
    parser.add_argument("--compare-only", action="store_true")
    args = parser.parse_args()
    # SIGTERM (a stopped CI job, a user's kill): stop the cloud with its cleanup.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    areas = args.area or list(AREAS)
    arms = [a for a in ARMS if a in (args.arm or ARMS)]
    out = args.out.resolve()
    if not args.compare_only:
        for arm in arms:
            run_arm(arm, areas, out)
    print(table(compare(out, areas)), end="")
    print(f"(results: {out}/summary.json, {out}/summary.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
