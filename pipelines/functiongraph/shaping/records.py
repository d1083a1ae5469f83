"""Shape API items into flat table rows, and declare those tables' columns for dlt.

Rows keep what was served beside what was read from it (raw timestamps, raw params, fields the
connector does not know yet), because the API is loosely specified and a reader must be able to
check every derived value against its source. Shaping never rejects data: values that cannot be
read become NULL with a reason, except a missing `func_urn`, without which a row has no identity.

A function's ids and handlers that the API serves as `""` for "none" (`xrole`, `func_vpc_id`,
`log_group_id`, ...: `EMPTY_MEANS_NONE`) are stored as NULL, so "has none" is `is null`.

The one exception to "keep what was served" is a tenant's secrets. A function's environment
variables (`user_data`, `encrypted_user_data`) are where teams keep passwords and keys: only
their names are kept. Any other field without a column whose name looks secret (`SECRET_FIELD`)
is kept with its value replaced by `REDACTED`, so nothing secret ever reaches dlt.
"""

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import tzinfo

from pipelines.functiongraph.shaping.columns import (
    Column,
    dlt_columns,
    known_keys,
    plain,
    read_plain,
)
from pipelines.functiongraph.shaping.destinations import (
    SIDES,
    flatten_destination_config,
    side_columns,
)
from pipelines.functiongraph.shaping.timestamps import parse_api_timestamp
from pipelines.functiongraph.shaping.urns import FunctionUrn, UrnError, parse_function_urn
from pipelines.functiongraph.shaping.values import (
    TOO_DEEP,
    as_text,
    canonical_json,
    load_json,
    raw_text,
    read_int,
    storable_row,
)

ENVIRONMENT_KEYS = ("user_data", "encrypted_user_data")
"""A function's environment variables as JSON text: only their names are ever kept."""
EMPTY_MEANS_NONE = (
    "code_url",
    "xrole",
    "app_xrole",
    "func_vpc_id",
    "initializer_handler",
    "pre_stop_handler",
    "log_group_id",
    "log_stream_id",
)
"""Text fields the API serves as `""` when the function has none: stored as NULL, not `''`."""
STRATEGY_KEYS = ("concurrency", "concurrent_num")
"""The `strategy_config` fields with a column (`strategy_config_{key}`); any other stays extra."""

SECRET_FIELD = re.compile(
    r"pass(word|wd|phrase)|pwd|secret|token|credential|private.?key|access.?key|api.?key"
    r"|auth|signature|cookie|session|user_data",
    re.IGNORECASE,
)
"""Names of served fields (at any depth of `extra_fields`) whose values are never stored."""
REDACTED = "[redacted]"
ROW_VERSION = "row_version"
"""The column holding each row's fingerprint (see `values.row_version`)."""


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


def _identity(item: Mapping[str, object], subject: str) -> str:
    """The item's `func_urn` as text; an item without one cannot become a row."""
    urn = as_text(item.get("func_urn"))
    if not urn:
        raise ValueError(f"{subject} item has no func_urn: keys {sorted(item)}")
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


def _extra_fields(
    item: Mapping[str, object],
    known: frozenset[str],
    kept: Mapping[str, object] | None = None,
) -> str | None:
    """Served keys without a column, as JSON text, so new API fields are kept until modelled.

    `kept` adds what a derived column left of a key it reads (e.g. unknown sub-fields). Values
    under a secret-looking name are replaced, at any depth.
    """
    extra = {key: value for key, value in item.items() if key not in known}
    extra.update(kept or {})
    redacted = {key: _redacted(key, value) for key, value in extra.items()}
    return canonical_json(redacted) if redacted else None


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


def _scalar_input(value: object) -> object:
    """A served value as a column expecting a scalar may read it: an object or array has its
    secret-looking values redacted (the column stores its text, or quotes it in `value_error`)
    and one nested too deeply to write out becomes a placeholder, as in `extra_fields`."""
    if not isinstance(value, Mapping | list):
        return value
    redacted = _redacted(None, value)
    return TOO_DEEP if canonical_json(redacted) == canonical_json(TOO_DEEP) else redacted


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


def _strategy_config(
    item: Mapping[str, object],
) -> tuple[dict[str, object], list[str], dict[str, object]]:
    """The `strategy_config_*` columns, why a value could not be read, and what is left of it.

    What is left (sub-fields without a column, or the whole value when it is not an object) is
    kept in `extra_fields`, so a field the API adds to `strategy_config` is not lost.
    """
    raw = item.get("strategy_config")
    values: dict[str, object] = {f"strategy_config_{key}": None for key in STRATEGY_KEYS}
    if raw is None:
        return values, [], {}
    if not isinstance(raw, Mapping):
        problem = f"strategy_config {raw_text(raw)} is not an object (kept in extra_fields)"
        return values, [problem], {"strategy_config": raw}
    problems = []
    for key in STRATEGY_KEYS:
        values[f"strategy_config_{key}"], problem = read_int(raw.get(key))
        if problem:
            problems.append(f"strategy_config.{key} {problem}")
    rest = {key: value for key, value in raw.items() if key not in STRATEGY_KEYS}
    return values, problems, ({"strategy_config": rest} if rest else {})


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
    values, problems = read_plain(item, CONFIG_TABLE)
    values.update(
        func_urn=served_urn,
        function_urn=function_urn,
        region=region,
        project_id=project_id,
        package=urn.package,
        function_name=urn.function_name,
        qualifier=urn.qualifier,
        qualifier_kind=urn.qualifier_kind,
        urn_error=urn_error,
        **flatten_destination_config(item.get("destination_config")),
        **_timestamp("created_time", item, naive_zone),
        **_timestamp("last_modified", item, naive_zone),
        extra_fields=_extra_fields(item, CONFIG_ITEM_KEYS),
        value_error=_value_error(problems),
        duplicate_note=None,
        row_version=None,  # set when the row is sent: notes may still be added
    )
    return _row(values, CONFIG_TABLE)


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
    identity = _identity(item, "function")
    served = {key: _scalar_input(value) for key, value in item.items()}
    values, problems = read_plain(served, FUNCTION_TABLE)
    environment_names, environment_problems = _environment_names(item)
    strategy, strategy_problems, strategy_left = _strategy_config(served)
    values.update(
        func_urn=identity,
        region=region,
        project_id=project_id,
        **_timestamp("last_modified", item, naive_zone),
        environment_variable_names=environment_names,
        **{name: as_text(served.get(name)) or None for name in EMPTY_MEANS_NONE},
        **strategy,
        extra_fields=_extra_fields(item, FUNCTION_ITEM_KEYS, strategy_left),
        value_error=_value_error(problems + environment_problems + strategy_problems),
        duplicate_note=None,
        row_version=None,  # set when the row is sent: notes may still be added
    )
    return _row(values, FUNCTION_TABLE)


def _row(values: dict[str, object], table: tuple[Column, ...]) -> dict[str, object]:
    """The row in the table's column order, every text storable."""
    return storable_row({column.name: values[column.name] for column in table})


def _timestamp_columns(name: str, subject: str) -> tuple[Column, ...]:
    """An instant and the raw text it was read from, matching `_timestamp`."""
    return (
        Column(
            name, "timestamp", f"{subject}; naive values read in the configured zone", reads=(name,)
        ),
        Column(f"{name}_raw", "text", f"{subject}, as served"),
    )


def _none_when_empty(name: str, description: str) -> Column:
    """A text column read as served, but NULL where the API serves `""` (its "none")."""
    if name not in EMPTY_MEANS_NONE:
        raise ValueError(f"{name} is not in EMPTY_MEANS_NONE, so shape_function would not read it")
    return Column(
        name, "text", f"{description}; NULL when none ('' served) or not served", reads=(name,)
    )


_EXTRA_FIELDS = (
    "JSON of served fields without a column (secret-looking values redacted); NULL when none"
)
_VALUE_ERROR = "Why a served value could not be stored as read (raw value quoted); NULL when fine"
_DUPLICATE_NOTE = "Other copies of this item the API served, and which one was kept; NULL if none"
_ROW_VERSION = (
    "Fingerprint of this version: a hash of the row's other non-NULL values. The history and "
    "the next run's change detection compare versions by it"
)
_TRAILER = (
    Column("extra_fields", "text", _EXTRA_FIELDS),
    Column("value_error", "text", _VALUE_ERROR),
    Column("duplicate_note", "text", _DUPLICATE_NOTE),
    Column(ROW_VERSION, "text", _ROW_VERSION, False),
)

CONFIG_TABLE: tuple[Column, ...] = (
    Column("func_urn", "text", "Qualified URN of the config as served", False, reads=("func_urn",)),
    Column("function_urn", "text", "Unqualified URN the config was fetched for", False),
    Column("region", "text", "Region of the scope the config was fetched in", False),
    Column("project_id", "text", "Project of the scope the config was fetched in", False),
    Column("package", "text", "Function package (app)", False),
    Column("function_name", "text", "Function name", False),
    Column("qualifier", "text", "latest, a version, or !alias; NULL when unqualified or unread"),
    Column("qualifier_kind", "text", "latest, version or alias; NULL when no qualifier"),
    Column("urn_error", "text", "Why func_urn could not be read or belongs elsewhere"),
    plain("max_async_event_age_in_seconds", "bigint", "Maximum age of an async event, seconds"),
    plain("max_async_retry_attempts", "bigint", "Maximum retries of an async invocation"),
    plain("enable_async_status_log", "bool", "Async status logging; NULL when not served"),
    *(
        replace(column, reads=("destination_config",))
        for side in SIDES
        for column in side_columns(side)
    ),
    *_timestamp_columns("created_time", "When the config was created"),
    *_timestamp_columns("last_modified", "When the config was last modified"),
    *_TRAILER,
)
"""The configs table, in `shape_config`'s order."""

FUNCTION_TABLE: tuple[Column, ...] = (
    Column("func_urn", "text", "Unqualified URN of the function", False, reads=("func_urn",)),
    plain("func_name", "text", "Function name"),
    plain("package", "text", "Function package (app)"),
    plain("namespace", "text", "Namespace (project id) as served"),
    Column("region", "text", "Region of the scope the function was listed in", False),
    Column("project_id", "text", "Project of the scope the function was listed in", False),
    plain("runtime", "text", "Runtime, e.g. Python3.9"),
    plain("handler", "text", "Handler entry point"),
    plain("memory_size", "bigint", "Memory size in MB"),
    plain("timeout", "bigint", "Timeout in seconds"),
    plain("code_type", "text", "How the code is supplied, e.g. inline, zip or obs"),
    plain("version", "text", "Version as served in the listing"),
    plain("description", "text", "Function description"),
    plain("enterprise_project_id", "text", "Enterprise project the function belongs to"),
    *_timestamp_columns("last_modified", "When the function was last modified"),
    Column(
        "environment_variable_names",
        "text",
        "JSON array of the environment variable names; their values are never stored",
        reads=ENVIRONMENT_KEYS,
    ),
    plain("resource_id", "text", "Resource id of the function (a UUID)"),
    plain("domain_id", "text", "Account (domain) the function belongs to"),
    plain("project_name", "text", "Name of the project as served, e.g. cn-north-4"),
    plain("cpu", "bigint", "CPU in millicores (1000 = one core), in proportion to memory_size"),
    plain("gpu_memory", "bigint", "GPU memory in MB; NULL when not served (only GPU functions)"),
    plain("code_filename", "text", "File name of the code package"),
    _none_when_empty("code_url", "OBS address of the code package when code_type is obs"),
    plain("code_size", "bigint", "Code size in bytes"),
    plain("digest", "text", "SHA-512 of the code (hex): it changes when the code changes"),
    plain("image_name", "text", "Internal identifier of the function version's code image"),
    _none_when_empty("xrole", "Agency the function uses to reach other services"),
    _none_when_empty("app_xrole", "Agency of the function's app"),
    _none_when_empty("func_vpc_id", "VPC the function is attached to"),
    Column(
        "strategy_config_concurrency",
        "bigint",
        "strategy_config.concurrency: maximum instances; 0 = function disabled, -1 = no limit",
        reads=("strategy_config",),
    ),
    Column(
        "strategy_config_concurrent_num",
        "bigint",
        "strategy_config.concurrent_num: maximum concurrent requests per instance",
        reads=("strategy_config",),
    ),
    _none_when_empty("initializer_handler", "Initializer entry point"),
    plain("initializer_timeout", "bigint", "Initializer timeout in seconds (0 when none)"),
    _none_when_empty("pre_stop_handler", "Pre-stop entry point"),
    plain("pre_stop_timeout", "bigint", "Pre-stop timeout in seconds (0 when none)"),
    plain("long_time", "bool", "Timeouts beyond 900 s allowed; NULL when not served"),
    _none_when_empty("log_group_id", "LTS log group the function logs to"),
    _none_when_empty("log_stream_id", "LTS log stream the function logs to"),
    plain("type", "text", "Function generation: v1 (original) or v2"),
    plain("is_bridge_function", "bool", "Is a bridge function; NULL when not served"),
    plain("enable_dynamic_memory", "bool", "Dynamic memory enabled; NULL when not served"),
    plain("is_stateful_function", "bool", "Is a stateful function; NULL when not served"),
    *_TRAILER,
)
"""The functions table, in `shape_function`'s order."""

TABLE_SPECS = {"async_invoke_configs": CONFIG_TABLE, "functions": FUNCTION_TABLE}
"""Each table's declared columns, by table name."""
CONFIG_COLUMNS = dlt_columns(CONFIG_TABLE)
FUNCTION_COLUMNS = dlt_columns(FUNCTION_TABLE)
CONFIG_ITEM_KEYS = known_keys(CONFIG_TABLE)
"""Keys of an async-invoke-config item that have columns; any other lands in `extra_fields`."""
METRIC_KEYS = frozenset({"fail_count"})
"""ListFunctions keys that measure the function rather than configure it (`fail_count`: failed
executions in the last day). They are not stored at all: a value that moves every day would write
a new version of every function on every run, and bury real changes in the history."""
FUNCTION_ITEM_KEYS = known_keys(FUNCTION_TABLE) | METRIC_KEYS
"""Keys of a ListFunctions item that have columns (or are metrics, never stored); any other lands
in `extra_fields`."""
