"""Which rows a run may retire: scope markers for dlt's `scd2` merge.

The API has no "changed since" filter, so every run reads a full snapshot and dlt's `scd2`
strategy keeps history: a row that is no longer served gets its `_dlt_valid_to` set, a changed
row gets a new version, an unchanged row is not written at all.

A plain `scd2` snapshot would also retire every row that a *failed* fetch did not return. So
each run writes scope markers beside the data, and the merge's `destination_scope` limits
retirement to what was fetched completely:

- `function_complete`: every config page of this function arrived (or it answered 404 FSS.1051,
  i.e. it is gone): its configs that were not served are retired;
- `project_complete`: every function page of this project arrived: functions no longer listed,
  and their configs, are retired;
- `function_incomplete`: fetching this function's configs failed: its rows stay as they were,
  even inside a complete project.

Markers never reach the tables: `source_filter` drops them before the insert. The whole merge is
one dlt load job, so a crash leaves either the old state or the new one, never a mix.
"""

from __future__ import annotations

from typing import Any

from dlt.common.schema.typing import TColumnSchema

SCOPE_COLUMN = "_fgs_scope"
FUNCTION_COMPLETE = "function_complete"
FUNCTION_INCOMPLETE = "function_incomplete"
PROJECT_COMPLETE = "project_complete"

SCOPE_COLUMN_SCHEMA: TColumnSchema = {
    "data_type": "text",
    "nullable": True,
    "description": "internal: scope marker rows, never stored (see README, History)",
}
_PROJECT_KEY = "region || ':' || project_id"


def _marked(expression: str, kind: str) -> str:
    return (
        f"{expression} IN (SELECT {expression} FROM {{staging_table}} "
        f"WHERE {SCOPE_COLUMN} = '{kind}')"
    )


def _scd2(destination_scope: str) -> dict[str, Any]:
    # dlt ANDs the scope into its own conditions without parentheses: keep ours closed.
    return {
        "disposition": "merge",
        "strategy": "scd2",
        "source_filter": f"{SCOPE_COLUMN} IS NULL",
        "destination_scope": f"({destination_scope})",
    }


FUNCTIONS_DISPOSITION = _scd2(_marked(_PROJECT_KEY, PROJECT_COMPLETE))
CONFIGS_DISPOSITION = _scd2(
    f"{_marked('function_urn', FUNCTION_COMPLETE)} OR ({_marked(_PROJECT_KEY, PROJECT_COMPLETE)}"
    f" AND NOT {_marked('function_urn', FUNCTION_INCOMPLETE)})"
)


def function_marker(kind: str, region: str, project_id: str) -> dict[str, Any]:
    """A marker row for the `functions` table (only project scopes apply there)."""
    return {
        "func_urn": f"{kind}:{region}:{project_id}",
        "region": region,
        "project_id": project_id,
        SCOPE_COLUMN: kind,
    }


def config_marker(
    kind: str, region: str, project_id: str, function_urn: str = ""
) -> dict[str, Any]:
    """A marker row for `async_invoke_configs`; required columns get placeholder values."""
    return {
        "func_urn": f"{kind}:{function_urn or region + ':' + project_id}",
        "function_urn": function_urn,
        "region": region,
        "project_id": project_id,
        "package": "",
        "function_name": "",
        SCOPE_COLUMN: kind,
    }
