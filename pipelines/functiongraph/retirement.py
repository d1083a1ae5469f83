"""Which rows a load may retire: the `scd2` merge rules and the marker rows that drive them.

The API has no "changed since" filter, so every run reads a full snapshot; what the warehouse
already holds decides what is sent (see `changes`): only rows that are new or differ from their
live version, and a `gone` marker for each live row the run proved deleted. dlt's `scd2` strategy
keeps the history: every row carries its own fingerprint (`row_version`), a new fingerprint
becomes a new version, and a retired one gets its `_dlt_valid_to` set.

A plain `scd2` snapshot retires every live row that the load does not contain. Here the merge's
`destination_scope` limits retirement to the rows whose identity the load names, as a data row
(its older version retires) or as a `gone` marker (it retires): the `func_urn` with the scope it
was fetched in, and for a config the function it was fetched for, so that an item the API also
served elsewhere (a hostile or shifting answer) can never retire the row kept there. So a row is
retired only when a complete fetch proved it changed or gone; functions that failed, or were not
sent because they did not change, are outside the scope and stay exactly as they were.

Markers never reach the tables: `source_filter` drops them before the insert. The whole merge is
one dlt load job per table, so a crash leaves either the old state or the new one, never a mix.
"""

from __future__ import annotations

from typing import Any

from dlt.common.schema.typing import TColumnSchema

from pipelines.functiongraph.shaping.records import ROW_VERSION

SCOPE_COLUMN = "_fgs_scope"
GONE = "gone"

SCOPE_COLUMN_SCHEMA: TColumnSchema = {
    "data_type": "text",
    "nullable": True,
    "description": "internal: marker rows, never stored (see README, History)",
}


def _scd2(identity: tuple[str, ...]) -> dict[str, Any]:
    """The write disposition of a table whose rows are identified by the `identity` columns."""
    columns = ", ".join(identity)
    return {
        "disposition": "merge",
        "strategy": "scd2",
        "row_version_column_name": ROW_VERSION,
        "source_filter": f"{SCOPE_COLUMN} IS NULL",
        # dlt ANDs the scope into its own conditions without parentheses: keep ours closed
        "destination_scope": f"(({columns}) IN (SELECT {columns} FROM {{staging_table}}))",
    }


CONFIGS_DISPOSITION = _scd2(("func_urn", "function_urn", "region", "project_id"))
"""A config is retired only under the function and scope it was fetched for: a func_urn the API
also served elsewhere (another function, another project) never retires that other row."""
FUNCTIONS_DISPOSITION = _scd2(("func_urn", "region", "project_id"))
DISPOSITIONS = {"functions": FUNCTIONS_DISPOSITION, "async_invoke_configs": CONFIGS_DISPOSITION}
"""Each table's write disposition, by table name."""


def gone_function(func_urn: str, region: str, project_id: str) -> dict[str, Any]:
    """A marker retiring the live row of a function that a complete listing no longer lists."""
    return {
        "func_urn": func_urn,
        "region": region,
        "project_id": project_id,
        ROW_VERSION: GONE,  # dlt requires one; the merge never compares a marker's
        SCOPE_COLUMN: GONE,
    }


def gone_config(func_urn: str, function_urn: str, region: str, project_id: str) -> dict[str, Any]:
    """A marker retiring a live config that a complete fetch of its function no longer served;
    required columns get placeholder values."""
    return {
        "func_urn": func_urn,
        "function_urn": function_urn,
        "region": region,
        "project_id": project_id,
        "package": "",
        "function_name": "",
        ROW_VERSION: GONE,
        SCOPE_COLUMN: GONE,
    }
