"""Change detection against the live rows: what is sent, what is marked gone, what is left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pipelines.functiongraph.changes import LiveRows, stamped
from pipelines.functiongraph.config.settings import Scope
from pipelines.functiongraph.retirement import GONE, SCOPE_COLUMN
from pipelines.functiongraph.shaping.records import ROW_VERSION
from pipelines.functiongraph.shaping.values import row_version

SCOPE = Scope("cn-north-4", "p1", "https://fgs.example")
OTHER = Scope("cn-north-4", "p2", "https://fgs.example")
F1 = "urn:fss:cn-north-4:p1:function:default:one"
F2 = "urn:fss:cn-north-4:p1:function:default:two"


def config(func_urn: str, retries: int = 3, function_urn: str = F1) -> dict[str, Any]:
    return {"func_urn": func_urn, "function_urn": function_urn, "retries": retries}


def live_of(*rows: dict[str, Any], scope: Scope = SCOPE) -> LiveRows:
    live = LiveRows()
    for row in rows:
        version = stamped(dict(row))
        live.add_config(scope.key, row["function_urn"], row["func_urn"], version)
    return live


def gone(rows: list[dict[str, Any]]) -> list[str]:
    return [row["func_urn"] for row in rows if row.get(SCOPE_COLUMN) == GONE]


def sent(rows: list[dict[str, Any]]) -> list[str]:
    return [row["func_urn"] for row in rows if SCOPE_COLUMN not in row]


# -- fingerprints -------------------------------------------------------------------------------


def test_fingerprint_follows_content_not_key_order_or_nulls() -> None:
    row = {"a": 1, "b": "x", "c": None}
    assert row_version(row, "v") == row_version({"b": "x", "a": 1}, "v")
    assert row_version(row, "v") == row_version({**row, "new_column": None}, "v")
    assert row_version(row, "v") != row_version({**row, "a": 2}, "v")
    assert row_version(row, "v") != row_version({**row, "c": ""}, "v")
    assert len(row_version(row, "v")) == 32


def test_fingerprint_ignores_its_own_column_and_tells_types_apart() -> None:
    assert row_version({"a": 1, "v": "old"}, "v") == row_version({"a": 1}, "v")
    assert row_version({"a": 1}, "v") != row_version({"a": "1"}, "v")
    assert row_version({"a": True}, "v") != row_version({"a": 1}, "v")


def test_fingerprint_of_an_instant_does_not_depend_on_its_zone() -> None:
    """A timestamp read back from the warehouse (in the driver's zone) keeps its fingerprint."""
    shaped = datetime(2021, 3, 4, 14, 50, 2, 123456, tzinfo=timezone(timedelta(hours=8)))
    read_back = datetime(2021, 3, 4, 6, 50, 2, 123456, tzinfo=UTC)
    assert row_version({"t": shaped}, "v") == row_version({"t": read_back}, "v")
    assert row_version({"t": shaped}, "v") != row_version({"t": read_back.replace(second=3)}, "v")


def test_stamped_sets_the_row_version_from_the_final_content() -> None:
    row = config(f"{F1}:latest")
    first = stamped(row)
    assert row[ROW_VERSION] == first
    row["duplicate_note"] = "served twice"
    assert stamped(row) != first


# -- configs ------------------------------------------------------------------------------------


def test_unchanged_configs_send_nothing() -> None:
    rows = [config(f"{F1}:latest"), config(f"{F1}:v1")]
    live = live_of(*rows)
    assert live.config_changes(SCOPE, F1, [dict(row) for row in rows]) == []


def test_changed_and_new_configs_are_sent_and_missing_ones_marked_gone() -> None:
    live = live_of(config(f"{F1}:latest"), config(f"{F1}:v1"), config(f"{F1}:v2"))
    out = live.config_changes(
        SCOPE, F1, [config(f"{F1}:latest"), config(f"{F1}:v1", 5), config(f"{F1}:v3")]
    )
    assert sent(out) == [f"{F1}:v1", f"{F1}:v3"]
    assert gone(out) == [f"{F1}:v2"]
    marker = out[-1]
    assert (marker["function_urn"], marker["region"], marker["project_id"]) == (
        F1,
        "cn-north-4",
        "p1",
    )


def test_a_function_compared_once_is_not_retired_by_the_listing() -> None:
    live = live_of(config(f"{F1}:latest"), config(f"{F2}:latest", function_urn=F2))
    live.config_changes(SCOPE, F1, [config(f"{F1}:latest")])
    live.keep_configs(SCOPE, F2)  # its fetch failed
    assert live.unlisted(SCOPE) == ([], [])


def test_a_deleted_function_has_all_its_configs_marked_gone() -> None:
    live = live_of(config(f"{F1}:latest"), config(f"{F1}:v1"))
    assert gone(live.config_changes(SCOPE, F1, [])) == [f"{F1}:latest", f"{F1}:v1"]


def test_several_live_rows_of_one_func_urn_are_always_sent() -> None:
    row = config(f"{F1}:latest")
    live = live_of(row, row)
    assert sent(live.config_changes(SCOPE, F1, [dict(row)])) == [f"{F1}:latest"]


def test_scopes_are_compared_apart() -> None:
    live = live_of(config(f"{F1}:latest"), scope=OTHER)
    assert sent(live.config_changes(SCOPE, F1, [config(f"{F1}:latest")])) == [f"{F1}:latest"]
    assert gone(live.unlisted(OTHER)[0]) == [f"{F1}:latest"]


# -- functions and the end of a listing ---------------------------------------------------------


def test_function_rows_are_sent_only_when_new_or_changed() -> None:
    one, two = {"func_urn": F1, "memory_size": 128}, {"func_urn": F2, "memory_size": 256}
    live = LiveRows()
    live.add_function(SCOPE.key, F1, stamped(dict(one)))
    live.add_function(SCOPE.key, F2, stamped(dict(two)))
    changed = live.function_changes(SCOPE, [dict(one), {**two, "memory_size": 512}])
    assert [row["func_urn"] for row in changed] == [F2]
    assert changed[0][ROW_VERSION] == row_version(changed[0], ROW_VERSION)


def test_unlisted_functions_and_their_configs_are_marked_gone() -> None:
    live = live_of(config(f"{F2}:latest", function_urn=F2), config(f"{F2}:v1", function_urn=F2))
    live.add_function(SCOPE.key, F1, "v")
    live.add_function(SCOPE.key, F2, "v")
    live.add_function(SCOPE.key, "urn:only-configs-gone-with-it", "v")
    live.function_changes(SCOPE, [{"func_urn": F1}])
    configs, functions = live.unlisted(SCOPE)
    assert gone(configs) == [f"{F2}:latest", f"{F2}:v1"]
    assert gone(functions) == sorted([F2, "urn:only-configs-gone-with-it"])
    assert live.unlisted(SCOPE) == ([], [])  # taken: a second call retires nothing more


def test_configs_without_a_function_row_retire_with_the_listing() -> None:
    live = live_of(config(f"{F2}:latest", function_urn=F2))
    configs, functions = live.unlisted(SCOPE)
    assert gone(configs) == [f"{F2}:latest"] and gone(functions) == [F2]


def test_a_listed_function_whose_row_failed_keeps_its_live_row() -> None:
    live = LiveRows()
    live.add_function(SCOPE.key, F1, "v")
    live.keep_function(SCOPE, F1)
    assert live.unlisted(SCOPE) == ([], [])
