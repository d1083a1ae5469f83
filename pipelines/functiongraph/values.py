"""Lenient readers for loosely typed API values, shared by every shaping module."""

from __future__ import annotations

import json
import re

_INTEGER_TEXT = re.compile(r"\s*[+-]?[0-9]+\s*")


def as_int(value: object) -> int | None:
    """An int for an integral number or integer string (`"30"`), else None.

    bool is refused although Python calls it an int: `true` is not a retry count.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
        return int(value)
    return None


def as_text(value: object) -> str | None:
    """The value as served when it is a string, its str() otherwise; None stays None."""
    if value is None or isinstance(value, str):
        return value
    return str(value)


def canonical_json(value: object) -> str:
    """Compact, key-sorted JSON, so the same document always gives the same text."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)
