"""Flatten an async config's `destination_config` into columns, keeping what was served.

Each side (`on_success`, `on_failure`) names a destination type and a `param` that is a JSON
document inside a string. Analysts want the target (bucket, topic, stream, function) as a column,
but the API's params are messy, so the raw string is always kept and anything that could not be
read is explained in `{side}_param_error` instead of being dropped or fixed.
"""

from collections.abc import Mapping
from types import MappingProxyType

from pipelines.functiongraph.shaping.values import (
    as_text,
    canonical_json,
    load_json,
    raw_text,
    read_int,
)

SIDES = ("on_success", "on_failure")
TARGET_KEYS: Mapping[str, str] = MappingProxyType(
    {"OBS": "bucket", "SMN": "topic_urn", "DIS": "stream_name", "FunctionGraph": "func_urn"}
)
"""The param key naming where events go, per destination type (matched case-sensitively)."""

SIDE_COLUMNS = ("destination", "param", "target", "prefix", "expires", "param_error")
"""Column suffixes of one side, in order; each becomes `{side}_{suffix}`."""


def _read_param(raw: object) -> tuple[str | None, Mapping[str, object] | None, str | None]:
    """The param text to store, its parsed object, and why it could not be read (or None).

    A param served as a JSON value rather than a string is stored as canonical JSON text.
    """
    if raw is None:
        return None, None, "param is missing"
    if isinstance(raw, str):
        if not raw.strip():
            return raw, None, "param is empty"
        document, problem = load_json(raw)
        if problem:
            return raw, None, f"param {problem}"
        text = raw
    else:
        text, document = canonical_json(raw), raw
    if not isinstance(document, Mapping):
        return text, None, "param is not a JSON object"
    return text, document, None


def _obs_extras(param: Mapping[str, object]) -> tuple[str | None, int | None, list[str]]:
    """OBS's `prefix` and `expires` (days), with reasons for values of the wrong type."""
    problems = []
    prefix = param.get("prefix")
    if prefix is not None and not isinstance(prefix, str):
        problems.append(f"'prefix' is not a string: {raw_text(prefix)}")
        prefix = None
    expires, problem = read_int(param.get("expires"))
    if problem:
        problems.append(f"'expires' {problem}")
    return prefix, expires, problems


def _target(key: str, param: Mapping[str, object]) -> tuple[str | None, str | None]:
    """The stripped target value, or None with the reason it is unusable."""
    if key not in param:
        return None, f"param has no {key!r}"
    value = param[key]
    if not isinstance(value, str):
        return None, f"{key!r} is not a string: {raw_text(value)}"
    if not value.strip():
        return None, f"{key!r} is empty"
    return value.strip(), None


def flatten_side(side: str, value: object) -> dict[str, object]:
    """The six `{side}_*` columns of one side of a destination config.

    A missing, null, empty or non-object side is all None: the API configured nothing there.
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    columns: dict[str, object] = dict.fromkeys(SIDE_COLUMNS)
    if isinstance(value, Mapping) and (
        value.get("destination") is not None or value.get("param") is not None
    ):
        columns.update(_read_side(value))
    return {f"{side}_{name}": column for name, column in columns.items()}


def _read_side(value: Mapping[str, object]) -> dict[str, object]:
    """One configured side's columns, keyed by suffix; the target only for known destinations."""
    destination = as_text(value.get("destination"))
    param_text, param, error = _read_param(value.get("param"))
    problems = [error] if error else []
    target = prefix = expires = None
    key = TARGET_KEYS.get(destination) if destination is not None else None
    if param is not None and key is not None:
        target, problem = _target(key, param)
        if problem:
            problems.append(problem)
        if destination == "OBS":
            prefix, expires, obs_problems = _obs_extras(param)
            problems += obs_problems
    return {
        "destination": destination,
        "param": param_text,
        "target": target,
        "prefix": prefix,
        "expires": expires,
        "param_error": "; ".join(problems) or None,
    }


def flatten_destination_config(value: object) -> dict[str, object]:
    """The twelve columns of both sides; a missing or non-object config gives all None."""
    sides = value if isinstance(value, Mapping) else {}
    columns: dict[str, object] = {}
    for side in SIDES:
        columns.update(flatten_side(side, sides.get(side)))
    return columns
