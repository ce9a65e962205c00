"""Run the whole program under Pulumi mocks with a real stack file, recording every resource
with its inputs, options and dependencies (the stock MockMonitor does not keep those)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parent.parent
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # pulumi's marker for a secret value


@dataclass
class Registered:
    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    raw_inputs: dict[str, Any]  # serialized, secrets still wrapped
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool


@dataclass
class Run:
    resources: list[Registered] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def by_name(self, name: str) -> Registered:
        return next(r for r in self.resources if r.name == name)

    def depends_transitively(self, later: Registered, earlier: Registered) -> bool:
        """Does `later` wait for `earlier`, through dependencies, properties or parents?"""
        seen: set[str] = set()
        stack = [later.urn]
        while stack:
            urn = stack.pop()
            if urn == earlier.urn or urn.startswith(earlier.urn + "$"):
                return True
            if urn in seen:
                continue
            seen.add(urn)
            res = next((r for r in self.resources if r.urn == urn), None)
            if res is None:
                continue
            stack += res.dependencies
            for deps in res.property_dependencies.values():
                stack += deps
            # depends_on a component waits for all of that component's children
            stack += [r.urn for r in self.resources if r.parent == urn]
        return False


SHORT_PASSWORD_PREFIX = "mockPW"


def mock_password(name: str, length: int | None) -> str:
    """`mock-password-<name>`, or for a password too short to hold that (a VRRP password
    has 8 characters), `mockPW` and letters and digits from the name's hash: each secret
    is still found by its text wherever it leaks."""
    if length is None or length > len(SHORT_PASSWORD_PREFIX) + 2:
        return f"mock-password-{name}"
    digest = hashlib.sha256(name.encode()).hexdigest()
    return (SHORT_PASSWORD_PREFIX + digest)[:int(length)]


class RecordingMocks(pulumi.runtime.Mocks):
    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = mock_password(args.name, args.inputs.get("length"))
        if args.typ == "docker:index/remoteImage:RemoteImage":
            state["imageId"] = f"sha256:{args.name}"
        if args.typ == "random:index/randomBytes:RandomBytes":
            state["base64"] = "bW9jay1rZXktbW9jay1rZXktbW9jay1rZXktbW9jay0+/w=="
        if args.typ == "docker:index/container:Container":
            state.setdefault("name", args.name)
            if args.inputs.get("attach"):
                state["exitCode"] = 0  # a one-shot container that ran to completion
        return f"{args.name}-id", state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "openstack:identity/getRole:getRole":
            return {"id": f"role-{args.args['name']}", "name": args.args["name"]}, []
        if args.token == "command:local:run":  # the backup job's `last`, before any backup
            return {"stdout": "none", "stderr": ""}, []
        return {}, None


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, run: Run):
        super().__init__(RecordingMocks())
        self.run = run

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            raw = json_format.MessageToDict(request.object)
            inputs = pulumi.runtime.rpc.deserialize_properties(request.object)
            self.run.resources.append(Registered(
                type=request.type, name=request.name, urn=response.urn, parent=request.parent,
                custom=request.custom, inputs=inputs, raw_inputs=raw,
                dependencies=list(request.dependencies),
                property_dependencies={k: list(v.urns)
                                       for k, v in request.propertyDependencies.items()},
                protect=request.protect, retain_on_delete=request.retainOnDelete,
                delete_before_replace=request.deleteBeforeReplace,
            ))
        return response


def stack_config(stack: str) -> dict[str, Any]:
    """The `config:` map of Pulumi.<stack>.yaml, as the Pulumi CLI hands it to the program."""
    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    return dict(data.get("config") or {})


def run_program(config: dict[str, Any], stack: str = "test", record: Run | None = None) -> Run:
    """Run __main__'s path (settings from Pulumi config, then deploy) under mocks; every
    registered resource is recorded in `record` (a new Run by default), also when the
    program raises."""
    from components.stack import deploy
    from config import load_settings, raw_config_from_pulumi

    run = record if record is not None else Run()
    monitor = RecordingMonitor(run)
    pulumi.runtime.set_mocks(RecordingMocks(), project="openstack-ndb", stack=stack,
                             preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()})

    def program() -> None:
        deploy(load_settings(raw_config_from_pulumi()))

    _sync_await(run_pulumi_func(program))
    root = pulumi.runtime.settings.get_root_resource()
    for key, value in dict(getattr(root, "outputs", {})).items():
        run.outputs[key] = _sync_await(pulumi.Output.from_input(value).future())
    return run
