"""Flatten an async config's `destination_config` into columns, keeping what was served.

Each side (`on_success`, `on_failure`) names a destination type and a `param` that is a JSON
document inside a string. Analysts want the target (bucket, topic, stream, function) as a column,
but the API's params are messy, so the raw string is always kept and anything that could not be
read is explained in `{side}_param_error` instead of being dropped or fixed.
"""

import re
from collections.abc import Mapping
from types import MappingProxyType

from pipelines.functiongraph.shaping.columns import Column
from pipelines.functiongraph.shaping.urns import UrnError, parse_function_urn
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
"""The param key naming where events go, per destination type (matched case-sensitively).

The one list of destination types the connector knows: adding one is one line here (its
`destination_known` and `target` columns, and every report, follow)."""

_SMN_TOPIC = re.compile(r"urn:smn:([^:]+):([^:]+):[^:]+")
"""`urn:smn:{region}:{project_id}:{topic}`."""

_SIDE_LABELS = {"on_success": "On success", "on_failure": "On failure"}
_SIDE_SPEC: tuple[tuple[str, str, str], ...] = (
    ("destination", "text", "destination type as served (OBS, SMN, DIS, FunctionGraph, ...)"),
    (
        "destination_known",
        "bool",
        "whether the connector knows the destination type (reads a target for it); "
        "NULL when no destination",
    ),
    ("param", "text", "destination param, the JSON text as served"),
    ("target", "text", "bucket, topic URN, stream name or function URN read from the param"),
    (
        "target_function_urn",
        "text",
        "FunctionGraph: the target function's unqualified URN; NULL for other types or when "
        "the target is not a function URN",
    ),
    ("target_region", "text", "FunctionGraph and SMN: the region in the target URN"),
    ("target_project_id", "text", "FunctionGraph and SMN: the project in the target URN"),
    ("prefix", "text", "OBS object prefix read from the param"),
    ("expires", "bigint", "OBS object expiry in days read from the param (0 = never)"),
    ("param_error", "text", "why the param or its target could not be read; NULL when fine"),
)
SIDE_COLUMNS = tuple(suffix for suffix, _, _ in _SIDE_SPEC)
"""Column suffixes of one side, in order; each becomes `{side}_{suffix}`."""


def side_columns(side: str) -> tuple[Column, ...]:
    """The columns of one side, matching `flatten_side` (read from `destination_config`)."""
    return tuple(
        Column(f"{side}_{suffix}", data_type, f"{_SIDE_LABELS[side]}: {text}")  # type: ignore[arg-type]
        for suffix, data_type, text in _SIDE_SPEC
    )


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
    """The `{side}_*` columns (`SIDE_COLUMNS`) of one side of a destination config.

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
        "destination_known": key is not None if destination is not None else None,
        "param": param_text,
        "target": target,
        **_target_parts(destination, target),
        "prefix": prefix,
        "expires": expires,
        "param_error": "; ".join(problems) or None,
    }


def _target_parts(destination: str | None, target: str | None) -> dict[str, str | None]:
    """Where a FunctionGraph or SMN target lives, parsed once here so no report parses URNs.

    A target that is not a URN of its type gives NULL parts (reports say so).
    """
    function_urn = region = project_id = None
    if target is not None and destination == "FunctionGraph":
        try:
            parts = parse_function_urn(target)
        except UrnError:
            parts = None
        if parts is not None:
            function_urn, region, project_id = parts.unqualified, parts.region, parts.project_id
    elif target is not None and destination == "SMN":
        topic = _SMN_TOPIC.fullmatch(target)
        if topic is not None:
            region, project_id = topic.group(1), topic.group(2)
    return {
        "target_function_urn": function_urn,
        "target_region": region,
        "target_project_id": project_id,
    }


def flatten_destination_config(value: object) -> dict[str, object]:
    """The columns of both sides; a missing or non-object config gives all None."""
    sides = value if isinstance(value, Mapping) else {}
    columns: dict[str, object] = {}
    for side in SIDES:
        columns.update(flatten_side(side, sides.get(side)))
    return columns
