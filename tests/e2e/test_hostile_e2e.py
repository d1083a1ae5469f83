"""Hostile API answers, end to end: nothing is retired unless the run proved it complete, one
live row per func_urn whatever is served twice, and one bad value never stops the run."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pipelines.runner import refresh_models
from pipelines.sandbox import SandboxServer, make_config_item
from tests.support.estates import (
    ALPHA,
    BETA,
    DELTA,
    GAMMA,
    OMEGA,
    PROJECT,
    PROJECT_B,
    REGION,
    REGION_B,
    TOKEN,
    two_project_estate,
)
from tests.support.loader import Loader

SCOPE = f"{REGION}/{PROJECT}"
LIVE = "select func_urn from reporting.current_async_invoke_configs order by func_urn"


def live(loader: Loader) -> list[str]:
    return [urn for (urn,) in loader.query(LIVE)]


def live_functions(loader: Loader) -> list[str]:
    rows = loader.query("select function_urn from staging.stg_functions where is_current")
    return sorted(urn for (urn,) in rows)


def on(kind: str, key: str, change: Any) -> Any:
    """A sandbox transform applying `change(payload)` to one listing only."""

    def transform(served_kind: str, served_key: str, payload: dict[str, Any]) -> Any:
        if (served_kind, served_key) == (kind, key):
            return change(payload)
        return payload

    return transform


def first_run(loader: Loader) -> tuple[list[str], list[str]]:
    summary = loader.run()
    assert summary.ok and summary.configs == 9
    return live(loader), live_functions(loader)


# -- 1. a listing that contradicts itself is incomplete ----------------------------------------


@pytest.mark.parametrize("last_page_marker", ["zero", "omit", "count"])
def test_listings_short_of_their_count_retire_nothing(loader: Loader, last_page_marker) -> None:
    configs, functions = first_run(loader)
    loader.server.estate.delete_config(f"{ALPHA}:v1")
    loader.server.estate.remove_function(BETA)
    loader.server.last_page_marker = last_page_marker
    loader.server.hostile.count_extra = 1
    summary = loader.run()
    assert not summary.ok
    assert (live(loader), live_functions(loader)) == (configs, functions)
    assert summary.statuses == {SCOPE: "failed"}  # no listing at all was complete
    assert any(f"listing functions of project {PROJECT}" in f for f in summary.failures)
    assert any(f"async-invoke configs of {ALPHA}" in f for f in summary.failures)
    assert any("announced" in f for f in summary.failures)


def test_configs_without_page_info_short_of_count_are_incomplete(loader: Loader) -> None:
    configs, _ = first_run(loader)
    loader.server.estate.delete_config(f"{DELTA}:v3")
    loader.server.hostile.omit_page_info = True  # pages of 2: DELTA's first page ends it
    summary = loader.run()
    assert not summary.ok
    assert live(loader) == configs
    assert any(f"async-invoke configs of {DELTA}" in f for f in summary.failures)


def test_a_function_item_without_func_urn_keeps_the_project_incomplete(loader: Loader) -> None:
    configs, functions = first_run(loader)
    loader.server.estate.remove_function(GAMMA)

    def unidentifiable(payload: dict[str, Any]) -> dict[str, Any]:
        payload["functions"][0].pop("func_urn")
        return payload

    loader.server.hostile.transform = on("functions", PROJECT, unidentifiable)
    summary = loader.run()
    assert not summary.ok
    assert live_functions(loader) == functions  # GAMMA (gone) and the unreadable one are kept
    assert live(loader) == configs
    assert any("no usable func_urn" in f and PROJECT in f for f in summary.failures)


def test_a_config_item_without_func_urn_keeps_its_function_incomplete(loader: Loader) -> None:
    configs, _ = first_run(loader)
    loader.server.estate.delete_config(f"{ALPHA}:v1")

    def unidentifiable(payload: dict[str, Any]) -> dict[str, Any]:
        for item in payload["async_invoke_configs"]:
            item["func_urn"] = None
        return payload

    loader.server.hostile.transform = on("configs", ALPHA, unidentifiable)
    summary = loader.run()
    assert not summary.ok
    assert live(loader) == configs  # ALPHA:v1 is gone from the API, but nothing proved it
    assert summary.failures == [
        f"async-invoke configs of {ALPHA}: 2 item(s) without a func_urn; "
        "its last loaded rows are kept"
    ]


def test_endless_paging_stops_at_max_pages(loader: Loader) -> None:
    configs, functions = first_run(loader)
    loader.server.estate.delete_config(f"{ALPHA}:v1")
    loader.server.hostile.endless_paging = True
    loader.server.clear_requests_seen()
    summary = loader.run(max_pages=15)
    assert not summary.ok
    assert (live(loader), live_functions(loader)) == (configs, functions)
    # 15 pages of functions (2 a page: 30 listed, 4 real ones repeated), each fetched once
    assert len(loader.server.requests_seen) <= 15 + 4 * 15
    assert any("gave up after 15 pages (max_pages)" in f for f in summary.failures)


# -- 2. one live row per func_urn ----------------------------------------------------------------


def test_a_config_served_twice_by_its_function_is_loaded_once(loader: Loader) -> None:
    first_run(loader)

    pages: list[int] = []

    def twice(payload: dict[str, Any]) -> dict[str, Any]:
        pages.append(1)
        if len(pages) == 1:  # on DELTA's first page only
            payload["async_invoke_configs"].append(
                copy.deepcopy(payload["async_invoke_configs"][0])
            )
        return payload

    loader.server.hostile.transform = on("configs", DELTA, twice)
    summary = loader.run()
    assert summary.ok and summary.configs == 9
    assert summary.changes[SCOPE] == {"created": 0, "updated": 1, "deleted": 0, "unchanged": 8}
    assert live(loader) == sorted(set(live(loader)))
    issues = loader.query(
        "select func_urn, reason from reporting.data_quality_issues "
        "where issue = 'duplicate_served'"
    )
    assert len(issues) == 1 and issues[0][0].startswith(DELTA)
    assert "served 2 times" in issues[0][1]
    pages.clear()
    again = loader.run()  # the same duplicate again: nothing changes
    assert again.changes[SCOPE] == {"created": 0, "updated": 0, "deleted": 0, "unchanged": 9}


def test_a_function_listed_on_two_pages_is_loaded_once(loader: Loader) -> None:
    configs, functions = first_run(loader)
    seen: list[dict[str, Any]] = []

    def repeat_first(payload: dict[str, Any]) -> dict[str, Any]:
        if not seen:
            seen.append(copy.deepcopy(payload["functions"][0]))
        else:
            payload["functions"].append(copy.deepcopy(seen[0]))
        return payload

    loader.server.hostile.transform = on("functions", PROJECT, repeat_first)
    summary = loader.run()
    assert summary.ok
    assert (live(loader), live_functions(loader)) == (configs, functions)
    assert summary.changes[SCOPE]["created"] == 0
    notes = loader.query(
        "select func_urn, field, reason from reporting.data_quality_issues "
        "where issue = 'duplicate_served'"
    )
    assert notes == [(functions[0], "functions.func_urn", "listed again; first listing kept")]


def test_a_function_listed_twice_on_one_page_is_loaded_once(loader: Loader) -> None:
    configs, functions = first_run(loader)

    def twice(payload: dict[str, Any]) -> dict[str, Any]:
        payload["functions"].append(copy.deepcopy(payload["functions"][0]))
        return payload

    loader.server.hostile.transform = on("functions", PROJECT, twice)
    summary = loader.run()
    assert summary.ok
    assert (live(loader), live_functions(loader)) == (configs, functions)
    notes = loader.query(
        "select func_urn, reason from reporting.data_quality_issues "
        "where issue = 'duplicate_served' order by func_urn"
    )
    # pages of 2: the first function of each page is listed again on its own page
    assert [reason for _, reason in notes] == ["listed again; first listing kept"] * 2


def test_one_config_urn_under_two_functions_is_one_live_row(loader: Loader) -> None:
    served = next(c for c in loader.server.estate.all_configs() if c["func_urn"] == f"{ALPHA}:v1")
    beta = make_config_item(BETA, "latest")
    loader.server.estate.set_configs(BETA, [beta, served], foreign_ok=True)
    summary = loader.run()
    assert summary.ok and summary.configs == 9
    rows = loader.query(
        "select function_urn, count(*) over () from reporting.current_async_invoke_configs "
        f"where func_urn = '{ALPHA}:v1'"
    )
    assert rows == [(ALPHA, 1)]  # ALPHA is listed before BETA: its copy is kept
    notes = loader.query(
        "select func_urn, reason from reporting.data_quality_issues "
        "where issue = 'duplicate_served'"
    )
    assert notes == [(BETA, f"config {ALPHA}:v1 was also served here; kept under {ALPHA}")]
    assert loader.run().changes[SCOPE]["updated"] == 0


def test_a_copy_served_elsewhere_never_retires_the_row_kept(loader: Loader) -> None:
    """A config live under two functions (an earlier listing kept it under the other one) and
    served by both: the run drops the second copy and retires it there, but the row it kept,
    unchanged and so not sent, must stay live."""
    first_run(loader)
    with loader.pipeline.sql_client() as client:
        client.execute_sql(
            "insert into functiongraph.async_invoke_configs select * replace ("
            f"'{BETA}' as function_urn, 'copy-' || row_version as row_version, "
            "'x' || _dlt_id as _dlt_id) "
            f"from functiongraph.async_invoke_configs where func_urn = '{ALPHA}:v1'"
        )
    served = next(c for c in loader.server.estate.all_configs() if c["func_urn"] == f"{ALPHA}:v1")
    beta = next(c for c in loader.server.estate.all_configs() if c["func_urn"] == f"{BETA}:latest")
    loader.server.estate.set_configs(BETA, [beta, served], foreign_ok=True)
    assert loader.run().ok
    rows = loader.query(
        "select function_urn from functiongraph.async_invoke_configs "
        f"where func_urn = '{ALPHA}:v1' and _dlt_valid_to is null"
    )
    assert rows == [(ALPHA,)]  # the copy under BETA retired, the row kept under ALPHA untouched
    assert live(loader).count(f"{ALPHA}:v1") == 1


def test_a_foreign_copy_never_pushes_out_the_owners_row(tmp_path: Path) -> None:
    """Project A's function also serves a config of project B's function (listed first, so seen
    first): B's own copy is still loaded, shown as current, and never retired by A's."""
    estate = two_project_estate()
    omega = next(c for c in estate.all_configs() if c["func_urn"] == f"{OMEGA}:latest")
    alphas = [c for c in estate.all_configs() if c["func_urn"].startswith(f"{ALPHA}:")]
    estate.set_configs(ALPHA, [*alphas, omega], foreign_ok=True)
    with SandboxServer(estate, tokens=(TOKEN,)) as server:
        loader = Loader(tmp_path, server)
        both = [
            {"region": REGION, "project_id": PROJECT, "endpoint": server.url},
            {"region": REGION_B, "project_id": PROJECT_B, "endpoint": server.url},
        ]
        for _ in range(2):  # the second run, comparing with what is live, keeps it so
            assert loader.run(region=None, project_id=None, endpoint=None, projects=both).ok
            rows = loader.query(
                "select function_urn, region, urn_error is null "
                "from functiongraph.async_invoke_configs "
                f"where func_urn = '{OMEGA}:latest' and _dlt_valid_to is null order by region"
            )
            assert rows == [(OMEGA, REGION_B, True), (ALPHA, REGION, False)]
        assert loader.query(
            "select function_urn from reporting.current_async_invoke_configs "
            f"where func_urn = '{OMEGA}:latest'"
        ) == [(OMEGA,)]


def test_shadowed_live_rows_are_hidden_and_reported(loader: Loader) -> None:
    first_run(loader)
    with loader.pipeline.sql_client() as client:  # e.g. left by an older connector version
        client.execute_sql(
            "insert into functiongraph.async_invoke_configs "
            "select * replace ('urn:fss:x' as function_urn, 'x' || _dlt_id as _dlt_id) "
            f"from functiongraph.async_invoke_configs where func_urn = '{ALPHA}:v1'"
        )
    refresh_models(loader.pipeline)
    assert live(loader).count(f"{ALPHA}:v1") == 1
    issues = loader.query(
        "select func_urn, raw_value from reporting.data_quality_issues "
        "where issue = 'duplicate_live_row'"
    )
    assert issues == [(f"{ALPHA}:v1", "urn:fss:x")]


# -- 3. one bad value never stops the run -------------------------------------------------------


def test_hostile_values_are_stored_and_explained(loader: Loader) -> None:
    deep = "[" * 100_000 + "]" * 100_000

    def hostile_configs(payload: dict[str, Any]) -> dict[str, Any]:
        items = payload["async_invoke_configs"]
        items[0]["max_async_retry_attempts"] = 99999999999999999999
        items[0]["max_async_event_age_in_seconds"] = 1e30
        items[0]["destination_config"] = {
            "on_success": {"destination": "DIS", "param": '{"stream_name": "s\ud800"}'},
            "on_failure": {"destination": "OBS", "param": deep},
        }
        items[0]["note\ud800"] = "x\udc00"
        return payload

    def hostile_functions(payload: dict[str, Any]) -> dict[str, Any]:
        for item in payload["functions"]:
            item["memory_size"] = 99999999999999999999
        return payload

    def transform(kind: str, key: str, payload: dict[str, Any]) -> Any:
        if kind == "functions":
            return hostile_functions(payload)
        return hostile_configs(payload) if key == ALPHA else payload

    loader.server.hostile.transform = transform
    summary = loader.run()
    assert summary.ok, summary.failures
    assert summary.configs == 9
    row = loader.query(
        "select max_async_retry_attempts, max_async_event_age_in_seconds, value_error, "
        "on_success_target, on_failure_param_error, length(on_failure_param), extra_fields "
        f"from staging.stg_async_invoke_configs where is_current and func_urn = '{ALPHA}:latest'"
    )
    assert row == [
        (
            None,
            None,
            "max_async_event_age_in_seconds 1e+30 does not fit in 64 bits; "
            "max_async_retry_attempts 99999999999999999999 does not fit in 64 bits",
            "s\\ud800",
            "param is nested too deeply to read",
            200_000,
            '{"note\\ud800":"x\\udc00"}',
        )
    ]
    memory = loader.query("select distinct memory_size, value_error from staging.stg_functions")
    assert memory == [(None, "memory_size 99999999999999999999 does not fit in 64 bits")]


def test_an_unreadable_body_fails_only_its_function(loader: Loader) -> None:
    configs, _ = first_run(loader)
    loader.server.estate.delete_config(f"{DELTA}:v3")
    body = b'{"async_invoke_configs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    loader.server.hostile.transform = on("configs", DELTA, lambda payload: body)
    summary = loader.run()
    (request_id,) = [
        r.request_id for r in loader.server.requests_seen if "delta" in r.path and r.status == 200
    ][-1:]
    assert summary.failures == [
        f"async-invoke configs of {DELTA}: the response body is nested too deeply to read "
        f"(X-Request-Id {request_id}); its last loaded rows are kept"
    ]
    assert live(loader) == configs  # DELTA:v3 kept: its function failed
    assert summary.statuses == {SCOPE: "partial"}


def test_the_api_error_message_quotes_the_request_id(loader: Loader) -> None:
    loader.server.faults.fail_function(ALPHA, status=400)
    summary = loader.run()
    (failure,) = summary.failures
    request_ids = {r.request_id for r in loader.server.requests_seen if r.status == 400}
    assert len(request_ids) == 1
    assert f"(X-Request-Id {request_ids.pop()})" in failure


def test_counts_only_what_was_fetched(loader: Loader) -> None:
    first_run(loader)
    loader.server.faults.inject(path_contains="/fgs/functions", status=500, times=1000)
    summary = loader.run(max_attempts=1)
    assert summary.statuses == {SCOPE: "failed"}
    assert summary.changes == {SCOPE: {"created": 0, "updated": 0, "deleted": 0, "unchanged": 0}}
    assert summary.configs == 9  # still live: nothing was retired
    text = "\n".join(summary.lines())
    assert f"{SCOPE}: failed, 0 created, 0 updated, 0 deleted, 0 unchanged" in text
    assert json.loads(summary.to_json())["scopes"][SCOPE]["status"] == "failed"
