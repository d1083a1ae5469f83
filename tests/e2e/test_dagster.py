"""Dagster definitions: scope partitions, a real materialization, a failing scope, the schedule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster  # installed by the dev extra: this suite must never skip it silently
import duckdb
import pytest

from pipelines.functiongraph.errors import ConfigError
from pipelines.orchestration import dagster as orchestration
from pipelines.policy.rules import load_rules
from pipelines.sandbox import (
    SandboxServer,
)
from tests.support.estates import (
    PROJECT,
    PROJECT_B,
    REGION,
    REGION_B,
    small_estate,
    two_project_estate,
)

KEY = f"{REGION}/{PROJECT}"
KEY_B = f"{REGION_B}/{PROJECT_B}"
SECRET = "dagster-token-4d1e8b"  # distinctive, so it can be searched for in every event

TABLES = {orchestration.FUNCTIONS_KEY, orchestration.CONFIGS_KEY}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Everything dlt and Dagster write goes under tmp_path; returns the DuckDB file."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    # no telemetry, which Dagster would otherwise write to ~/.dagster
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    monkeypatch.delenv("FGS__DESTINATION", raising=False)
    database = tmp_path / "fgs.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(database))
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__CREDENTIALS__AUTH_TOKEN", SECRET)
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__BACKOFF_BASE", "0.001")
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__BACKOFF_MAX", "0.01")
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__REQUESTS_PER_SECOND", "0")
    return database


def two_projects(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    projects = [
        {"region": REGION, "project_id": PROJECT, "endpoint": url},
        {"region": REGION_B, "project_id": PROJECT_B, "endpoint": url},
    ]
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__PROJECTS", json.dumps(projects))


def live_configs(database: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(
            "select region, project_id, count(*) from reporting.current_async_invoke_configs "
            "group by all order by all"
        ).fetchall()


def materializations(result: Any) -> dict[Any, dict[str, Any]]:
    """Metadata values of each asset materialized in a run, by asset key."""
    found = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        found[materialization.asset_key] = {
            key: value.value for key, value in materialization.metadata.items()
        }
    return found


def test_definitions_load_with_the_configured_scopes(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_projects(monkeypatch, "http://127.0.0.1:9")
    defs = orchestration.build_defs()
    dagster.Definitions.validate_loadable(defs)
    job = defs.resolve_job_def(orchestration.JOB_NAME)
    assert job.partitions_def.get_partition_keys() == [KEY, KEY_B]
    graph = defs.resolve_asset_graph()
    assert set(graph.get_all_asset_keys()) == {*TABLES, orchestration.MODELS_KEY}
    assert graph.get(orchestration.MODELS_KEY).parent_keys == TABLES
    assert graph.get(orchestration.CONFIGS_KEY).partitions_def == job.partitions_def
    assert graph.get(orchestration.MODELS_KEY).partitions_def is None


def test_definitions_load_without_scopes_and_the_schedule_says_why(env: Path) -> None:
    defs = orchestration.build_defs()
    dagster.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def(orchestration.JOB_NAME).partitions_def.get_partition_keys() == []
    schedule = defs.resolve_schedule_def(orchestration.SCHEDULE_NAME)
    with dagster.build_schedule_context() as context:
        tick = schedule.evaluate_tick(context)
    assert tick.run_requests == []
    assert "SOURCES__FUNCTIONGRAPH__PROJECTS" in tick.skip_message


def test_a_configuration_that_cannot_work_names_the_key(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__PROJECTS", "[{not json")
    with pytest.raises(ConfigError, match="SOURCES__FUNCTIONGRAPH__PROJECTS is not valid JSON"):
        orchestration.build_defs()


def test_the_schedule_runs_every_scope_of_the_partitioned_job_daily(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_projects(monkeypatch, "http://127.0.0.1:9")
    defs = orchestration.build_defs()
    schedule = defs.resolve_schedule_def(orchestration.SCHEDULE_NAME)
    assert schedule.job_name == orchestration.JOB_NAME
    minute, hour, *every = schedule.cron_schedule.split()
    assert minute.isdigit() and hour.isdigit() and every == ["*", "*", "*"]
    tick_time = datetime(2026, 1, 2, 2, 0, tzinfo=UTC)
    repository = defs.get_repository_def()
    with dagster.build_schedule_context(
        scheduled_execution_time=tick_time, repository_def=repository
    ) as context:
        tick = schedule.evaluate_tick(context)
    assert [request.partition_key for request in tick.run_requests] == [KEY, KEY_B]
    assert [request.run_key for request in tick.run_requests] == [
        f"{KEY}@2026-01-02",
        f"{KEY_B}@2026-01-02",
    ]


def test_a_partition_loads_its_scope_and_the_models_follow(
    env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with SandboxServer(small_estate(), tokens=(SECRET,), functions_page_cap=2) as server:
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__REGION", REGION)
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__PROJECT_ID", PROJECT)
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__ENDPOINT", server.url)
        assets = list(orchestration.build_defs().assets or [])
        instance = dagster.DagsterInstance.ephemeral()
        first = dagster.materialize(assets, partition_key=KEY, instance=instance)
        again = dagster.materialize(assets, partition_key=KEY, instance=instance)

    assert first.success and again.success
    assert live_configs(env) == [(REGION, PROJECT, 9)]
    metadata = materializations(first)
    assert set(metadata) == {*TABLES, orchestration.MODELS_KEY}
    configs = metadata[orchestration.CONFIGS_KEY]
    assert (configs["created"], configs["updated"], configs["deleted"]) == (9, 0, 0)
    assert (configs["unchanged"], configs["live_configs"], configs["scope"]) == (0, 9, KEY)
    assert metadata[orchestration.FUNCTIONS_KEY]["live_functions"] == 4
    models = metadata[orchestration.MODELS_KEY]
    assert "reporting.current_async_invoke_configs" in models["views"]
    assert models["live_configs"] == 9
    second = materializations(again)[orchestration.CONFIGS_KEY]
    assert (second["created"], second["unchanged"]) == (0, 9)
    # one working folder per scope and warehouse, all under DLT_DATA_DIR
    folder = tmp_path / "dlt" / "pipelines" / "fgs_dagster" / f"{REGION}__{PROJECT}"
    assert [p.name.startswith("fgs_async_configs_") for p in folder.iterdir() if p.is_dir()] == [
        True
    ]
    # neither the events nor the logs of a run carry the secret
    assert "live_configs" in run_log(instance, first)
    assert SECRET not in run_log(instance, first) + run_log(instance, again)


def test_a_failing_scope_fails_its_own_partition_with_the_connector_message(
    env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__MAX_ATTEMPTS", "2")
    # a persistent instance (sqlite under tmp_path), so that the pool is really claimed
    instance = dagster.DagsterInstance.local_temp(str(tmp_path / "dagster_home"))
    with instance, SandboxServer(two_project_estate(), tokens=(SECRET,)) as server:
        two_projects(monkeypatch, server.url)
        assets = list(orchestration.build_defs().assets or [])
        server.faults.inject(path_contains=f"{PROJECT_B}/fgs/functions", status=503, times=50)
        failed = dagster.materialize(
            assets, partition_key=KEY_B, instance=instance, raise_on_error=False
        )
        instance.event_log_storage.set_concurrency_slots(orchestration.POOL, 1)
        other = dagster.materialize(assets, partition_key=KEY, instance=instance)

    assert not failed.success
    (failure,) = failed.get_step_failure_events()
    data = failure.event_specific_data
    description = data.user_failure_data.description
    assert description.startswith(f"listing functions of project {PROJECT_B} in {REGION_B}")
    assert "no function in this project was retired" in description
    assert data.error.cause is None and data.error.context is None  # no chained traceback
    assert materializations(failed) == {}  # neither the tables nor the models
    assert SECRET not in run_log(instance, failed)
    # the other scope's partition is unaffected
    assert other.success
    assert live_configs(env) == [(REGION, PROJECT, 9)]
    # an unlimited pool is pointed out; once limited to 1 it is not
    assert f"dagster instance concurrency set {orchestration.POOL} 1" in run_log(instance, failed)
    assert "concurrency set" not in run_log(instance, other)


def run_log(instance: Any, result: Any) -> str:
    """Everything a run recorded: Dagster's events (with their metadata) and logged messages."""
    return "\n".join(repr(entry) for entry in instance.all_logs(result.run_id))


def test_each_policy_rule_is_an_asset_check_on_the_configs(
    env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nid = "status_log_required"\nenabled = false\n', encoding="utf-8")
    monkeypatch.setenv("FGS__POLICY_RULES", str(rules))
    with SandboxServer(small_estate(), tokens=(SECRET,)) as server:
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__REGION", REGION)
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__PROJECT_ID", PROJECT)
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__ENDPOINT", server.url)
        defs = orchestration.build_defs()
        job = defs.resolve_job_def(orchestration.JOB_NAME)
        result = job.execute_in_process(
            partition_key=KEY, instance=dagster.DagsterInstance.ephemeral()
        )
    assert result.success  # a failed check is a finding, not a failed run
    evaluations = {
        evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()
    }
    assert set(evaluations) == {rule.id for rule in load_rules()} - {"status_log_required"}
    failed = {name for name, evaluation in evaluations.items() if not evaluation.passed}
    assert failed == {"failure_destination_required", "min_event_age"}
    high = evaluations["failure_destination_required"]
    assert high.severity == dagster.AssetCheckSeverity.ERROR
    assert high.asset_key == orchestration.CONFIGS_KEY
    assert high.metadata["findings"].value == 2
    assert evaluations["min_event_age"].severity == dagster.AssetCheckSeverity.WARN


def test_selecting_one_table_explains_that_both_load_together(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SandboxServer(small_estate(), tokens=(SECRET,)) as server:
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__REGION", REGION)
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__PROJECT_ID", PROJECT)
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__ENDPOINT", server.url)
        assets = list(orchestration.build_defs().assets or [])
        result = dagster.materialize(
            assets,
            selection=[orchestration.CONFIGS_KEY],
            partition_key=KEY,
            instance=dagster.DagsterInstance.ephemeral(),
            raise_on_error=False,
        )
        assert not server.requests_seen  # refused before anything was fetched
    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    assert "select both, or run the job fgs_async_configs" in str(
        failure.step_failure_data.error.message
    )
    assert not env.exists()
