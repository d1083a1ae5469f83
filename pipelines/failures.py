"""Why a run failed, in one line a scheduler can show: the connector's own error inside dlt's
wrappers, dlt's configuration errors named by our keys, a busy DuckDB file, or a Ctrl-C.

Never a traceback and never a secret: messages are built from keys and our own words.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator

import duckdb
from dlt.common.configuration.exceptions import (
    ConfigFieldMissingException,
    ConfigurationException,
    ConfigValueCannotBeCoercedException,
    LookupTrace,
    LookupTraces,
    flatten_traces,
)
from dlt.common.configuration.providers import EnvironProvider
from dlt.common.configuration.specs import ConnectionStringCredentials
from dlt.common.configuration.specs.exceptions import NativeValueError
from dlt.common.exceptions import MissingDependencyException

from pipelines.functiongraph.config.credentials import FunctionGraphCredentials
from pipelines.functiongraph.config.settings import env_key
from pipelines.functiongraph.errors import ConfigError, FunctionGraphError


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps: dlt's `.exception`, then `__cause__`, then `__context__`."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__


def env_names_with(value: object, suffix: str) -> list[str]:
    """Environment variables ending in `suffix` that hold `value` (where dlt found it)."""
    return sorted(
        name
        for name, text in os.environ.items()
        if name.upper().endswith(suffix.upper()) and text == str(value)
    )


def coercion(error: ConfigValueCannotBeCoercedException) -> str:
    """A value dlt could not read as its type, named by our key (a secret's value never shown)."""
    from pipelines.functiongraph.source import functiongraph  # dlt and the source: lazily

    name = error.field_name
    secret = name in FunctionGraphCredentials.get_resolvable_fields()
    if secret:
        key = env_key(f"credentials__{name}")
    elif name in inspect.signature(functiongraph.__wrapped__).parameters:
        key = env_key(name)
    else:
        found = env_names_with(error.field_value, f"__{name}")
        key = found[0] if found else name
    kinds = {
        int: "a whole number",
        float: "a number",
        bool: "true or false",
        dict: "a JSON object",
        list: "a JSON list",
    }
    kind = kinds.get(error.hint, f"of type {getattr(error.hint, '__name__', error.hint)}")
    shown = "" if secret else f", not {error.field_value!r}"
    dotted = key.lower().replace("__", ".")  # the same key in .dlt/config.toml
    return f"{key} ({dotted}) must be {kind}{shown}"


def missing(error: ConfigFieldMissingException) -> str:
    """Settings dlt could not find, named in the environment form a user would set."""
    environment = EnvironProvider().name
    hints = type(error.config).get_resolvable_fields()
    reasons = []
    for name, traces in error.traces.items():
        plain = [  # dlt also tries the keys prefixed by the pipeline name: not those
            trace
            for trace in flatten_traces(traces)
            if isinstance(trace, LookupTrace)
            and trace.provider == environment
            and trace.sections
            and trace.key.startswith("__".join(trace.sections).upper() + "__")
        ]
        nested = next((t for t in traces if isinstance(t, LookupTraces)), None)
        if nested is None:
            reasons.append(f"{plain[0].key if plain else name} is not set")
            continue
        key = "__".join(plain[0].sections).upper() if plain else name
        fields = ", ".join(nested.traces)
        state = "incomplete" if nested.resolved_fields_set else "not set"
        hint = hints.get(name)
        form = ""
        if isinstance(hint, type) and issubclass(hint, ConnectionStringCredentials):
            driver = getattr(hint, "drivername", None) or "driver"
            form = f" as a connection string {driver}://user:password@host:port/database or"
        reasons.append(
            f"{key} is {state} (missing {fields}): set it{form} key by key "
            f"({key}__<FIELD>) in .dlt/secrets.toml or the environment"
        )
    return "; ".join(reasons) or one_line(error)


def explain(error: BaseException) -> str:
    """One line for one of dlt's configuration errors."""
    if isinstance(error, ConfigValueCannotBeCoercedException):
        return coercion(error)
    if isinstance(error, ConfigFieldMissingException):
        return missing(error)
    if isinstance(error, NativeValueError):  # never quote the value: it may hold a password
        found = env_names_with(error.native_value, "")
        named = f"{found[0]}: " if len(found) == 1 else ""
        return named + one_line(error)
    return one_line(error)


def root_cause(exc: BaseException) -> BaseException:
    """The connector's own error inside dlt's wrappers, or dlt's config error, or `exc`.

    dlt's configuration errors become a `ConfigError` naming the key to fix in its environment
    form (`SOURCES__FUNCTIONGRAPH__MAX_WORKERS`, `DESTINATION__POSTGRES__CREDENTIALS`), never
    quoting a secret. DuckDB refusing its file lock (another process, e.g. a notebook, has the
    file open for writing) becomes one line naming the situation, instead of dlt's credentials
    hint.
    """
    found: BaseException = exc
    for current in causes(exc):
        if isinstance(current, FunctionGraphError):
            return current
        if isinstance(current, ConfigurationException | MissingDependencyException):
            found = ConfigError(explain(current))
        if isinstance(current, duckdb.IOException) and "lock" in str(current).lower():
            return FunctionGraphError(
                f"another process is using the DuckDB file: {one_line(current, 300)}"
            )
    return found


def interrupted(exc: BaseException) -> bool:
    """Whether a Ctrl-C is what ended the run, wherever dlt wrapped it."""
    return any(isinstance(current, KeyboardInterrupt) for current in causes(exc))


def one_line(exc: BaseException, limit: int = 600) -> str:
    """A failure reason a scheduler can show in one line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
