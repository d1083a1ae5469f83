"""What changed since the last load: the warehouse's live rows against what this run fetched.

A run costs what changed, not the size of the estate: the fingerprints (`row_version`) of the
live rows of this run's scopes are read from the warehouse when extraction starts, and each
function's fetched rows are compared with them. Only new and changed rows go to dlt, plus a
`gone` marker for each live row that a complete fetch no longer served (see `retirement`).

The fingerprints are read from the warehouse itself, never from local state, so a warehouse that
was restored, wiped or edited by hand is compared as it is: whatever it lacks is sent again. They
are read when extraction starts, after any package an interrupted run left behind was loaded,
in the warehouse's turn (see `pipelines.locks`): never while another run writes the file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import dlt

from pipelines.functiongraph.config.settings import Scope
from pipelines.functiongraph.errors import FunctionGraphError
from pipelines.functiongraph.retirement import gone_config, gone_function
from pipelines.functiongraph.shaping.records import ROW_VERSION, TABLE_SPECS
from pipelines.functiongraph.shaping.values import row_version

logger = logging.getLogger(__name__)

SHADOWED = ""
"""The version recorded for a func_urn that has several live rows: never equal to a fetched
one, so such a row is always sent, and the merge leaves one live version."""
LEGACY_PREFIX = "legacy:"
"""Marks the fingerprints given to retired rows loaded before rows carried their own."""
_BATCH = 10_000
_INSERT_BATCH = 500
_VERSIONS = "fgs_legacy_row_versions"


def stamped(row: dict[str, Any]) -> str:
    """Set the row's fingerprint from its final content, and return it."""
    row[ROW_VERSION] = row_version(row, ROW_VERSION)
    return row[ROW_VERSION]


@dataclass
class LiveRows:
    """The live versions of this run's scopes; entries are taken as functions are compared, so
    what is left at the end of a complete listing is what the API no longer lists."""

    configs: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    """scope key → function_urn → config func_urn → row_version"""
    functions: dict[str, dict[str, str]] = field(default_factory=dict)
    """scope key → function func_urn → row_version"""

    def add_config(self, scope: str, function_urn: str, func_urn: str, version: str) -> None:
        configs = self.configs.setdefault(scope, {}).setdefault(function_urn, {})
        configs[func_urn] = SHADOWED if func_urn in configs else version

    def add_function(self, scope: str, func_urn: str, version: str) -> None:
        functions = self.functions.setdefault(scope, {})
        functions[func_urn] = SHADOWED if func_urn in functions else version

    def config_changes(
        self, scope: Scope, function_urn: str, rows: Iterable[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """What a complete fetch of one function's configs changes: its rows that are new or
        differ, and a `gone` marker for each live config it no longer serves."""
        live = self.configs.get(scope.key, {}).pop(function_urn, {})
        changed = [row for row in rows if live.pop(row["func_urn"], None) != stamped(row)]
        return changed + [
            gone_config(urn, function_urn, scope.region, scope.project_id) for urn in live
        ]

    def keep_configs(self, scope: Scope, function_urn: str) -> None:
        """A function whose configs could not be fetched: its live configs stay as they are."""
        self.configs.get(scope.key, {}).pop(function_urn, None)

    def function_changes(self, scope: Scope, rows: Iterable[dict[str, Any]]) -> list[Any]:
        """The listed functions' rows that are new or differ from their live version."""
        live = self.functions.get(scope.key, {})
        return [row for row in rows if live.pop(row["func_urn"], None) != stamped(row)]

    def keep_function(self, scope: Scope, func_urn: str) -> None:
        """A listed function whose row could not be made: its live row stays as it is."""
        self.functions.get(scope.key, {}).pop(func_urn, None)

    def unlisted(self, scope: Scope) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """`gone` markers for the functions a complete listing of `scope` no longer listed, and
        for all their configs: (config markers, function markers)."""
        functions = self.functions.pop(scope.key, {})
        configs = self.configs.pop(scope.key, {})
        config_markers = [
            gone_config(urn, function_urn, scope.region, scope.project_id)
            for function_urn, live in configs.items()
            for urn in live
        ]
        function_markers = [
            gone_function(urn, scope.region, scope.project_id)
            for urn in sorted(set(functions) | set(configs))
        ]
        return config_markers, function_markers


def read_live(pipeline: dlt.Pipeline | None, scopes: list[Scope]) -> LiveRows:
    """The live rows' fingerprints of `scopes` in the pipeline's warehouse.

    Nothing is live without a warehouse or before the first load. Tables loaded by a version of
    the connector without fingerprints get them first (see `_fingerprint_legacy_rows`).
    """
    from pipelines.locks import LockTimeout, turn  # beside the runner, which imports this

    live = LiveRows()
    if pipeline is None or pipeline.destination is None or not scopes:
        return live
    keys = [scope.key for scope in scopes]
    where = f"_dlt_valid_to IS NULL AND region || '/' || project_id IN ({_marks(keys)})"
    try:
        with turn(pipeline), pipeline.sql_client() as client:
            present = _columns(client, pipeline.dataset_name)
            for table, columns in present.items():
                if ROW_VERSION not in columns:
                    _fingerprint_legacy_rows(client, table, columns)
            if "async_invoke_configs" in present:
                sql = (
                    "SELECT region || '/' || project_id, function_urn, func_urn, row_version "
                    f"FROM {client.make_qualified_table_name('async_invoke_configs')} "
                    f"WHERE {where}"
                )
                for row in _rows(client, sql, keys):
                    live.add_config(*row)
            if "functions" in present:
                sql = (
                    "SELECT region || '/' || project_id, func_urn, row_version "
                    f"FROM {client.make_qualified_table_name('functions')} WHERE {where}"
                )
                for row in _rows(client, sql, keys):
                    live.add_function(*row)
    except LockTimeout:
        raise
    except Exception as exc:
        raise FunctionGraphError(
            f"could not read what the warehouse holds ({type(exc).__name__}: {exc}); "
            "nothing was fetched or changed"
        ) from None
    return live


def _marks(values: list[str]) -> str:
    return ", ".join(["%s"] * len(values))


def _columns(client: Any, dataset: str) -> dict[str, set[str]]:
    """The data tables that exist, with their column names."""
    rows = client.execute_sql(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name IN ('functions', 'async_invoke_configs')",
        dataset,
    )
    present: dict[str, set[str]] = {}
    for table, column in rows:
        present.setdefault(table, set()).add(column)
    return present


def _fingerprint_legacy_rows(client: Any, table: str, columns: set[str]) -> None:
    """Give the rows of a table loaded by an earlier version their fingerprints.

    Live rows get the fingerprint of what they hold, computed as for a fetched row, so the first
    run after an upgrade finds them unchanged and writes nothing for them. Retired rows, never
    compared again, get `legacy:` and dlt's former row hash. One transaction: no run ever meets
    the column with NULLs in it, which the merge's NOT IN would silently match to nothing.
    """
    name = client.make_qualified_table_name(table)
    readable = [c.name for c in TABLE_SPECS[table] if c.name in columns and c.name != ROW_VERSION]
    select = ", ".join(client.escape_column_name(column) for column in readable)
    logger.info("adding %s to %s, loaded by an earlier version", ROW_VERSION, table)
    with client.begin_transaction():
        live = [
            (row[0], row_version(dict(zip(readable, row[1:], strict=True)), ROW_VERSION))
            for row in _rows(
                client, f"SELECT _dlt_id, {select} FROM {name} WHERE _dlt_valid_to IS NULL", []
            )
        ]
        client.execute_sql(f"ALTER TABLE {name} ADD COLUMN {ROW_VERSION} varchar")
        client.execute_sql(f"CREATE TEMPORARY TABLE {_VERSIONS} (id varchar, version varchar)")
        for start in range(0, len(live), _INSERT_BATCH):
            batch = live[start : start + _INSERT_BATCH]
            values = ", ".join(["(%s, %s)"] * len(batch))
            client.execute_sql(
                f"INSERT INTO {_VERSIONS} VALUES {values}", *[v for pair in batch for v in pair]
            )
        client.execute_sql(
            f"UPDATE {name} SET {ROW_VERSION} = {_VERSIONS}.version FROM {_VERSIONS} "
            f"WHERE {name}._dlt_id = {_VERSIONS}.id"
        )
        client.execute_sql(
            f"UPDATE {name} SET {ROW_VERSION} = '{LEGACY_PREFIX}' || _dlt_id "
            f"WHERE {ROW_VERSION} IS NULL"
        )
        client.execute_sql(f"DROP TABLE {_VERSIONS}")


def _rows(client: Any, sql: str, args: list[str]) -> Iterable[tuple[str, ...]]:
    """The result in batches, so a large estate is never one list in memory."""
    with client.execute_query(sql, *args) as cursor:
        while batch := cursor.fetchmany(_BATCH):
            yield from batch
