"""The real stack files, as raw settings (keys without the `openstack-ndb:` namespace)."""

from __future__ import annotations

import copy
from typing import Any

from config import Settings, load_settings
from tests.mock_program import stack_config

STACKS = ("dev", "prod")


def raw_settings(stack: str) -> dict[str, Any]:
    return {k.split(":", 1)[1]: v for k, v in stack_config(stack).items()
            if k.startswith("openstack-ndb:")}


def settings_for(stack: str) -> Settings:
    return load_settings(raw_settings(stack))


def modified(stack: str, path: str, value: Any) -> dict[str, Any]:
    """A copy of a stack's raw settings with `a.b[1].c` set (or deleted when value is ...)."""
    raw = copy.deepcopy(raw_settings(stack))
    keys: list[Any] = []
    for part in path.replace("]", "").split("."):
        name, *indexes = part.split("[")
        keys.append(name)
        keys += [int(i) for i in indexes]
    target: Any = raw
    for key in keys[:-1]:
        target = target.setdefault(key, {}) if isinstance(target, dict) else target[key]
    if value is ...:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return raw
