"""Which `sources.functiongraph` keys exist, and which configured ones do not.

dlt ignores keys it does not look up, so a typo in a setting would silently fall back to the
default (or, for `REGIONS`, widen discovery to every region). The command line refuses them.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterator, Mapping
from typing import Any

from pipelines.functiongraph.config.settings import ENV_PREFIX

DLT_SUBSECTIONS = ("FUNCTIONGRAPH", "FUNCTION_INVENTORY", "DATA_WRITER", "EXTRACT", "SCHEMA")
"""Sections dlt itself reads below the source: not ours to judge."""


def source_keys() -> list[str]:
    """Every key of `[sources.functiongraph]`, in environment form without the prefix: the
    source function's parameters and, under CREDENTIALS__, the credential fields."""
    from pipelines.functiongraph.config.credentials import FunctionGraphCredentials
    from pipelines.functiongraph.source import functiongraph

    keys = [name.upper() for name in inspect.signature(functiongraph.__wrapped__).parameters]
    fields = FunctionGraphCredentials.get_resolvable_fields()
    return keys + [f"CREDENTIALS__{name.upper()}" for name in fields]


def unknown_source_keys(environ: Mapping[str, str]) -> Iterator[str]:
    """One message per `SOURCES__FUNCTIONGRAPH__*` environment variable (or key of
    `[sources.functiongraph]` in .dlt/config.toml and .dlt/secrets.toml) that is not a setting.

    dlt ignores such keys silently, so a typo would quietly fall back to a default (or, for
    `REGIONS`, widen a discovery to every region); naming it with the closest known key is
    kinder. Sections dlt itself reads below the source (`DLT_SUBSECTIONS`) are left alone.
    """
    known = source_keys()
    found = [(name, name) for name in environ if name.upper().startswith(ENV_PREFIX)]
    found += [(key, where) for key, where in toml_source_keys()]
    for name, where in sorted(found):
        if name != name.upper():
            yield (
                f"{where} is not read (dlt reads environment variables in upper case): "
                f"did you mean {name.upper()}?"
            )
            continue
        key = name[len(ENV_PREFIX) :]
        while key.startswith("FUNCTIONGRAPH__"):  # dlt's source-name section, same keys
            key = key[len("FUNCTIONGRAPH__") :]
        if key in known or key.split("__")[0] in DLT_SUBSECTIONS:
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
        hint = f"did you mean {ENV_PREFIX}{close[0]}?" if close else "see README: Configuration"
        yield f"{where} is not a setting of this connector (dlt would ignore it): {hint}"


def toml_source_keys() -> Iterator[tuple[str, str]]:
    """Keys of `[sources.functiongraph]` in dlt's TOML files, in environment form, with where."""
    from dlt.common.configuration.container import Container
    from dlt.common.configuration.providers.doc import BaseDocProvider
    from dlt.common.configuration.specs import PluggableRunContext

    for provider in Container()[PluggableRunContext].providers.providers:
        if not isinstance(provider, BaseDocProvider):
            continue
        table, _ = provider.get_value("functiongraph", Any, None, "sources")
        if not isinstance(table, Mapping):
            continue
        for name in flattened(table):
            dotted = "sources.functiongraph." + name.replace("__", ".")
            yield (ENV_PREFIX + name.upper(), f"{dotted} in {provider.name}")


def flattened(table: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """The leaf keys of a TOML table as `a__b` paths (a list of tables, `projects`, is a leaf)."""
    for key, value in table.items():
        if isinstance(value, Mapping) and value:
            yield from flattened(value, f"{prefix}{key}__")
        else:
            yield f"{prefix}{key}"
