"""Shape API items into flat table rows, and declare those tables' columns for dlt.

Rows keep what was served beside what was read from it (raw timestamps, raw params, fields the
connector does not know yet), because the API is loosely specified and a reader must be able to
check every derived value against its source. Shaping never rejects data: values that cannot be
read become NULL with a reason, except a missing `func_urn`, without which a row has no identity.

The one exception to "keep what was served" is a tenant's secrets. A function's environment
variables (`user_data`, `encrypted_user_data`) are where teams keep passwords and keys: only
their names are kept. Any other field without a column whose name looks secret (`SECRET_FIELD`)
is kept with its value replaced by `REDACTED`, so nothing secret ever reaches dlt.
"""

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import tzinfo

from pipelines.functiongraph.shaping.destinations import SIDE_COLUMNS, flatten_destination_config
from pipelines.functiongraph.shaping.timestamps import parse_api_timestamp
from pipelines.functiongraph.shaping.urns import FunctionUrn, UrnError, parse_function_urn
from pipelines.functiongraph.shaping.values import (
    as_text,
    canonical_json,
    load_json,
    read_int,
    storable_row,
)

ColumnSchemas = dict[str, dict[str, object]]

CONFIG_ITEM_KEYS = frozenset(
    {
        "func_urn",
        "max_async_event_age_in_seconds",
        "max_async_retry_attempts",
        "destination_config",
        "created_time",
        "last_modified",
        "enable_async_status_log",
    }
)
"""Keys of an async-invoke-config item that have columns; any other lands in `extra_fields`."""

ENVIRONMENT_KEYS = ("user_data", "encrypted_user_data")
"""A function's environment variables as JSON text: only their names are ever kept."""

SECRET_FIELD = re.compile(
    r"pass(word|wd|phrase)|pwd|secret|token|credential|private.?key|access.?key|api.?key"
    r"|auth|signature|cookie|session|user_data",
    re.IGNORECASE,
)
"""Names of served fields (at any depth of `extra_fields`) whose values are never stored."""
REDACTED = "[redacted]"

FUNCTION_ITEM_KEYS = frozenset(
    {
        "func_urn",
        "func_name",
        "package",
        "namespace",
        "runtime",
        "handler",
        "memory_size",
        "timeout",
        "code_type",
        "version",
        "description",
        "enterprise_project_id",
        "last_modified",
        *ENVIRONMENT_KEYS,
    }
)
"""Keys of a ListFunctions item that have columns; any other lands in `extra_fields`."""


def config_identity(item: object) -> str | None:
    """The `func_urn` a config item is stored under, or None when it has none."""
    urn = item.get("func_urn") if isinstance(item, Mapping) else None
    return urn if isinstance(urn, str) and urn.strip() else None


def function_identity(item: object) -> str | None:
    """The unqualified URN a ListFunctions item stands for, or None when it has no usable one.

    Its configs are requested under this URN, so anything but a readable 7-field URN leaves the
    function unidentifiable (and the listing incomplete).
    """
    urn = config_identity(item)
    if urn is None:
        return None
    try:
        parts = parse_function_urn(urn)
    except UrnError:
        return None
    return urn if parts.qualifier is None else None


def _identity(item: Mapping[str, object], what: str) -> str:
    """The item's `func_urn` as text; an item without one cannot become a row."""
    urn = as_text(item.get("func_urn"))
    if not urn:
        raise ValueError(f"{what} item has no func_urn: keys {sorted(item)}")
    return urn


def _config_urn(served: str, function_urn: str) -> tuple[FunctionUrn, str | None]:
    """The served URN's parts, or the scope function's (unqualified) parts and why not."""
    scope = replace(parse_function_urn(function_urn), qualifier=None)
    try:
        parts = parse_function_urn(served)
    except UrnError as error:
        return scope, str(error)
    if parts.unqualified != scope.unqualified:
        return scope, f"func_urn {served!r} does not belong to function {function_urn!r}"
    return parts, None


def _timestamp(name: str, item: Mapping[str, object], naive_zone: tzinfo) -> dict[str, object]:
    """`{name}` as an instant and `{name}_raw` as served."""
    raw = item.get(name)
    return {name: parse_api_timestamp(raw, naive_zone), f"{name}_raw": as_text(raw)}


def _extra_fields(item: Mapping[str, object], known: frozenset[str]) -> str | None:
    """Served keys without a column, as JSON text, so new API fields are kept until modelled.

    Values under a secret-looking name are replaced, at any depth.
    """
    extra = {key: _redacted(key, value) for key, value in item.items() if key not in known}
    return canonical_json(extra) if extra else None


def _redacted(key: object, value: object, depth: int = 0) -> object:
    if isinstance(key, str) and SECRET_FIELD.search(key):
        return REDACTED
    if depth > 50:  # deeper documents are stored as a placeholder by canonical_json anyway
        return value
    if isinstance(value, Mapping):
        return {k: _redacted(k, v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(None, v, depth + 1) for v in value]
    return value


def _integers(item: Mapping[str, object], names: tuple[str, ...]) -> tuple[dict, list[str]]:
    """Integer columns read from `item`, and a reason for each value that could not be."""
    columns, problems = {}, []
    for name in names:
        columns[name], problem = read_int(item.get(name))
        if problem:
            problems.append(f"{name} {problem}")
    return columns, problems


def _environment_names(item: Mapping[str, object]) -> tuple[str | None, list[str]]:
    """The names of the function's environment variables as a JSON array; never their values."""
    names: set[str] = set()
    problems = []
    served = False
    for key in ENVIRONMENT_KEYS:
        raw = item.get(key)
        if raw is None:
            continue
        served = True
        if raw == "":  # what the API serves for a function without variables
            continue
        document, problem = load_json(raw) if isinstance(raw, str) else (raw, None)
        if problem or not isinstance(document, Mapping):
            problems.append(f"{key} {problem or 'is not a JSON object'} (its values are not kept)")
            continue
        names.update(str(name) for name in document)
    return (canonical_json(sorted(names)) if served and not problems else None), problems


def _value_error(problems: list[str]) -> str | None:
    return "; ".join(problems) or None


def shape_config(
    item: Mapping[str, object],
    *,
    function_urn: str,
    region: str,
    project_id: str,
    naive_zone: tzinfo,
) -> dict[str, object]:
    """One row of the configs table for an item fetched for the unqualified `function_urn`.

    Raises ValueError when the item has no `func_urn` (it has no identity) and UrnError when
    `function_urn` itself is not a function URN (a caller bug, not an API quirk).
    """
    served_urn = _identity(item, "async-invoke-config")
    urn, urn_error = _config_urn(served_urn, function_urn)
    status_log = item.get("enable_async_status_log")
    integers, problems = _integers(
        item, ("max_async_event_age_in_seconds", "max_async_retry_attempts")
    )
    row = {
        "func_urn": served_urn,
        "function_urn": function_urn,
        "region": region,
        "project_id": project_id,
        "package": urn.package,
        "function_name": urn.function_name,
        "qualifier": urn.qualifier,
        "qualifier_kind": urn.qualifier_kind,
        "urn_error": urn_error,
        **integers,
        "enable_async_status_log": status_log if isinstance(status_log, bool) else None,
        **flatten_destination_config(item.get("destination_config")),
        **_timestamp("created_time", item, naive_zone),
        **_timestamp("last_modified", item, naive_zone),
        "extra_fields": _extra_fields(item, CONFIG_ITEM_KEYS),
        "value_error": _value_error(problems),
        "duplicate_note": None,
    }
    return storable_row(row)


def shape_function(
    item: Mapping[str, object],
    *,
    region: str,
    project_id: str,
    naive_zone: tzinfo,
) -> dict[str, object]:
    """One row of the functions table for a ListFunctions item listed in (region, project_id).

    Raises ValueError when the item has no `func_urn` (it has no identity).
    """
    integers, problems = _integers(item, ("memory_size", "timeout"))
    environment_names, environment_problems = _environment_names(item)
    row = {
        "func_urn": _identity(item, "function"),
        "func_name": as_text(item.get("func_name")),
        "package": as_text(item.get("package")),
        "namespace": as_text(item.get("namespace")),
        "region": region,
        "project_id": project_id,
        "runtime": as_text(item.get("runtime")),
        "handler": as_text(item.get("handler")),
        **integers,
        "code_type": as_text(item.get("code_type")),
        "version": as_text(item.get("version")),
        "description": as_text(item.get("description")),
        "enterprise_project_id": as_text(item.get("enterprise_project_id")),
        **_timestamp("last_modified", item, naive_zone),
        "environment_variable_names": environment_names,
        "extra_fields": _extra_fields(item, FUNCTION_ITEM_KEYS),
        "value_error": _value_error(problems + environment_problems),
        "duplicate_note": None,
    }
    return storable_row(row)


def _column(data_type: str, description: str, *, nullable: bool = True) -> dict[str, object]:
    """One dlt column; timestamps are instants, so they carry a time zone."""
    column: dict[str, object] = {
        "data_type": data_type,
        "nullable": nullable,
        "description": description,
    }
    if data_type == "timestamp":
        column["timezone"] = True
    return column


_SIDE_LABELS = {"on_success": "On success", "on_failure": "On failure"}
_SIDE_DESCRIPTIONS = {
    "destination": ("text", "destination type as served (OBS, SMN, DIS, FunctionGraph, ...)"),
    "param": ("text", "destination param, the JSON text as served"),
    "target": ("text", "bucket, topic URN, stream name or function URN read from the param"),
    "prefix": ("text", "OBS object prefix read from the param"),
    "expires": ("bigint", "OBS object expiry in days read from the param (0 = never)"),
    "param_error": ("text", "why the param or its target could not be read; NULL when fine"),
}


def _side_columns(side: str) -> ColumnSchemas:
    """The six destination columns of one side, matching `flatten_side`."""
    columns = {}
    for suffix in SIDE_COLUMNS:
        data_type, text = _SIDE_DESCRIPTIONS[suffix]
        columns[f"{side}_{suffix}"] = _column(data_type, f"{_SIDE_LABELS[side]}: {text}")
    return columns


def _timestamp_columns(name: str, what: str) -> ColumnSchemas:
    """An instant and the raw text it was read from, matching `_timestamp`."""
    return {
        name: _column("timestamp", f"{what}; naive values read in the configured zone"),
        f"{name}_raw": _column("text", f"{what}, as served"),
    }


_EXTRA_FIELDS = (
    "JSON of served fields without a column (secret-looking values redacted); NULL when none"
)
_VALUE_ERROR = "Why a served value could not be stored as read (raw value quoted); NULL when fine"
_DUPLICATE_NOTE = "Other copies of this item the API served, and which one was kept; NULL if none"


CONFIG_COLUMNS: ColumnSchemas = {
    "func_urn": _column("text", "Qualified URN of the config as served", nullable=False),
    "function_urn": _column("text", "Unqualified URN the config was fetched for", nullable=False),
    "region": _column("text", "Region of the scope the config was fetched in", nullable=False),
    "project_id": _column("text", "Project of the scope the config was fetched in", nullable=False),
    "package": _column("text", "Function package (app)", nullable=False),
    "function_name": _column("text", "Function name", nullable=False),
    "qualifier": _column("text", "latest, a version, or !alias; NULL when unqualified or unread"),
    "qualifier_kind": _column("text", "latest, version or alias; NULL when no qualifier"),
    "urn_error": _column("text", "Why func_urn could not be read or belongs elsewhere"),
    "max_async_event_age_in_seconds": _column("bigint", "Maximum age of an async event, seconds"),
    "max_async_retry_attempts": _column("bigint", "Maximum retries of an async invocation"),
    "enable_async_status_log": _column("bool", "Async status logging; NULL when not served"),
    **_side_columns("on_success"),
    **_side_columns("on_failure"),
    **_timestamp_columns("created_time", "When the config was created"),
    **_timestamp_columns("last_modified", "When the config was last modified"),
    "extra_fields": _column("text", _EXTRA_FIELDS),
    "value_error": _column("text", _VALUE_ERROR),
    "duplicate_note": _column("text", _DUPLICATE_NOTE),
}
"""dlt column schemas of the configs table, in `shape_config`'s order."""

FUNCTION_COLUMNS: ColumnSchemas = {
    "func_urn": _column("text", "Unqualified URN of the function", nullable=False),
    "func_name": _column("text", "Function name"),
    "package": _column("text", "Function package (app)"),
    "namespace": _column("text", "Namespace (project id) as served"),
    "region": _column("text", "Region of the scope the function was listed in", nullable=False),
    "project_id": _column(
        "text", "Project of the scope the function was listed in", nullable=False
    ),
    "runtime": _column("text", "Runtime, e.g. Python3.9"),
    "handler": _column("text", "Handler entry point"),
    "memory_size": _column("bigint", "Memory size in MB"),
    "timeout": _column("bigint", "Timeout in seconds"),
    "code_type": _column("text", "How the code is supplied, e.g. inline, zip or obs"),
    "version": _column("text", "Version as served in the listing"),
    "description": _column("text", "Function description"),
    "enterprise_project_id": _column("text", "Enterprise project the function belongs to"),
    **_timestamp_columns("last_modified", "When the function was last modified"),
    "environment_variable_names": _column(
        "text", "JSON array of the environment variable names; their values are never stored"
    ),
    "extra_fields": _column("text", _EXTRA_FIELDS),
    "value_error": _column("text", _VALUE_ERROR),
    "duplicate_note": _column("text", _DUPLICATE_NOTE),
}
"""dlt column schemas of the functions table, in `shape_function`'s order."""
