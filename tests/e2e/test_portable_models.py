"""Every SQL model gives the same rows, of the same types, on DuckDB and on a real PostgreSQL
server: the same estate is loaded into both by the real pipeline, then every view is compared
column type by column type and row for row (as sets: views have no order)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from pipelines.models import discover_models
from pipelines.sandbox import SandboxServer
from tests.support.estates import TOKEN
from tests.support.loader import Loader
from tests.support.report_estates import (
    SCOPES,
    H,
    add_shadowed_row,
    remove_doomed,
    reporting_estate,
)

VIEWS = [model.view for model in discover_models()]
# One spelling per type: DuckDB's information_schema says VARCHAR / VARCHAR[], PostgreSQL's says
# character varying / ARRAY (with the element type in udt_name, e.g. _varchar).
TYPE_NAMES = {
    "varchar": "text",
    "character varying": "text",
    "text": "text",
    "bigint": "bigint",
    "int8": "bigint",
    "integer": "integer",
    "int4": "integer",
    "double": "double",
    "double precision": "double",
    "float8": "double",
    "boolean": "boolean",
    "bool": "boolean",
    "timestamp with time zone": "timestamptz",
    "timestamptz": "timestamptz",
    "date": "date",
}


def type_name(data_type: str, udt_name: str | None = None) -> str:
    name = data_type.lower()
    if name.endswith("[]"):
        return type_name(name[:-2]) + "[]"
    if name == "array" and udt_name:
        return type_name(udt_name.lstrip("_")) + "[]"
    if name.startswith(("decimal", "numeric")):
        return "numeric"
    return TYPE_NAMES.get(name, name)


def column_types(loader: Loader, view: str) -> list[tuple[str, str]]:
    schema, name = view.split(".")
    udt = "null" if loader.database else "udt_name"  # DuckDB has no udt_name column
    rows = loader.query(
        f"select column_name, data_type, {udt} from information_schema.columns "
        f"where table_schema = '{schema}' and table_name = '{name}' order by ordinal_position"
    )
    return [(column, type_name(data_type, udt_name)) for column, data_type, udt_name in rows]


def comparable(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows as sorted (type, value) pairs; instants and days only as present or NULL, since two
    loads never share their load times. True == 1 and 3.0 == Decimal(3) in Python: the type name
    beside each value keeps a bool from passing for an integer, or a decimal for a double."""

    def value(v: Any) -> tuple[str, Any]:
        if isinstance(v, date):  # datetime too
            return (type(v).__name__, "<instant>")
        return (type(v).__name__, v)

    return sorted((tuple(value(v) for v in row) for row in rows), key=repr)


def assert_same_views(duck: Loader, post: Loader) -> dict[str, list[tuple[Any, ...]]]:
    """Every view alike on both databases; returns DuckDB's rows by view."""
    rows = {}
    for view in VIEWS:
        assert column_types(post, view) == column_types(duck, view), view
        rows[view] = duck.query(f"select * from {view}")
        assert comparable(post.query(f"select * from {view}")) == comparable(rows[view]), view
    return rows


def test_every_view_matches_between_databases(
    tmp_path: Path, sandbox: SandboxServer, postgres_url: str
) -> None:
    """The small estate: every model is applied on both databases, none is skipped."""
    duck = Loader(tmp_path / "duck", sandbox)
    post = Loader(tmp_path / "post", sandbox, warehouse="postgres")
    duck_summary, post_summary = duck.run(), post.run()
    assert len(sandbox.requests_seen) == 2 * 9  # each run fetched for itself (9 requests)
    assert duck_summary.models == post_summary.models == VIEWS
    assert duck_summary.skipped_models == post_summary.skipped_models == []
    assert_same_views(duck, post)
    assert post.query("select count(*) from reporting.current_async_invoke_configs") == [(9,)]


def test_reports_match_between_databases_on_an_estate_that_fills_them(
    tmp_path: Path, postgres_url: str
) -> None:
    """Three scopes in two regions, then a deletion and a hand-written second live row: every
    report has rows of every kind it knows, and the same ones on both databases."""
    estate = reporting_estate()
    with SandboxServer(estate, tokens=(TOKEN,), functions_page_cap=3, configs_page_cap=3) as server:
        loaders = [
            Loader(tmp_path / "duck", server),
            Loader(tmp_path / "post", server, warehouse="postgres"),
        ]
        for loader in loaders:
            for region, project_id in SCOPES:
                summary = loader.run(region=region, project_id=project_id)
                assert summary.ok and summary.skipped_models == [], summary.failures
        remove_doomed(estate)
        for loader in loaders:
            assert loader.run().ok
            with loader.pipeline.sql_client() as client:
                add_shadowed_row(client.execute_sql)
    duck, post = loaders
    rows = assert_same_views(duck, post)

    # the comparison means something only if the reports have rows of every kind
    cycles = rows["reporting.destination_cycles"]
    assert Counter((kind, length) for kind, length, *_ in cycles) == {
        ("cycle", 1): 1,  # f
        ("cycle", 2): 2,  # a, b; and h with R's remote, across regions
        ("cycle", 3): 1,  # c, d, e
        ("cycle", 6): 1,  # r01 .. r06, over the chord
        ("longer_loops", None): 1,  # the 11-loop
    }
    (group,) = [row for row in cycles if row[0] == "longer_loops"]
    assert len(group[4]) == 11 and len(group[5]) == 6  # r01..r11; r06..r11's edges

    dangling = rows["reporting.dangling_destinations"]
    problems = Counter(p for *_, problem in dangling for p in problem.split("; "))
    assert problems == {
        "target is not a function URN": 1,  # mess:v2
        "target is not an SMN topic URN": 1,  # mess:v1
        "target function is not live": 2,  # d:v1 -> ghost (never seen), h:latest -> doomed
        "target is in another region": 4,  # b's topic, f:v1 -> faraway, h <-> R's remote
        "target is in another project": 5,  # the same but b's, c's topic, f -> Q's remote
    }
    deleted = [(row[0], row[10]) for row in dangling if row[11] is not None]  # target_deleted_at
    assert deleted == [(f"{H}:latest", False)]
    assert {row[10] for row in dangling} == {True, False, None}  # target_exists

    issues = Counter((issue, field) for *_, issue, field, _, _ in rows[
        "reporting.data_quality_issues"
    ])  # fmt: skip
    assert issues == {
        ("param_error", "on_success_param"): 2,
        ("unknown_destination", "on_failure_destination"): 1,
        ("unknown_destination", "on_success_destination"): 1,
        ("out_of_range", "on_success_expires"): 1,
        ("out_of_range", "max_async_retry_attempts"): 1,  # 9; 5 is inside the API's range
        ("out_of_range", "max_async_event_age_in_seconds"): 3,  # 30, 0, 90000
        ("missing_value", "max_async_retry_attempts"): 2,  # not served; beyond 64 bits
        ("missing_value", "max_async_event_age_in_seconds"): 1,
        ("unparseable_timestamp", "created_time_raw"): 1,
        ("urn_error", "func_urn"): 1,  # mess:! (borrower's copy of Q's remote is not current)
        ("unknown_fields", "extra_fields"): 2,
        ("value_error", "value_error"): 1,
        ("value_error", "functions.value_error"): 1,
        ("duplicate_served", "func_urn"): 2,  # twice by its function; Q's remote, also by borrower
        ("duplicate_live_row", "func_urn"): 2,  # the hand-written row; borrower's foreign copy
    }
    reasons = {
        row[6] for row in rows["reporting.data_quality_issues"] if row[4] == "unknown_fields"
    }
    assert reasons == {
        "fields without a column: Zeta, größe, new_field",  # by code point
        "fields without a column (names not readable here: see raw_value)",  # \u escapes
    }

    summary = rows["reporting.retry_policy_summary"]
    assert len(summary) == 5  # P: billing, default, ring; Q: default; R: default
