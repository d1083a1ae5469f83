"""The real pipeline against the sandbox over HTTP into a DuckDB file: exact rows, every time."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support.estates import ALPHA, BETA, DELTA, PROJECT, REGION
from tests.support.expected import CURRENT, EXPECTED, TO_BETA
from tests.support.loader import Loader

CONTRACT_COLUMNS = [
    "func_urn", "function_urn", "function_name", "package", "qualifier", "region", "project_id",
    "max_async_event_age_in_seconds", "max_async_retry_attempts", "enable_async_status_log",
    "on_success_destination", "on_success_target", "on_success_param", "on_failure_destination",
    "on_failure_target", "on_failure_param", "created_time", "last_modified",
]  # fmt: skip


def test_loads_exactly_the_served_configs(any_loader: Loader) -> None:
    loader = any_loader
    summary = loader.run()
    assert (summary.functions, summary.configs) == (4, 9)
    assert loader.query(CURRENT) == EXPECTED


def test_contract_view_has_the_documented_columns(loader: Loader) -> None:
    loader.run()
    columns = [
        name
        for (name,) in loader.query(
            "select column_name from information_schema.columns where table_schema = "
            "'reporting' and table_name = 'current_async_invoke_configs' order by ordinal_position"
        )
    ]
    assert [c for c in columns if c in CONTRACT_COLUMNS] == CONTRACT_COLUMNS


def test_every_page_is_fetched(loader: Loader) -> None:
    loader.run()
    seen = loader.server.requests_seen
    delta_markers = [r.query.get("marker") for r in seen if "delta" in r.path]
    assert delta_markers == ["0", "2", "4"]  # five configs in pages of two
    function_markers = [r.query.get("marker") for r in seen if r.path.endswith("/fgs/functions")]
    assert function_markers == ["0", "2"]
    assert all(r.status == 200 for r in seen)


def test_raw_params_parsed_fields_and_reasons(loader: Loader) -> None:
    loader.run()
    rows = loader.query(
        "select func_urn, on_success_param, on_success_prefix, on_success_expires, "
        "on_failure_param, on_failure_param_error from staging.stg_async_invoke_configs "
        f"where is_current and func_urn in ('{ALPHA}:latest', '{BETA}:latest') order by func_urn"
    )
    assert rows[0] == (
        f"{ALPHA}:latest",
        '{"bucket":"fgs-logs","prefix":"alpha/","expires":7}',
        "alpha/",
        7,
        f'{{"func_urn":"{TO_BETA}"}}',
        None,
    )
    assert rows[1][:5] == (f"{BETA}:latest", None, None, None, "{not json")
    assert rows[1][5].startswith("param is not valid JSON")


def test_timestamps_are_instants_and_naive_ones_use_the_configured_zone(loader: Loader) -> None:
    loader.run()
    sql = (
        "select created_time, last_modified, last_modified_raw from "
        "staging.stg_async_invoke_configs where is_current and func_urn = '{}'"
    )
    created, modified, raw = loader.query(sql.format(f"{ALPHA}:latest"))[0]
    assert created == datetime(2021, 3, 4, 6, 50, 2, tzinfo=UTC)  # +08:00 honoured
    assert (modified, raw) == (datetime(2021, 3, 4, 6, 50, 2, tzinfo=UTC), "2021-03-04 14:50:02")
    _, explicit_utc, _ = loader.query(sql.format(f"{ALPHA}:v1"))[0]
    assert explicit_utc == datetime(2021, 3, 4, 14, 50, 2, tzinfo=UTC)

    loader.run(naive_timezone="UTC")
    _, modified_utc, _ = loader.query(sql.format(f"{ALPHA}:latest"))[0]
    assert modified_utc == datetime(2021, 3, 4, 14, 50, 2, tzinfo=UTC)


def test_rerun_does_not_duplicate(loader: Loader) -> None:
    loader.run()
    loader.run()
    assert loader.query("select count(*) from functiongraph.async_invoke_configs") == [(9,)]
    assert loader.query("select count(*) from functiongraph.functions") == [(4,)]
    assert loader.query(CURRENT) == EXPECTED


def test_functions_table(loader: Loader) -> None:
    loader.run()
    rows = loader.query(
        "select func_urn, func_name, package, runtime, region, project_id "
        "from functiongraph.functions order by func_urn"
    )
    assert [r[1] for r in rows] == ["delta", "gamma", "alpha", "beta"]
    assert rows[3][3] == "Node.js16.17"
    assert {(r[4], r[5]) for r in rows} == {(REGION, PROJECT)}


def test_reads_back_through_pipeline_dataset(loader: Loader) -> None:
    loader.run()
    frame = loader.pipeline.dataset()["async_invoke_configs"].df()
    assert sorted(frame["func_urn"]) == sorted(row[0] for row in EXPECTED)
    assert str(frame["created_time"].dt.tz) == "UTC"


def test_functions_without_failure_destination(loader: Loader) -> None:
    loader.run()
    rows = loader.query(
        "select func_urn, reason from reporting.functions_without_failure_destination "
        "order by func_urn"
    )
    assert rows == [
        (f"{DELTA}:v2", "reports successes, but not failures"),
        (f"{ALPHA}:v1", "retries, then drops failures"),
    ]


def test_function_deleted_after_listing_is_not_an_error(loader: Loader) -> None:
    loader.server.faults.vanish(DELTA)
    summary = loader.run()
    assert summary.configs == 4
    live = "select function_urn from reporting.current_async_invoke_configs"
    assert DELTA not in {urn for (urn,) in loader.query(live)}
