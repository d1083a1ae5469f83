"""Dagster definitions: scope partitions (configured, or discovered by the sensor), real
materializations (one at a time and two at once), a failing scope, the schedule."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster  # installed by the dev extra: this suite must never skip it silently
import duckdb
import pytest

from pipelines.functiongraph.config.settings import default_endpoint
from pipelines.functiongraph.errors import ConfigError
from pipelines.functiongraph.http.api import functions_path
from pipelines.locks import turn
from pipelines.orchestration import dagster as orchestration
from pipelines.policy.rules import load_rules
from pipelines.runner import make_pipeline
from pipelines.sandbox import Estate, SandboxServer
from pipelines.sandbox.server import Reply
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
ACCESS_KEY = "DAGSTERAK7Q2"
SECRET_KEY = "dagster-sk-91c3e7f0"  # distinctive too: discovery signs with it

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


def one_project(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__REGION", REGION)
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__PROJECT_ID", PROJECT)
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__ENDPOINT", url)


def two_projects(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    projects = [
        {"region": REGION, "project_id": PROJECT, "endpoint": url},
        {"region": REGION_B, "project_id": PROJECT_B, "endpoint": url},
    ]
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__PROJECTS", json.dumps(projects))


def discovery(monkeypatch: pytest.MonkeyPatch, url: str, secret_key: str = SECRET_KEY) -> None:
    """No scope configured and AK/SK credentials: the source discovers the projects through
    the sandbox's IAM, and serves them from the sandbox (the configured `endpoint`)."""
    monkeypatch.delenv("SOURCES__FUNCTIONGRAPH__CREDENTIALS__AUTH_TOKEN", raising=False)
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__CREDENTIALS__ACCESS_KEY", ACCESS_KEY)
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__CREDENTIALS__SECRET_KEY", secret_key)
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__IAM_ENDPOINT", url)
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__ENDPOINT", url)
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__MAX_ATTEMPTS", "2")


def signed_sandbox(estate: Any, **options: Any) -> SandboxServer:
    """A sandbox that accepts only the AK/SK pair, so every request must be signed."""
    return SandboxServer(estate, tokens=(), access_keys={ACCESS_KEY: SECRET_KEY}, **options)


def live_configs(database: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(
            "select region, project_id, count(*) from reporting.current_async_invoke_configs "
            "group by all order by all"
        ).fetchall()


def history(database: Path) -> list[tuple[Any, ...]]:
    """Every version ever loaded: identity, fingerprint, and whether it is live (the instants
    differ between two warehouses, the versions must not)."""
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            """
            select 'config', project_id, function_urn, func_urn, row_version,
                _dlt_valid_to is null
            from functiongraph.async_invoke_configs
            union all
            select 'function', project_id, '', func_urn, row_version, _dlt_valid_to is null
            from functiongraph.functions
            """
        ).fetchall()
    return sorted(rows)


def materializations(result: Any) -> dict[Any, dict[str, Any]]:
    """Metadata values of each asset materialized in a run, by asset key."""
    found = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        found[materialization.asset_key] = {
            key: value.value for key, value in materialization.metadata.items()
        }
    return found


def run_log(instance: Any, result: Any) -> str:
    """Everything a run recorded: Dagster's events (with their metadata) and logged messages."""
    return "\n".join(repr(entry) for entry in instance.all_logs(result.run_id))


def sensor_tick(defs: dagster.Definitions, instance: dagster.DagsterInstance) -> Any:
    """One evaluation of the discovery sensor, its partition requests applied to `instance`
    as Dagster's daemon applies them."""
    sensor = defs.resolve_sensor_def(orchestration.SCOPES_NAME)
    with dagster.build_sensor_context(instance=instance) as context:
        tick = sensor.evaluate_tick(context)
    for request in tick.dynamic_partitions_requests or []:
        if isinstance(request, dagster.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
    return tick


def partitions(instance: dagster.DagsterInstance) -> list[str]:
    return sorted(instance.get_dynamic_partitions(orchestration.SCOPES_NAME))


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
    assert not list(defs.sensors or [])  # nothing to discover: the scopes are configured


@pytest.mark.parametrize("configured", [True, False], ids=["configured", "discovered"])
def test_no_step_waits_for_a_dagster_pool(
    env: Path, monkeypatch: pytest.MonkeyPatch, configured: bool
) -> None:
    """The connector's locks serialize what must be: partitions run side by side."""
    if configured:
        two_projects(monkeypatch, "http://127.0.0.1:9")
    job = orchestration.build_defs().resolve_job_def(orchestration.JOB_NAME)
    ops = {node.name: node.definition for node in job.graph.nodes}
    assert len(ops) == 3  # the tables, the models and the policy checks
    assert {name: (op.pool, op.pools) for name, op in ops.items()} == dict.fromkeys(
        ops, (None, set())
    )


def test_without_scopes_the_partitions_are_discovered_and_the_schedule_waits_for_them(
    env: Path, tmp_path: Path
) -> None:
    defs = orchestration.build_defs()
    dagster.Definitions.validate_loadable(defs)
    job = defs.resolve_job_def(orchestration.JOB_NAME)
    assert isinstance(job.partitions_def, dagster.DynamicPartitionsDefinition)
    assert job.partitions_def.name == orchestration.SCOPES_NAME
    graph = defs.resolve_asset_graph()
    assert graph.get(orchestration.CONFIGS_KEY).partitions_def == job.partitions_def
    sensor = defs.resolve_sensor_def(orchestration.SCOPES_NAME)
    assert sensor.default_status == dagster.DefaultSensorStatus.STOPPED
    schedule = defs.resolve_schedule_def(orchestration.SCHEDULE_NAME)
    tick_time = datetime(2026, 1, 2, 2, 0, tzinfo=UTC)
    repository = defs.get_repository_def()
    # a persistent instance, as the schedule's context needs one to read the partitions
    with dagster.DagsterInstance.local_temp(str(tmp_path / "dagster_home")) as instance:
        context_args = {
            "instance": instance,
            "scheduled_execution_time": tick_time,
            "repository_def": repository,
        }
        with dagster.build_schedule_context(**context_args) as context:
            empty = schedule.evaluate_tick(context)
        # once the sensor has added partitions: one run each, of today's partitions
        instance.add_dynamic_partitions(orchestration.SCOPES_NAME, [KEY_B, KEY])
        with dagster.build_schedule_context(**context_args) as context:
            tick = schedule.evaluate_tick(context)
    assert empty.run_requests == []
    assert f"switch on the sensor {orchestration.SCOPES_NAME}" in empty.skip_message
    assert "SOURCES__FUNCTIONGRAPH__PROJECTS" in empty.skip_message
    assert [request.run_key for request in tick.run_requests] == [
        f"{KEY_B}@2026-01-02",
        f"{KEY}@2026-01-02",
    ]
    assert [request.partition_key for request in tick.run_requests] == [KEY_B, KEY]


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


def test_a_partition_loads_its_scope_in_the_pipeline_of_the_cli(
    env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with SandboxServer(small_estate(), tokens=(SECRET,), functions_page_cap=2) as server:
        one_project(monkeypatch, server.url)
        assets = list(orchestration.build_defs().assets or [])
        instance = dagster.DagsterInstance.ephemeral()
        first = dagster.materialize(assets, partition_key=KEY, instance=instance)
        again = dagster.materialize(assets, partition_key=KEY, instance=instance)
        # the CLI, configured with the same one scope, continues the same dlt pipeline
        cli = subprocess.run(
            [sys.executable, "-m", "pipelines", "--quiet", "run", "--summary-json", "-"],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )

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
    summary = json.loads(cli.stdout)
    assert summary["scopes"][KEY]["created"] == 0 and summary["scopes"][KEY]["unchanged"] == 9
    assert configs["working_dir"] == second["working_dir"] == summary["working_dir"]
    assert Path(configs["working_dir"]).is_relative_to(tmp_path / "dlt")
    # neither the events nor the logs of a run carry the secret
    assert "live_configs" in run_log(instance, first)
    assert SECRET not in run_log(instance, first) + run_log(instance, again)


def test_a_failing_scope_fails_its_own_partition_with_the_connector_message(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__MAX_ATTEMPTS", "2")
    instance = dagster.DagsterInstance.ephemeral()
    with SandboxServer(two_project_estate(), tokens=(SECRET,)) as server:
        two_projects(monkeypatch, server.url)
        assets = list(orchestration.build_defs().assets or [])
        server.faults.inject(path_contains=f"{PROJECT_B}/fgs/functions", status=503, times=50)
        failed = dagster.materialize(
            assets, partition_key=KEY_B, instance=instance, raise_on_error=False
        )
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


def test_the_sensor_keeps_the_discovered_projects_as_partitions(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = dagster.DagsterInstance.ephemeral()
    with signed_sandbox(two_project_estate()) as server:
        discovery(monkeypatch, server.url)
        defs = orchestration.build_defs()
        added = sensor_tick(defs, instance)
        unchanged = sensor_tick(defs, instance)
        with server.estate.lock:  # the project is deleted in the account
            del server.estate.projects[PROJECT_B]
        deleted = sensor_tick(defs, instance)
        fgs_requests = [seen for seen in server.requests_seen if "/fgs/" in seen.path]

    assert added.skip_message == f"partitions added: {KEY_B}, {KEY}; deleted: none"
    (request,) = added.dynamic_partitions_requests
    assert isinstance(request, dagster.AddDynamicPartitionsRequest)
    assert request.partition_keys == [KEY_B, KEY]  # as IAM lists them, sorted
    assert unchanged.dynamic_partitions_requests == []
    assert unchanged.skip_message == "2 project(s) discovered, all already partitions"
    (request,) = deleted.dynamic_partitions_requests
    assert isinstance(request, dagster.DeleteDynamicPartitionsRequest)
    assert request.partition_keys == [KEY_B]
    assert deleted.skip_message == f"partitions added: none; deleted: {KEY_B}"
    assert partitions(instance) == [KEY]
    assert fgs_requests == []  # discovery asks IAM only, it loads nothing


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        ("wrong-key", "discovering projects through IAM"),
        ("iam-unreachable", "discovering projects through IAM"),
        ("token-only", "use AK/SK credentials to discover the projects"),
        ("no-project", "IAM lists no enabled project"),
    ],
)
def test_a_failed_discovery_deletes_no_partition(
    env: Path, monkeypatch: pytest.MonkeyPatch, failure: str, reason: str
) -> None:
    instance = dagster.DagsterInstance.ephemeral()
    with signed_sandbox(two_project_estate()) as server:
        discovery(monkeypatch, server.url)
        defs = orchestration.build_defs()
        sensor_tick(defs, instance)
        assert partitions(instance) == [KEY_B, KEY]
        wrong = "wrong-sk-5b7d2a0e"
        if failure == "wrong-key":
            monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__CREDENTIALS__SECRET_KEY", wrong)
        elif failure == "iam-unreachable":
            monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__IAM_ENDPOINT", "http://127.0.0.1:9")
        elif failure == "token-only":
            monkeypatch.delenv("SOURCES__FUNCTIONGRAPH__CREDENTIALS__ACCESS_KEY")
            monkeypatch.delenv("SOURCES__FUNCTIONGRAPH__CREDENTIALS__SECRET_KEY")
            monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__CREDENTIALS__AUTH_TOKEN", SECRET)
        else:
            with server.estate.lock:  # IAM answers, listing no project at all
                server.estate.projects.clear()
        tick = sensor_tick(defs, instance)

    assert tick.dynamic_partitions_requests == []
    assert partitions(instance) == [KEY_B, KEY]  # nothing proven gone, nothing deleted
    message = tick.skip_message
    assert message.startswith("discovery failed, no partition was deleted: ")
    assert reason in message
    assert "\n" not in message and "Traceback" not in message
    for secret in (SECRET_KEY, wrong, SECRET):
        assert secret not in message


def test_a_discovered_partition_loads_its_scope(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    instance = dagster.DagsterInstance.ephemeral()
    with signed_sandbox(two_project_estate()) as server:
        discovery(monkeypatch, server.url)
        defs = orchestration.build_defs()
        sensor_tick(defs, instance)
        assets = list(defs.assets or [])
        result = dagster.materialize(assets, partition_key=KEY, instance=instance)
        # a key that is no scope (added by hand, say) is refused before any request
        instance.add_dynamic_partitions(orchestration.SCOPES_NAME, ["cn-north-4"])
        server.clear_requests_seen()
        refused = dagster.materialize(
            assets, partition_key="cn-north-4", instance=instance, raise_on_error=False
        )
        assert server.requests_seen == []

    assert result.success
    assert live_configs(env) == [(REGION, PROJECT, 9)]
    configs = materializations(result)[orchestration.CONFIGS_KEY]
    assert (configs["scope"], configs["created"]) == (KEY, 9)
    assert SECRET_KEY not in run_log(instance, result)
    assert not refused.success
    (failure,) = refused.get_step_failure_events()
    description = failure.event_specific_data.user_failure_data.description
    assert description.startswith("the partition key 'cn-north-4' is not region/project_id")


def test_a_discovered_scope_uses_the_endpoint_the_source_would(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert orchestration.discovered_scope(KEY).endpoint == default_endpoint(REGION)
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__ENDPOINT", "http://127.0.0.1:9/")
    assert orchestration.discovered_scope(KEY).endpoint == "http://127.0.0.1:9"
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__ENDPOINT", "ftp://somewhere")
    with pytest.raises(dagster.Failure, match="SOURCES__FUNCTIONGRAPH__ENDPOINT must be"):
        orchestration.discovered_scope(KEY)


class MeetingSandbox(SandboxServer):
    """Once `expect` is called, holds the first listing request of each of the projects until
    all of them have asked: `met` are the projects that got past it together. A run that never
    overlaps the others is served after `timeout` seconds, and does not count as met (the
    client's request timeout must be longer, or its retry would be served meanwhile and the
    held request could still meet a later run)."""

    def __init__(self, estate: Estate, timeout: float, **options: Any) -> None:
        super().__init__(estate, **options)
        self.timeout = timeout
        self.due: set[str] = set()
        self.met: set[str] = set()
        self.held = threading.Lock()
        self.meeting = threading.Barrier(1)

    def expect(self, projects: Collection[str]) -> None:
        self.due, self.met = set(projects), set()
        self.meeting = threading.Barrier(len(self.due), timeout=self.timeout)

    def respond(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes = b""
    ) -> Reply:
        path = target.partition("?")[0]
        with self.held:
            arrived = {project for project in self.due if path == functions_path(project)}
            self.due -= arrived
        if arrived:
            try:
                self.meeting.wait()
            except threading.BrokenBarrierError:
                pass  # served anyway; the test sees that this project met no other
            else:
                with self.held:
                    self.met |= arrived
        return super().respond(method, target, headers, body)


def test_two_partitions_load_at_once_as_they_would_one_by_one(
    env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    reference = tmp_path / "reference.duckdb"
    with signed_sandbox(two_project_estate()) as plain:
        discovery(monkeypatch, plain.url)
        defs = orchestration.build_defs()
        assets = list(defs.assets or [])
        instance = dagster.DagsterInstance.ephemeral()
        sensor_tick(defs, instance)
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(reference))
        for key in (KEY, KEY_B):
            assert dagster.materialize(assets, partition_key=key, instance=instance).success

    server = MeetingSandbox(
        two_project_estate(), timeout=60, tokens=(), access_keys={ACCESS_KEY: SECRET_KEY}
    )
    with server:
        discovery(monkeypatch, server.url)
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__REQUEST_TIMEOUT", "120")
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(env))
        server.expect([PROJECT, PROJECT_B])

        def materialize(key: str) -> Any:
            own = dagster.DagsterInstance.ephemeral()  # as two run workers would have
            own.add_dynamic_partitions(orchestration.SCOPES_NAME, [key])
            return dagster.materialize(assets, partition_key=key, instance=own)

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(materialize, [KEY, KEY_B]))

    assert server.met == {PROJECT, PROJECT_B}  # both were listing their functions at once
    assert [result.success for result in results] == [True, True]
    assert live_configs(env) == [(REGION_B, PROJECT_B, 2), (REGION, PROJECT, 9)]
    assert history(env) == history(reference)
    created = [materializations(r)[orchestration.CONFIGS_KEY]["created"] for r in results]
    assert created == [9, 2]


def test_the_models_and_the_checks_wait_for_the_warehouse_turn(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """They replace and read views: never while another run (a DuckDB load, say) has the turn."""
    with SandboxServer(small_estate(), tokens=(SECRET,)) as server:
        one_project(monkeypatch, server.url)
        defs = orchestration.build_defs()
        job = defs.resolve_job_def(orchestration.JOB_NAME)
        assert job.execute_in_process(
            partition_key=KEY, instance=dagster.DagsterInstance.ephemeral()
        ).success
    assets = list(defs.assets or [])
    monkeypatch.setenv("FGS__LOCK_TIMEOUT", "0")  # give up at once instead of waiting

    def models_and_checks() -> list[Any]:
        """The models alone, then the checks alone (of one partition)."""
        return [
            dagster.materialize(
                assets,
                selection=[orchestration.MODELS_KEY],
                instance=dagster.DagsterInstance.ephemeral(),
                raise_on_error=False,
            ),
            job.execute_in_process(
                partition_key=KEY,
                op_selection=["fgs_policy_rules"],
                instance=dagster.DagsterInstance.ephemeral(),
                raise_on_error=False,
            ),
        ]

    with turn(make_pipeline()), ThreadPoolExecutor(max_workers=1) as other:
        blocked = other.submit(models_and_checks).result()
    with ThreadPoolExecutor(max_workers=1) as other:
        free = other.submit(models_and_checks).result()

    for result in blocked:
        (failure,) = result.get_step_failure_events()
        description = failure.event_specific_data.user_failure_data.description
        assert description.startswith(f"another run is using {env} (waited 0s")
    assert [result.success for result in free] == [True, True]
    assert len(free[1].get_asset_check_evaluations()) == len(load_rules())


def test_each_policy_rule_is_an_asset_check_on_the_configs(
    env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nid = "status_log_required"\nenabled = false\n', encoding="utf-8")
    monkeypatch.setenv("FGS__POLICY_RULES", str(rules))
    with SandboxServer(small_estate(), tokens=(SECRET,)) as server:
        one_project(monkeypatch, server.url)
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
        one_project(monkeypatch, server.url)
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
