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

import threading
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


SCOPE_STATUSES = ("complete", "partial", "failed")


class RunOutcome:
    """What one extraction fetched and what failed, per scope, kept in dlt's source state.

    dlt commits the source state with the load package, so the runner reads the outcome of the
    very run it started (`pipeline.state`), and the last outcome is also visible in the
    destination's `_dlt_pipeline_state`. A scope's status is `complete` when everything in it was
    fetched completely, `partial` when some of it was, and `failed` when nothing was; counts
    cover only what this run fetched.
    """

    _lock = threading.Lock()

    def __init__(self, state: dict[str, Any], run_id: str, scopes: list[str]) -> None:
        with self._lock:
            if state.get("last_run", {}).get("run_id") != run_id:
                state["last_run"] = {
                    "run_id": run_id,
                    "failures": [],
                    "scopes": {
                        key: {"complete": True, "functions": 0, "configs": 0} for key in scopes
                    },
                }
        self._run = state["last_run"]

    def fail(self, scope: str, reason: str) -> None:
        """Something in `scope` could not be fetched completely; `reason` names it."""
        with self._lock:
            self._run["failures"].append(reason)
            self._run["scopes"][scope]["complete"] = False

    def fetched(self, scope: str, functions: int, configs: int) -> None:
        with self._lock:
            counts = self._run["scopes"][scope]
            counts["functions"] += functions
            counts["configs"] += configs


def failures_of(source_state: dict[str, Any]) -> list[str]:
    return list(source_state.get("last_run", {}).get("failures", []))


def scope_outcomes(source_state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per scope: `status` (see `SCOPE_STATUSES`) and the functions and configs fetched."""
    outcomes = {}
    for key, counts in source_state.get("last_run", {}).get("scopes", {}).items():
        status = (
            "complete" if counts["complete"] else "partial" if counts["functions"] else "failed"
        )
        outcomes[key] = {
            "status": status,
            "functions": counts["functions"],
            "configs": counts["configs"],
        }
    return outcomes
