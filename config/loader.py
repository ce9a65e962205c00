"""Stack config in, validated Settings out, or one error listing every problem by key path."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pydantic
from pydantic import BaseModel

from config.checks import check_settings, check_topology
from config.problems import Problem
from config.settings import Settings, top_level_keys
from config.topology import build_topology

PROJECT = "openstack-ndb"


class SettingsError(ValueError):
    """The stack config is invalid; `problems` name each key path and reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [f"  {PROJECT}:{p.path}: {p.message}" for p in problems]
        super().__init__("invalid stack config:\n" + "\n".join(lines))


def load_settings(raw: Mapping[str, Any]) -> Settings:
    """Validate the `openstack-ndb:*` config (keys without the namespace)."""
    known = top_level_keys()
    problems = [
        Problem(key, f"unknown key; allowed keys: {', '.join(sorted(known))}")
        for key in raw if key not in known
    ]
    if problems:
        raise SettingsError(problems)
    try:
        settings = Settings.model_validate(dict(raw))
    except pydantic.ValidationError as exc:
        raise SettingsError([_problem(e) for e in exc.errors()]) from None
    problems = check_settings(settings)
    if not problems:
        problems = check_topology(settings, build_topology(settings))
    if problems:
        raise SettingsError(problems)
    return settings


def raw_config_from_pulumi() -> dict[str, Any]:
    """This project's keys from the running Pulumi program's config (values JSON-decoded)."""
    from pulumi.runtime import config as runtime_config

    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = PROJECT + ":"
    return {k[len(prefix):]: _decode(v) for k, v in merged.items() if k.startswith(prefix)}


# Keys an earlier version of the program read, and what replaced them.
RENAMED_KEYS = {
    "endpoint.host": "replaced by endpoint.hosts, a list (one HAProxy per host; several need "
                     "endpoint.virtualAddress): write `hosts: [<host>]`",
    "openstack.api.host": "replaced by openstack.api.hosts, a list (one API HAProxy per host; "
                          "several need openstack.api.virtualAddress): write `hosts: [<host>]`",
    "openstack.infrastructureHost": "replaced by openstack.infrastructureHosts, a list (a "
                                    "RabbitMQ member and a memcached per host): write "
                                    "`infrastructureHosts: [<host>]`",
}


def _decode(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # a plain string value


def _problem(error: Any) -> Problem:
    loc = tuple(error["loc"])
    path = format_path(loc)
    if error["type"] == "extra_forbidden":
        if path in RENAMED_KEYS:
            return Problem(path, RENAMED_KEYS[path])
        allowed = _allowed_keys(loc[:-1])
        return Problem(path, f"unknown key; allowed keys here: {', '.join(allowed)}")
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if "input" in error and error["type"] not in ("missing",) and not isinstance(
            error["input"], (dict, list)):
        message += f" (got {error['input']!r})"
    return Problem(path, message)


def format_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return []
        model = _model_of(field.annotation)
        if model is None:
            return []
    return sorted(f.alias or n for n, f in model.model_fields.items())


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
