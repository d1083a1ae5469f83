"""What one run fetched and what failed, per scope: the basis of the summary and the exit code.

Kept apart from `retirement` (which decides what a run may retire) because it is read by the
runner after the run, while the retirement rules travel with the data into dlt's merge.
"""

from __future__ import annotations

import threading
from typing import Any


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
    """Per scope: `status` (`complete`, `partial` or `failed`, see `RunOutcome`) and the
    functions and configs fetched."""
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
