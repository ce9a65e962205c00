"""Byte sizes as NDB and Docker understand them."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)\s*$", re.IGNORECASE)
_FACTORS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(value: Any) -> int:
    """Parse `512M`, `2G`, `1048576` into bytes.

    K, M, G and T are binary multiples, as in config.ini (NDB's ConfigInfo)."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 512M or 2G")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match:
            return int(match.group(1)) * _FACTORS[match.group(2).upper()]
    raise ValueError(f"expected a size such as 512M or 2G, got {value!r}")


def format_size(size: int) -> str:
    """The shortest exact config.ini spelling of a byte count (`512M`, not `536870912`)."""
    # No T: config.ini accepts only K, M and G (InitConfigFileParser::convertStringToUint64).
    for suffix in ("G", "M", "K"):
        factor = _FACTORS[suffix]
        if size >= factor and size % factor == 0:
            return f"{size // factor}{suffix}"
    return str(size)


ByteSize = Annotated[int, BeforeValidator(parse_size), PlainSerializer(format_size)]
