"""The README's config reference lists every key of the settings model with its true default."""

from __future__ import annotations

import re
from typing import Any

from config.settings import DockerHost, Settings, field_defaults
from config.units import format_size
from tests.mock_program import ROOT

ROW = re.compile(r"^\| `([^`]+)` \| (.+?) \| (.+?) \|$")
NO_VALUE = {"none", "all hosts", "first host", "(required)"}
SIZE_KEYS = {"memoryLimit", "dataMemory", "checkMemoryLimit"}


def readme_rows() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Config reference", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(2) for line in section.splitlines() if (m := ROW.match(line))}


def shown(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int) and key.rsplit(".", 1)[-1] in SIZE_KEYS:
        return f"`{format_size(value)}`"
    if isinstance(value, (tuple, list)):
        return f"`{list(value)}`"
    return f"`{value}`"


def model_keys() -> dict[str, Any]:
    keys = {k: v for k, v in field_defaults(Settings).items() if k != "hosts"}
    keys.update({f"hosts[].{k}": v for k, v in field_defaults(DockerHost).items()})
    return keys


def test_every_key_is_documented_and_nothing_else() -> None:
    documented = set(readme_rows()) - {"hosts"}
    assert documented == set(model_keys())


def test_documented_defaults_are_true() -> None:
    rows = readme_rows()
    for key, default in model_keys().items():
        cell = rows[key]
        if default is None or key == "hosts[].name":
            assert cell in NO_VALUE, (key, cell)
        else:
            assert cell == shown(key, default), (key, cell, default)
