"""The settings accept exactly the [ndbd default] parameter sets a real ndb_mgmd accepts.

The oracle is the test bed's own ndb_mgmd 9.7.2 (built from Debian's mysql-9.7 source, the
source config/ndb_parameters.py was read from), asked with `--print-full-config`: it parses
config.ini with every section and config rule of ConfigInfo.cpp, prints the result and exits,
listening on no port (`test_print_full_config_agrees_with_a_real_start` shows that it decides
as a real start does). For a generated stack the settings accept, the oracle reads exactly the
config.ini the program renders (components/render/ndb.py); for one they refuse, the same
rendering with the stack's `dataNodes.parameters` written as given (there is no rendering of
a refused stack).

The generated domain: every parameter of config/ndb_parameters.yaml's DB table except those
refused here by design whatever their value (set by a typed key, deprecated, ThreadConfig:
`ndb_parameters.MANAGED_DATA_NODE_PARAMETERS`, `deprecated: true`, `UNCHECKED`), in NDB's
spellings and near every edge (range ends, suffixes, hex, octal, signs, case) and the values
the cross-parameter rules turn on; plus dataNodes.maxNoOfConcurrentOperations and dataMemory.
What the settings refuse for the program's own reasons (a dictionary limit below what the
services need, a data node that does not fit its memoryLimit) is not NDB's verdict: compared
is `ndb_parameters.data_node_problems`, and `load_settings` must refuse whatever it refuses.
"""

from __future__ import annotations

import copy
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.render.ndb import render_config_ini
from config import SettingsError, build_topology, load_settings, ndb_parameters
from config.problems import Problem
from config.settings import Settings
from config.topology import Topology
from testbed.cluster import Testbed, rewrite_config_ini
from testbed.pytest_support import require_testbed
from tests.stacks import raw_settings

# make test: 0.05-0.2 s per example on 2 cores (idle to busy); make test-full runs the long
# one (2000 examples: 2 min 45 s measured).
EXAMPLES = 150
FULL_EXAMPLES = 2000

MGM_PREFIX = "127.0.1"
NOT_GENERATED = {
    name for name, p in ndb_parameters.parameters("DB").items()
    if ndb_parameters.managed_by(name) or p.deprecated or name in ndb_parameters.UNCHECKED
}
DOMAIN = sorted(set(ndb_parameters.parameters("DB")) - NOT_GENERATED)
# The parameters NDB's cross-parameter rules read (config/ndb_parameters.yaml `rules:`).
RULED = ["MaxDMLOperationsPerTransaction", "MaxNoOfConcurrentTransactions", "MaxNoOfTables",
         "MaxNoOfOrderedIndexes", "MaxNoOfUniqueHashIndexes", "NoOfFragmentLogParts",
         "MaxNoOfExecutionThreads", "AutomaticThreadConfig"]
# Numbers the rules turn on, for the dev stack (MaxNoOfConcurrentOperations 131072, NDB's
# default MaxNoOfConcurrentTransactions 4096, the services' MaxNoOfTables 1091 and
# MaxNoOfUniqueHashIndexes 313: the sum's edge is at 4294965889 ordered indexes).
EDGES = [4095, 4096, 4097, 131071, 131072, 131073, 4294965889, 4294965890, 2147483647,
         4294967039, 4294967040, 4294967295, 4294967296]


# --- the oracle ----------------------------------------------------------------------------


def _localised(config_ini: str, topology: Topology, workdir: Path, port: int | None = None
               ) -> str:
    """The test bed's rewrite (testbed/cluster.py): each rendered address on its own
    loopback address (ndb_mgmd test-binds its own HostName), NDB directories under workdir,
    and the management node's port when one is given."""
    addresses: dict[str, str] = {}
    for node in [*topology.management, *topology.data, *topology.sql]:
        addresses.setdefault(node.address, f"{MGM_PREFIX}.{len(addresses) + 1}")
    ports = {topology.management[0].node_id: port} if port else None
    text = rewrite_config_ini(config_ini, addresses, workdir, ports)
    (workdir / "ndb").mkdir(parents=True, exist_ok=True)
    return text


def _in_root(testbed: Testbed, workdir: Path, argv: list[str]) -> list[str]:
    """argv run inside the test bed's root, workdir at the same path there, /proc mounted,
    in mount and PID namespaces of its own (as testbed/cluster.py runs its programs)."""
    (testbed.root / workdir.relative_to("/")).mkdir(parents=True, exist_ok=True)
    script = ('r=$0; w=$1; shift; mount --bind "$w" "$r$w" && mount -t proc proc "$r/proc"'
              ' && exec chroot "$r" "$@"')
    return ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
            "--", "sh", "-c", script, str(testbed.root), str(workdir),
            f"{testbed.bin_in_root}/ndb_mgmd", *argv]


def _mgmd_options(workdir: Path, topology: Topology) -> list[str]:
    return [f"--config-file={workdir / 'config.ini'}",
            f"--ndb-nodeid={topology.management[0].node_id}", "--config-cache=0", "--nodaemon"]


def mgmd_verdict(testbed: Testbed, workdir: Path, config_ini: str, topology: Topology
                 ) -> tuple[bool, str]:
    """(accepted, ndb_mgmd's ERROR lines) for a rendered config.ini. --print-full-config
    exits 1 either way, so the verdict is read from its log: "Got initial configuration"
    (ConfigManager::init, once load_config and config_ok passed, as in a real start) or
    ERROR lines. Its log and the printed config interleave on stdout."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.ini").write_text(_localised(config_ini, topology, workdir))
    result = subprocess.run(
        _in_root(testbed, workdir, ["--print-full-config", *_mgmd_options(workdir, topology)]),
        capture_output=True, text=True, timeout=60, check=False)
    output = result.stdout + result.stderr
    errors = "\n".join(line for line in output.splitlines() if " ERROR " in line)
    accepted = "Got initial configuration from" in output
    assert accepted != bool(errors), f"not one verdict:\n{output}"
    return accepted, errors


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def real_start_verdict(testbed: Testbed, workdir: Path, config_ini: str, topology: Topology,
                       timeout: float = 60) -> tuple[bool, str]:
    """(accepted, output) of a real ndb_mgmd start from a config.ini (on a free port, in a
    temp dir), stopped once it says it started or after it exited."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    (workdir / "config.ini").write_text(_localised(config_ini, topology, workdir, port))
    log = workdir / "ndb_mgmd.log"
    argv = [*_mgmd_options(workdir, topology), f"--bind-address={MGM_PREFIX}.1"]
    with log.open("wb") as out:
        proc = subprocess.Popen(_in_root(testbed, workdir, argv), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    started = re.compile(r"Management Server .* started")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if started.search(text):
                return True, text
            if proc.poll() is not None:
                return False, log.read_text(errors="replace")
            time.sleep(0.1)
        raise AssertionError(f"ndb_mgmd neither started nor exited in {timeout}s:\n"
                             f"{log.read_text(errors='replace')}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the process group this test started
        proc.wait(timeout=30)


# --- the settings' side ----------------------------------------------------------------------


def stack_with(parameters: dict[str, Any], **typed: Any) -> dict[str, Any]:
    raw = copy.deepcopy(raw_settings("dev"))
    raw["dataNodes"]["parameters"] = parameters
    raw["dataNodes"].update(typed)
    return raw


def _written(value: Any) -> str:
    return str(value)


def oracle_config_ini(model: Settings, topology: Topology, accepted: bool) -> str:
    """The rendered config.ini; for refused parameters, the rendering of the stack without
    them, with them written into [ndbd default] as given (a line each, in the stack's order;
    a rendered line of the same name dropped)."""
    if accepted:
        return render_config_ini(model, topology)
    given = model.data_nodes.parameters
    bare = model.model_copy(update={
        "data_nodes": model.data_nodes.model_copy(update={"parameters": {}})})
    names = {n.lower() for n in given}
    out: list[str] = []
    section = ""
    for line in render_config_ini(bare, topology).splitlines():
        if line.startswith("["):
            if section == "[ndbd default]":
                out[-1:-1] = [f"{name}={_written(value)}" for name, value in given.items()]
            section = line.strip()
        if section == "[ndbd default]" and line.split("=", 1)[0].lower() in names:
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def verdicts(testbed: Testbed, workdir: Path, raw: dict[str, Any]
             ) -> tuple[list[Problem], bool, str]:
    """(the settings' NDB problems, ndb_mgmd's verdict, its errors) for one raw stack."""
    model = Settings.model_validate(raw)
    topology = build_topology(model)
    problems = ndb_parameters.data_node_problems(model)
    text = oracle_config_ini(model, topology, accepted=not problems)
    accepted, errors = mgmd_verdict(testbed, workdir, text, topology)
    return problems, accepted, errors


def assert_agree(testbed: Testbed, workdir: Path, raw: dict[str, Any]) -> None:
    problems, accepted, errors = verdicts(testbed, workdir, raw)
    shown = raw["dataNodes"]["parameters"], {k: v for k, v in raw["dataNodes"].items()
                                               if k != "parameters"}
    assert accepted == (not problems), (
        f"disagreement on {shown}:\n  settings: {problems or 'accepted'}\n"
        f"  ndb_mgmd: {errors or 'accepted'}")
    if problems:  # the settings check refuses them before any resource, naming the keys
        with pytest.raises(SettingsError) as info:
            load_settings(raw)
        assert {(p.path, p.message) for p in problems} <= {
            (p.path, p.message) for p in info.value.problems}
        assert all(p.path.startswith("dataNodes.") for p in problems)


# --- generated parameter sets ----------------------------------------------------------------


def _spellings(number: int) -> st.SearchStrategy[Any]:
    """`number` as a stack file might hold it: NDB's spellings of it (most often), or near
    misses of them."""
    same: list[Any] = [number, str(number), f" {number} ", f"+{number}",
                       hex(number) if number >= 0 else str(number),
                       f"0{number:o}" if number >= 0 else f"-0{-number:o}"]
    for suffix, shift in (("k", 10), ("K", 10), ("M", 20), ("G", 30)):
        if number >= 0 and number % (1 << shift) == 0:
            same.append(f"{number >> shift}{suffix}")
    other: list[Any] = [f"-{number}", f"{number}T", f"{number}kB", f"{number}m", f"{number}g",
                        f"{number} M", "", "-0", "0x", "08", "1e3", "12.5", "0X1F", True, False]
    other += [f"{max(number, 0) >> shift}{suffix}" for suffix, shift in
              (("k", 10), ("K", 10), ("M", 20), ("G", 30))]
    return st.one_of(st.sampled_from(same), st.sampled_from(same), st.sampled_from(other))


def _number(p: ndb_parameters.Parameter) -> st.SearchStrategy[int]:
    lo, hi = p.min or 0, p.max or 2**32
    edges = [lo - 1, lo, lo + 1, hi - 1, hi, hi + 1, 0, -1, *EDGES]
    if isinstance(p.default, int) and not isinstance(p.default, bool):
        edges.append(p.default)
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi), st.integers(lo, hi),
                     st.integers(0, 2**40))


def value_for(name: str) -> st.SearchStrategy[Any]:
    p = ndb_parameters.parameters("DB")[name]
    if p.type == "bool":
        return st.one_of(st.booleans(), st.integers(-1, 2), st.sampled_from(
            ["Y", "y", "Yes", "YES", "yes", "True", "TRUE", "true", "1", "N", "n", "No", "NO",
             "no", "False", "FALSE", "false", "0", "yES", "ON", "off", "t", "2", "", " yes "]))
    if p.type == "enum":
        return st.sampled_from([*p.values, *(v.lower() for v in p.values),
                                *(v.upper() for v in p.values), "Bogus", "", 1])
    if p.type == "string":
        return st.sampled_from(["sparse", "full", "FULL", "anything", "", " full ", 7])
    if name == "NoOfFragmentLogParts":
        return st.integers(-1, 40).flatmap(_spellings)
    return _number(p).flatmap(_spellings)


@st.composite
def stacks(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.one_of(st.sampled_from(DOMAIN), st.sampled_from(RULED)),
                          max_size=draw(st.sampled_from([1, 2, 4, 6])), unique=True))
    parameters: dict[str, Any] = {}
    for name in names:
        spelled = draw(st.sampled_from([name, name, name.lower(), name.upper()]))
        parameters[spelled] = draw(value_for(name))
    if names and draw(st.integers(0, 9)) == 0:  # the same name twice, in another case
        parameters[names[0].swapcase()] = draw(value_for(names[0]))
    typed: dict[str, Any] = {}
    if draw(st.booleans()):
        typed["maxNoOfConcurrentOperations"] = draw(st.one_of(
            st.sampled_from([32, 4095, 4096, 4097, 131072]), st.integers(32, 300_000)))
    if draw(st.integers(0, 4)) == 0:
        typed["dataMemory"] = draw(st.sampled_from(
            ["512K", "1023K", "1M", "1025K", "64M", 1048575, 1048576]))
    return stack_with(parameters, **typed)


def _run_generated(examples: int, testbed: Testbed, tmp_path: Path) -> None:
    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(raw=stacks())
    def agree(raw: dict[str, Any]) -> None:
        assert_agree(testbed, tmp_path / "oracle", raw)

    agree()


def test_generated_parameter_sets_agree_with_ndb_mgmd(tmp_path: Path) -> None:
    _run_generated(EXAMPLES, require_testbed(), tmp_path)


@pytest.mark.full
def test_many_generated_parameter_sets_agree_with_ndb_mgmd(tmp_path: Path) -> None:
    _run_generated(FULL_EXAMPLES, require_testbed(), tmp_path)


# --- explicit cases: the two, and every disagreement the generator found ------------

CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({}, {}),
    ({}, {"maxNoOfConcurrentOperations": 1000}),  # issue 14: below MaxNoOfConcurrentTransactions
    ({"NoOfFragmentLogParts": 5}, {}),  # issue 14: not one of 4,6,8,10,12,16,20,24,32
    ({"NoOfFragmentLogParts": 6}, {}),
    ({"MaxNoOfConcurrentTransactions": 131072}, {}),  # equal is accepted
    ({"MaxNoOfConcurrentTransactions": 131073}, {}),
    ({"MaxDMLOperationsPerTransaction": 131073}, {}),
    ({"MaxDMLOperationsPerTransaction": 4294967295}, {}),  # "no limit"
    ({"MaxNoOfOrderedIndexes": 4294965889}, {}),
    ({"MaxNoOfOrderedIndexes": 4294965890}, {}),
    ({}, {"dataMemory": "512K"}),
    # The kinds the old per-value check got wrong: NDB reads 2k, Yes, 0x10 and 0600 (octal,
    # 384), and refuses 1_000, 64m and 1T as written; a name twice (NDB ignores case).
    ({"MaxNoOfTables": "2k", "ODirect": "Yes", "MaxNoOfExecutionThreads": "0x10"}, {}),
    ({"MaxNoOfConcurrentScans": "0600"}, {}),
    ({"MaxNoOfConcurrentScans": "600"}, {}),
    ({"MaxNoOfTables": "1_000"}, {}),
    ({"DiskPageBufferMemory": "64m"}, {}),
    ({"DiskPageBufferMemory": "1T"}, {}),
    ({"MaxNoOfTables": 2000, "maxnooftables": 3000}, {}),
]


@pytest.mark.parametrize(("parameters", "typed"), CASES)
def test_explicit_parameter_sets_agree_with_ndb_mgmd(
        parameters: dict[str, Any], typed: dict[str, Any], tmp_path: Path) -> None:
    assert_agree(require_testbed(), tmp_path, stack_with(parameters, **typed))


@pytest.mark.parametrize(("name", "numbers"), [
    ("NoOfFragmentLogParts", range(0, 34)),
    ("MaxNoOfExecutionThreads", range(0, 74)),  # checkThreadConfig builds each layout
])
def test_every_value_of_the_thread_rules_agrees_with_ndb_mgmd(
        name: str, numbers: range, tmp_path: Path) -> None:
    testbed = require_testbed()
    for number in numbers:
        assert_agree(testbed, tmp_path, stack_with({name: number}))


def test_one_replica_more_than_72_data_nodes_agrees_with_ndb_mgmd(tmp_path: Path) -> None:
    raw = stack_with({}, count=73, noOfReplicas=1)
    raw["network"] = {"subnet": "172.28.0.0/22"}
    problems, accepted, errors = verdicts(require_testbed(), tmp_path, raw)
    assert not accepted and "Too many Datanodes(73) for replicas=1" in errors
    assert [p.path for p in problems] == ["dataNodes.count"]


# The two instances and an accepted set, both ways: --print-full-config decides as
# a real start of ndb_mgmd does (which listens: run under flock /tmp/openstack-ndb-real.lock).
@pytest.mark.parametrize(("parameters", "typed"), [CASES[0], CASES[1], CASES[2], CASES[6]])
def test_print_full_config_agrees_with_a_real_start(
        parameters: dict[str, Any], typed: dict[str, Any], tmp_path: Path) -> None:
    testbed = require_testbed()
    model = Settings.model_validate(stack_with(parameters, **typed))
    topology = build_topology(model)
    accepted = not ndb_parameters.data_node_problems(model)
    text = oracle_config_ini(model, topology, accepted)
    printed, errors = mgmd_verdict(testbed, tmp_path / "print", text, topology)
    started, output = real_start_verdict(testbed, tmp_path / "start", text, topology)
    assert printed == started == accepted, output
    output = output.replace(str(tmp_path / "start"), str(tmp_path / "print"))
    for line in errors.splitlines():  # the same reasons, in the same words (and lines)
        assert line.split(" -- ", 1)[1] in output
