"""The reporting views, row for row, over a hand-written estate loaded by the real pipeline.

Two projects in one region are loaded into one database: P (the estate under study) and Q (a
neighbour that P sends results to). Every expected row below is worked out by hand from the
estate, so a change in a view's logic shows up as a precise diff.

P's destination graph (FunctionGraph edges, source -> unqualified target):
    a -> b -> a              a 2-cycle (a:latest on failure, b:latest on success)
    c -> d -> e -> c         a 3-cycle (c:latest, d:latest, e:v1)
    f -> f                   a function sending to itself (f:latest on failure)
    d -> ghost               a function that never existed (dangling)
    f -> Q's remote          another project, but live there
    f -> faraway             another region and project, never loaded
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.functiongraph.shaping.destinations import flatten_side
from pipelines.models import apply_models, discover_models
from pipelines.sandbox import (
    ABSENT,
    Estate,
    SandboxServer,
    function_urn,
    make_config_item,
    make_destination,
    make_function_item,
)
from tests.support.duckdb_adapter import DuckDBAdapter
from tests.support.estates import PROJECT, REGION, TOKEN
from tests.support.loader import Loader
from tests.support.report_estates import fg, obs, smn

P = PROJECT
Q = "b2c3d4e5f60718293a4b5c6d7e8f90a1"
Z = "c3d4e5f60718293a4b5c6d7e8f90a1b2"  # a project that is never loaded
OTHER_REGION = "cn-east-3"


def urn(package: str, name: str, project: str = P, region: str = REGION) -> str:
    return function_urn(region, project, package, name)


A, B, F, G, IDLE = (urn("default", n) for n in ("a", "b", "f", "g", "idle"))
C, D, E = (urn("billing", n) for n in ("c", "d", "e"))
REMOTE, SPARE = urn("default", "remote", Q), urn("default", "spare", Q)
GHOST = urn("billing", "ghost")
FARAWAY = urn("default", "faraway", Z, OTHER_REGION)

TOPIC_P = f"urn:smn:{REGION}:{P}:alerts"
TOPIC_Q = f"urn:smn:{REGION}:{Q}:alerts"
TOPIC_OTHER_REGION = f"urn:smn:{OTHER_REGION}:{P}:alerts"
OFFSET_TIME = "2021-03-04T14:50:02+08:00"
NAIVE_TIME = "2021-03-04 14:50:02"
FUNCTION_MODIFIED = datetime(2024, 3, 4, 6, 50, 2, tzinfo=UTC)  # make_function_item's default
BAD_JSON_REASON = (
    "param is not valid JSON: Expecting property name enclosed in double quotes at char 1"
)


def config(function: str, qualifier: str, **fields: Any) -> dict[str, Any]:
    """A config whose timestamps both carry an offset, so only chosen ones are naive."""
    return make_config_item(function, qualifier, **{"last_modified": OFFSET_TIME, **fields})


def function(function_urn_: str) -> dict[str, Any]:
    _, _, region, project, _, package, name = function_urn_.split(":")
    return make_function_item(region, project, package, name)


def models_estate() -> Estate:
    estate = Estate()
    logs = obs({"bucket": "logs", "prefix": "a/", "expires": 7})
    configs = {
        A: [
            config(A, "latest", on_failure=fg(f"{B}:latest")),
            config(
                A, "!prod", on_success=logs, on_failure=smn(TOPIC_P), max_async_retry_attempts=5
            ),
        ],
        B: [
            config(
                B,
                "latest",
                on_success=fg(A),
                on_failure=smn(TOPIC_OTHER_REGION),
                max_async_retry_attempts=9,
            ),
        ],
        C: [
            config(
                C,
                "latest",
                on_success=fg(f"{D}:!prod"),
                on_failure=smn(TOPIC_Q),
                max_async_event_age_in_seconds=30,
            ),
        ],
        D: [
            config(D, "latest", on_failure=fg(E), max_async_event_age_in_seconds=0),
            config(D, "v1", on_success=fg(f"{GHOST}:latest"), on_failure=smn(TOPIC_P)),
        ],
        E: [
            config(
                E,
                "v1",
                on_success=obs({"bucket": "archive", "expires": 400}),
                on_failure=fg(f"{C}:latest"),
                max_async_event_age_in_seconds=90000,
            ),
        ],
        F: [
            config(F, "latest", on_success=fg(f"{REMOTE}:latest"), on_failure=fg(f"{F}:v1")),
            config(F, "v1", on_success=fg(f"{FARAWAY}:latest")),
        ],
        G: [
            config(
                G,
                "latest",
                on_success={"destination": "DIS", "param": "{not json"},
                on_failure=make_destination("Kafka", {"topic": "t"}),
                created_time="yesterday",
                last_modified=NAIVE_TIME,
                new_field="x",
            ),
            config(
                G,
                "v1",
                on_success=obs({"prefix": "x/"}),
                on_failure=smn("alerts"),
                max_async_retry_attempts=ABSENT,
            ),
            config(
                G,
                "v2",
                on_success={"param": '{"bucket":"b"}'},
                on_failure=fg("not-a-urn"),
            ),
            config(G, "!", on_success=logs, on_failure=logs),
        ],
        IDLE: [],
    }
    for owner, items in configs.items():
        estate.add_function(P, function(owner), items)
    estate.add_function(Q, function(REMOTE), [config(REMOTE, "latest", on_failure=smn(TOPIC_Q))])
    estate.add_function(Q, function(SPARE), [])
    return estate


def serve(estate: Estate) -> SandboxServer:
    return SandboxServer(estate, tokens=(TOKEN,), functions_page_cap=2, configs_page_cap=2)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loader]:
    """P then Q loaded once for the whole module (the views only read)."""
    tmp_path = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as patch, serve(models_estate()) as server:
        for key in [k for k in os.environ if k.startswith(("SOURCES__", "DESTINATION__"))]:
            patch.delenv(key)
        patch.chdir(tmp_path)
        loader = Loader(tmp_path, server)
        assert loader.run().ok
        assert loader.run(project_id=Q).ok
        yield loader


def view(loader: Loader, name: str, order_by: str) -> list[tuple[Any, ...]]:
    return loader.query(f"select * from reporting.{name} order by {order_by}")


def columns(loader: Loader, name: str) -> list[str]:
    rows = loader.query(
        "select column_name from information_schema.columns where table_schema = 'reporting' "
        f"and table_name = '{name}' order by ordinal_position"
    )
    return [column for (column,) in rows]


def test_every_config_is_live(loaded: Loader) -> None:
    (count,) = loaded.query("select count(*) from reporting.current_async_invoke_configs")[0]
    assert count == 14  # 13 in P, 1 in Q


def test_functions_without_async_config(loaded: Loader) -> None:
    assert columns(loaded, "functions_without_async_config") == [
        "function_urn", "function_name", "package", "region", "project_id", "runtime",
        "last_modified", "configs_before", "last_config_deleted_at",
    ]  # fmt: skip
    assert view(loaded, "functions_without_async_config", "function_urn") == [
        (IDLE, "idle", "default", REGION, P, "Python3.9", FUNCTION_MODIFIED, 0, None),
        (SPARE, "spare", "default", REGION, Q, "Python3.9", FUNCTION_MODIFIED, 0, None),
    ]


def test_retry_policy_summary(loaded: Loader) -> None:
    assert columns(loaded, "retry_policy_summary") == [
        "region", "project_id", "package", "configs",
        "min_retry_attempts", "avg_retry_attempts", "max_retry_attempts", "retry_attempt_counts",
        "retry_attempts_missing", "retry_attempts_outside_api_range",
        "min_event_age_seconds", "avg_event_age_seconds", "max_event_age_seconds",
        "event_age_missing", "event_age_outside_api_range",
    ]  # fmt: skip
    assert view(loaded, "retry_policy_summary", "project_id, package") == [
        # billing: c (age 30), d:latest (age 0), d:v1, e:v1 (age 90000); all retry 3 times
        (REGION, P, "billing", 4, 3, 3.0, 3, '{"3": 4}', 0, 0, 0, 23407.5, 90000, 0, 3),
        # default: a:latest, a:!prod (5: inside 0-8), b (9), f:latest, f:v1, g:latest,
        # g:v1 (none), g:v2, g:!
        (REGION, P, "default", 9, 3, 4.0, 9, '{"3": 6, "5": 1, "9": 1}', 1, 1,
         3600, 3600.0, 3600, 0, 0),
        (REGION, Q, "default", 1, 3, 3.0, 3, '{"3": 1}', 0, 0, 3600, 3600.0, 3600, 0, 0),
    ]  # fmt: skip


def test_destination_inventory(loaded: Loader) -> None:
    assert columns(loaded, "destination_inventory") == [
        "destination", "target", "target_missing_reason", "on_success_configs",
        "on_failure_configs", "total_configs", "functions",
    ]  # fmt: skip
    unusable = "param has no usable target"
    order = "destination nulls first, target nulls first"
    assert view(loaded, "destination_inventory", order) == [
        (None, None, "destination type missing", 1, 0, 1, 1),  # g:v2 on success
        ("DIS", None, unusable, 1, 0, 1, 1),  # g:latest, invalid JSON
        ("FunctionGraph", "not-a-urn", None, 0, 1, 1, 1),
        ("FunctionGraph", FARAWAY + ":latest", None, 1, 0, 1, 1),
        ("FunctionGraph", C + ":latest", None, 0, 1, 1, 1),
        ("FunctionGraph", D + ":!prod", None, 1, 0, 1, 1),
        ("FunctionGraph", E, None, 0, 1, 1, 1),
        ("FunctionGraph", GHOST + ":latest", None, 1, 0, 1, 1),
        ("FunctionGraph", A, None, 1, 0, 1, 1),
        ("FunctionGraph", B + ":latest", None, 0, 1, 1, 1),
        ("FunctionGraph", F + ":v1", None, 0, 1, 1, 1),
        ("FunctionGraph", REMOTE + ":latest", None, 1, 0, 1, 1),
        ("Kafka", None, "unknown destination type", 0, 1, 1, 1),
        ("OBS", None, unusable, 1, 0, 1, 1),  # g:v1, no bucket
        ("OBS", "archive", None, 1, 0, 1, 1),
        # a:!prod on success; g:! on both sides, counted once in total_configs
        ("OBS", "logs", None, 2, 1, 2, 2),
        ("SMN", "alerts", None, 0, 1, 1, 1),
        ("SMN", TOPIC_OTHER_REGION, None, 0, 1, 1, 1),
        ("SMN", TOPIC_P, None, 0, 2, 2, 2),  # a:!prod, d:v1
        ("SMN", TOPIC_Q, None, 0, 2, 2, 2),  # c:latest, Q's remote:latest
    ]


def test_dangling_destinations(loaded: Loader) -> None:
    assert columns(loaded, "dangling_destinations") == [
        "func_urn", "function_urn", "region", "project_id", "side", "destination", "target",
        "target_function_urn", "target_region", "target_project_id", "target_exists",
        "target_deleted_at", "problem",
    ]  # fmt: skip
    assert view(loaded, "dangling_destinations", "func_urn, side") == [
        (f"{C}:latest", C, REGION, P, "on_failure", "SMN", TOPIC_Q,
         None, REGION, Q, None, None, "target is in another project"),
        (f"{D}:v1", D, REGION, P, "on_success", "FunctionGraph", f"{GHOST}:latest",
         GHOST, REGION, P, False, None, "target function is not live"),
        (f"{B}:latest", B, REGION, P, "on_failure", "SMN", TOPIC_OTHER_REGION,
         None, OTHER_REGION, P, None, None, "target is in another region"),
        (f"{F}:latest", F, REGION, P, "on_success", "FunctionGraph", f"{REMOTE}:latest",
         REMOTE, REGION, Q, True, None, "target is in another project"),
        (f"{F}:v1", F, REGION, P, "on_success", "FunctionGraph", f"{FARAWAY}:latest",
         FARAWAY, OTHER_REGION, Z, None, None,
         "target is in another region; target is in another project"),
        (f"{G}:v1", G, REGION, P, "on_failure", "SMN", "alerts",
         None, None, None, None, None, "target is not an SMN topic URN"),
        (f"{G}:v2", G, REGION, P, "on_failure", "FunctionGraph", "not-a-urn",
         None, None, None, None, None, "target is not a function URN"),
    ]  # fmt: skip


def test_destination_cycles(loaded: Loader) -> None:
    assert columns(loaded, "destination_cycles") == [
        "kind", "cycle_length", "path", "short_path", "functions", "via_configs",
    ]  # fmt: skip
    assert view(loaded, "destination_cycles", "path") == [
        (
            "cycle",
            3,
            f"{C} → {D} → {E} → {C}",
            "billing/c → billing/d → billing/e → billing/c",
            [C, D, E],
            [f"{C}:latest (on_success)", f"{D}:latest (on_failure)", f"{E}:v1 (on_failure)"],
        ),
        (
            "cycle",
            2,
            f"{A} → {B} → {A}",
            "default/a → default/b → default/a",
            [A, B],
            [f"{A}:latest (on_failure)", f"{B}:latest (on_success)"],
        ),
        ("cycle", 1, f"{F} → {F}", "default/f → default/f", [F], [f"{F}:latest (on_failure)"]),
    ]


def target_side(destination: str | None, target: str | None) -> dict[str, str] | None:
    """A served side naming `target`, as the API would send it."""
    if destination is None:
        return None
    key = {"FunctionGraph": "func_urn", "SMN": "topic_urn"}[destination]
    return {"destination": destination, "param": json.dumps({key: target})}


def test_destination_cycles_longer_than_ten_functions_are_grouped() -> None:
    """The cycle search alone, on a plain DuckDB holding just the view it reads."""
    connection = duckdb.connect()
    connection.execute(
        "create schema staging; create table staging.stg_async_invoke_config_sides ("
        "func_urn text, function_urn text, side text, target_function_urn text, is_current bool)"
    )
    ring = [urn("ring", f"r{i:02d}") for i in range(1, 12)]  # r01 -> ... -> r11 -> r01
    x, y = urn("pair", "x"), urn("pair", "y")
    rows = [
        (f"{source}:latest", source, "FunctionGraph", f"{target}:latest", None, None)
        for source, target in zip(ring, [*ring[1:], ring[0]], strict=True)
    ]
    rows += [
        (f"{x}:latest", x, "FunctionGraph", y, "FunctionGraph", f"{y}:v1"),  # the same edge 3x
        (f"{x}:v1", x, "FunctionGraph", y, "SMN", TOPIC_P),
        (f"{y}:latest", y, None, None, "FunctionGraph", f"{x}:!prod"),
        (f"{y}:v1", y, "FunctionGraph", "not-a-urn", "FunctionGraph", GHOST),
    ]
    sides = [
        (func_urn, function_urn, side, parsed[f"{side}_target_function_urn"], True)
        for func_urn, function_urn, *served in rows
        for side, (destination, target) in (
            ("on_success", served[:2]),
            ("on_failure", served[2:]),
        )
        # the loader parses targets (see shaping.destinations); the view reads the result
        for parsed in [flatten_side(side, target_side(destination, target))]
    ]
    connection.executemany(
        "insert into staging.stg_async_invoke_config_sides values (?, ?, ?, ?, ?)", sides
    )
    (model,) = [m for m in discover_models() if m.view == "reporting.destination_cycles"]
    apply_models(DuckDBAdapter(connection), [model])
    assert connection.execute(
        "select * from reporting.destination_cycles order by kind, path"
    ).fetchall() == [
        (
            "cycle",
            2,
            f"{x} → {y} → {x}",
            "pair/x → pair/y → pair/x",
            [x, y],
            [
                f"{x}:latest (on_failure)",
                f"{x}:latest (on_success)",
                f"{x}:v1 (on_success)",
                f"{y}:latest (on_failure)",
            ],
        ),
        ("longer_loops", None, None, None, ring, [f"{r}:latest (on_success)" for r in ring]),
    ]


def test_data_quality_issues(loaded: Loader) -> None:
    assert columns(loaded, "data_quality_issues") == [
        "func_urn", "function_urn", "region", "project_id", "issue", "field", "reason",
        "raw_value",
    ]  # fmt: skip
    # a:!prod retries 5 times: a house rule may say 3, the API allows 0-8, so it is no issue;
    # g:latest's naive last_modified is how the API documents it, so it is no issue either
    retries = "outside 0-8, the range the API documents for the retries it serves"
    age = "outside 60-86400, the range the API documents for the event ages it serves"
    request_age = f"{age} (only its request range 1-86400 allows it)"
    empty_alias = f"invalid function URN '{G}:!': alias after '!' is empty"
    expected = [
        (f"{C}:latest", "out_of_range", "max_async_event_age_in_seconds", request_age, "30"),
        (f"{D}:latest", "out_of_range", "max_async_event_age_in_seconds", age, "0"),
        (f"{E}:v1", "out_of_range", "max_async_event_age_in_seconds", age, "90000"),
        (f"{E}:v1", "out_of_range", "on_success_expires", "OBS expires is outside 0-365 days",
         "400"),
        (f"{B}:latest", "out_of_range", "max_async_retry_attempts", retries, "9"),
        (f"{G}:!", "urn_error", "func_urn", empty_alias, f"{G}:!"),
        (f"{G}:latest", "param_error", "on_success_param", BAD_JSON_REASON, "{not json"),
        (f"{G}:latest", "unknown_destination", "on_failure_destination",
         "unknown destination type Kafka", "Kafka"),
        (f"{G}:latest", "unknown_fields", "extra_fields", "fields without a column: new_field",
         '{"new_field":"x"}'),
        (f"{G}:latest", "unparseable_timestamp", "created_time_raw",
         "served but not readable as a timestamp: created_time is NULL", "yesterday"),
        (f"{G}:v1", "missing_value", "max_async_retry_attempts",
         "not served, or not an integer", None),
        (f"{G}:v1", "param_error", "on_success_param", "param has no 'bucket'", '{"prefix":"x/"}'),
        (f"{G}:v2", "unknown_destination", "on_success_destination",
         "a param is set but no destination type", None),
    ]  # fmt: skip
    rows = view(loaded, "data_quality_issues", "func_urn, issue, field")
    assert [(r[0], *r[4:]) for r in rows] == expected
    owners = {(r[0], r[1], r[2], r[3]) for r in rows}
    assert owners == {
        (f"{owner}:{q}", owner, REGION, P)
        for owner, q in [
            *[(B, "latest"), (C, "latest"), (D, "latest"), (E, "v1")],
            *[(G, "!"), (G, "latest"), (G, "v1"), (G, "v2")],
        ]
    }


def test_config_changes_daily_and_history_after_changes(tmp_path: Path) -> None:
    """P alone, then an update, a new config, a deleted config and two functions emptied."""
    estate = models_estate()
    with serve(estate) as server:
        loader = Loader(tmp_path, server)
        assert loader.run().ok
        estate.upsert_config(
            config(A, "latest", on_failure=fg(f"{B}:latest"), max_async_retry_attempts=1)
        )
        estate.upsert_config(config(A, "v2"))
        estate.delete_config(f"{D}:v1")
        estate.set_configs(B, [])  # b stays, without configs
        estate.remove_function(E)  # e and its only config go
        assert loader.run().ok

    first, second = (
        at for (at,) in loader.query(
            "select distinct detected_at from reporting.async_invoke_config_changes order by 1"
        )
    )  # fmt: skip
    per_day: Counter[tuple[Any, str]] = Counter()
    per_day.update({(first.astimezone(UTC).date(), "created"): 13})
    per_day.update({(second.astimezone(UTC).date(), kind): n for kind, n in
                    [("created", 1), ("updated", 1), ("deleted", 3)]})  # fmt: skip
    days = sorted({day for day, _ in per_day})
    expected = [
        (day, REGION, P, per_day[day, "created"], per_day[day, "updated"],
         per_day[day, "deleted"], sum(n for (d, _), n in per_day.items() if d == day))
        for day in days
    ]  # fmt: skip
    assert columns(loader, "config_changes_daily") == [
        "day", "region", "project_id", "created", "updated", "deleted", "changes",
    ]  # fmt: skip
    assert view(loader, "config_changes_daily", "day") == expected

    assert view(loader, "functions_without_async_config", "function_urn") == [
        (B, "b", "default", REGION, P, "Python3.9", FUNCTION_MODIFIED, 1, second),
        (IDLE, "idle", "default", REGION, P, "Python3.9", FUNCTION_MODIFIED, 0, None),
    ]
    # d:latest now sends failures to a function that was deleted by the second run
    dangling = loader.query(
        "select func_urn, target_exists, target_deleted_at, problem "
        "from reporting.dangling_destinations where function_urn = "
        f"'{D}' order by func_urn"
    )
    assert dangling == [(f"{D}:latest", False, second, "target function is not live")]
    # b no longer sends to a, and e's config is gone: only f's loop is left
    assert loader.query("select kind, short_path from reporting.destination_cycles") == [
        ("cycle", "default/f → default/f")
    ]
