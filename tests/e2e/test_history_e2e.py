"""History, deletions and safe partial failure, end to end against a mutated sandbox estate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipelines.runner import make_pipeline, run
from pipelines.sandbox import SandboxServer, function_urn, make_config_item, make_function_item
from tests.support.estates import ALPHA, BETA, DELTA, PROJECT, REGION, TOKEN, small_estate
from tests.support.loader import Loader

SCOPE = f"{REGION}/{PROJECT}"
EPSILON = function_urn(REGION, PROJECT, "billing", "epsilon")
LIVE = "select func_urn from reporting.current_async_invoke_configs order by func_urn"
ALL_LIVE = [
    f"{DELTA}:!blue", f"{DELTA}:latest", f"{DELTA}:v1", f"{DELTA}:v2", f"{DELTA}:v3",
    f"{ALPHA}:!prod", f"{ALPHA}:latest", f"{ALPHA}:v1", f"{BETA}:latest",
]  # fmt: skip


def live(loader: Loader) -> list[str]:
    return [urn for (urn,) in loader.query(LIVE)]


def changes_of_last_run(loader: Loader) -> list[tuple]:
    return loader.query(
        """
        select func_urn, change_type, changed_fields
        from reporting.async_invoke_config_changes
        where detected_at = (select max(detected_at) from reporting.async_invoke_config_changes)
        order by func_urn, change_type
        """
    )


def retry_more(loader: Loader, func_urn: str) -> None:
    """The served config, with only its retry count raised from 3 to 5."""
    served = next(c for c in loader.server.estate.all_configs() if c["func_urn"] == func_urn)
    loader.server.estate.upsert_config({**served, "max_async_retry_attempts": 5})


def mutate(loader: Loader) -> None:
    """Update one config, delete one config, delete one function, add one function."""
    estate = loader.server.estate
    retry_more(loader, f"{ALPHA}:latest")
    estate.delete_config(f"{DELTA}:v3")
    estate.remove_function(BETA)
    estate.add_function(
        PROJECT,
        make_function_item(REGION, PROJECT, "billing", "epsilon"),
        [make_config_item(EPSILON, "latest")],
    )


def test_changes_are_versioned_and_logged(any_loader: Loader) -> None:
    loader = any_loader
    first = loader.run()
    assert first.changes == {SCOPE: {"created": 9, "updated": 0, "deleted": 0, "unchanged": 0}}
    mutate(loader)
    second = loader.run()
    assert second.ok
    assert second.changes == {SCOPE: {"created": 1, "updated": 1, "deleted": 2, "unchanged": 6}}
    assert live(loader) == [
        f"{DELTA}:!blue", f"{DELTA}:latest", f"{DELTA}:v1", f"{DELTA}:v2", f"{EPSILON}:latest",
        f"{ALPHA}:!prod", f"{ALPHA}:latest", f"{ALPHA}:v1",
    ]  # fmt: skip
    assert (
        loader.query(
            "select func_urn from reporting.current_async_invoke_configs "
            "group by func_urn having count(*) > 1"
        )
        == []
    )  # func_urn identifies a live config, however many versions the table holds
    assert changes_of_last_run(loader) == [
        (f"{DELTA}:v3", "deleted", None),
        (f"{EPSILON}:latest", "created", None),
        (f"{ALPHA}:latest", "updated", "max_async_retry_attempts"),
        (f"{BETA}:latest", "deleted", None),
    ]
    old_new = loader.query(
        "select old_max_async_retry_attempts, new_max_async_retry_attempts "
        "from reporting.async_invoke_config_changes where change_type = 'updated'"
    )
    assert old_new == [(3, 5)]
    functions = loader.query(
        "select function_name, is_current from staging.stg_functions order by function_name"
    )
    assert functions == [
        ("alpha", True), ("beta", False), ("delta", True), ("epsilon", True), ("gamma", True),
    ]  # fmt: skip


def test_unchanged_run_writes_nothing(any_loader: Loader) -> None:
    loader = any_loader
    loader.run()
    mutate(loader)
    loader.run()
    rows_before = loader.query("select count(*) from functiongraph.async_invoke_configs")
    functions_before = loader.query("select count(*) from functiongraph.functions")
    changes_before = loader.query("select count(*) from reporting.async_invoke_config_changes")
    third = loader.run()
    assert third.changes == {SCOPE: {"created": 0, "updated": 0, "deleted": 0, "unchanged": 8}}
    assert loader.query("select count(*) from functiongraph.async_invoke_configs") == rows_before
    assert loader.query("select count(*) from functiongraph.functions") == functions_before
    assert (
        loader.query("select count(*) from reporting.async_invoke_config_changes") == changes_before
    )


def test_failing_function_keeps_its_rows_and_the_rest_loads(any_loader: Loader) -> None:
    loader = any_loader
    loader.run()
    estate = loader.server.estate
    estate.delete_config(f"{DELTA}:v1")  # must NOT be retired: DELTA cannot be fetched
    retry_more(loader, f"{ALPHA}:latest")
    loader.server.faults.fail_function(DELTA, status=500)
    summary = loader.run(max_attempts=2)
    assert not summary.ok
    assert len(summary.failures) == 1
    assert summary.failures[0].startswith(f"async-invoke configs of {DELTA}: gave up after 2")
    assert live(loader) == ALL_LIVE
    assert loader.query(
        f"select max_async_retry_attempts from reporting.current_async_invoke_configs "
        f"where func_urn = '{ALPHA}:latest'"
    ) == [(5,)]
    assert summary.changes[SCOPE]["deleted"] == 0
    assert loader.query(
        "select count(*) from staging.stg_functions where is_current and function_name = 'delta'"
    ) == [(1,)]


def test_incomplete_function_list_retires_nothing(any_loader: Loader) -> None:
    loader = any_loader
    loader.run()
    loader.server.estate.remove_function(ALPHA)
    # the second page of the function list keeps failing
    loader.server.faults.inject(path_contains="functions?marker=2", status=503, times=5)
    summary = loader.run(max_attempts=2)
    assert not summary.ok
    assert "listing functions of project" in summary.failures[0]
    assert live(loader) == ALL_LIVE
    assert loader.query("select count(*) from staging.stg_functions where is_current") == [(4,)]


def test_function_vanished_after_listing_counts_as_deleted(any_loader: Loader) -> None:
    loader = any_loader
    loader.run()
    loader.server.faults.vanish(DELTA)
    summary = loader.run()
    assert summary.ok
    assert summary.changes[SCOPE]["deleted"] == 5
    assert all(not urn.startswith(DELTA) for urn in live(loader))
    assert loader.query(
        "select count(*) from staging.stg_functions where is_current and function_name = 'delta'"
    ) == [(0,)]


def subprocess_env(tmp_path: Path, server: SandboxServer) -> dict[str, str]:
    return {
        **os.environ,
        "DLT_DATA_DIR": str(tmp_path / "dlt_data"),
        "DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "crash.duckdb"),
        "SOURCES__FUNCTIONGRAPH__REGION": REGION,
        "SOURCES__FUNCTIONGRAPH__PROJECT_ID": PROJECT,
        "SOURCES__FUNCTIONGRAPH__ENDPOINT": server.url,
        "SOURCES__FUNCTIONGRAPH__CREDENTIALS__AUTH_TOKEN": TOKEN,
    }


def finish_in_process(tmp_path: Path, server: SandboxServer, monkeypatch: pytest.MonkeyPatch):
    """The scheduler's next run, in this process, on the same pipeline state and database."""
    for key, value in subprocess_env(tmp_path, server).items():
        if key.startswith(("SOURCES__", "DESTINATION__", "DLT_")):
            monkeypatch.setenv(key, value)
    from pipelines.functiongraph.source import functiongraph

    pipeline = make_pipeline(pipelines_dir=str(tmp_path / "dlt_data" / "pipelines"))
    return pipeline, run(pipeline, functiongraph())


def assert_like_one_clean_run(pipeline, updated: int = 0) -> None:
    with pipeline.sql_client() as client:
        live_rows = [r[0] for r in client.execute_sql(LIVE)]
        total = client.execute_sql("select count(*) from functiongraph.async_invoke_configs")
        kinds = client.execute_sql(
            "select change_type, count(*) from reporting.async_invoke_config_changes group by 1"
        )
    assert live_rows == ALL_LIVE
    assert total == [(9 + updated,)]  # no duplicate versions
    expected = [("created", 9)] + ([("updated", updated)] if updated else [])
    assert sorted(kinds) == expected  # nothing spuriously updated or deleted


@pytest.mark.parametrize("estate", [small_estate()], ids=["small"])
def test_killed_during_extraction_then_rerun(
    tmp_path: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, estate
) -> None:
    sandbox.faults.latency_s = 0.2  # slow enough to be killed half-way
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "--quiet", "run"],
        cwd=tmp_path,
        env=subprocess_env(tmp_path, sandbox),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while len(sandbox.requests_seen) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)  # waiting for a condition, not for time to pass
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert len(sandbox.requests_seen) < 7  # really interrupted before the end (7 requests)
    sandbox.faults.latency_s = 0.0
    pipeline, summary = finish_in_process(tmp_path, sandbox, monkeypatch)
    assert summary.ok
    assert_like_one_clean_run(pipeline)


CRASH_AFTER_NORMALIZE = textwrap.dedent(
    """
    import os
    from pipelines.functiongraph.source import functiongraph
    from pipelines.runner import extract, make_pipeline

    pipeline = make_pipeline()
    extract(pipeline, functiongraph())  # as a run extracts: Arrow pages, parquet files
    pipeline.normalize()
    os._exit(9)  # the machine dies before the load step
    """
)


CRASH_DURING_LOAD = textwrap.dedent(
    """
    import os
    from dlt.destinations.sql_jobs import SqlMergeFollowupJob
    from pipelines.functiongraph.source import functiongraph
    from pipelines.runner import make_pipeline, run

    def die(*args, **kwargs):
        os._exit(9)  # the staging tables are loaded; the history merge never runs

    SqlMergeFollowupJob.gen_scd2_sql = classmethod(die)
    run(make_pipeline(), functiongraph())
    """
)


def crash(script: str, tmp_path: Path, sandbox: SandboxServer) -> None:
    """Run `script` as a scheduler would run the connector, and see it die with code 9."""
    crashed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=subprocess_env(tmp_path, sandbox),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert crashed.returncode == 9, crashed.stderr


def test_killed_during_load_then_rerun(
    tmp_path: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash(CRASH_DURING_LOAD, tmp_path, sandbox)
    pipeline, summary = finish_in_process(tmp_path, sandbox, monkeypatch)
    assert summary.ok
    assert_like_one_clean_run(pipeline)


def test_killed_before_load_then_rerun(
    tmp_path: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash(CRASH_AFTER_NORMALIZE, tmp_path, sandbox)
    # the estate moves on before the next run: the leftover package is loaded first, and the
    # fresh snapshot after it (not ignored, as a bare `pipeline.run` would do)
    served = next(c for c in sandbox.estate.all_configs() if c["func_urn"] == f"{ALPHA}:latest")
    sandbox.estate.upsert_config({**served, "max_async_retry_attempts": 5})
    pipeline, summary = finish_in_process(tmp_path, sandbox, monkeypatch)
    assert summary.ok
    assert_like_one_clean_run(pipeline, updated=1)
