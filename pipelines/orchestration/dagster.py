"""Dagster definitions: the two functiongraph tables per scope, the SQL models after them, daily.

    dagster dev -m pipelines.orchestration.dagster

Assets (group `functiongraph`):

- `functiongraph/functions` and `functiongraph/async_invoke_configs`: one multi-asset, partitioned
  per scope (partition key `region/project_id`). A partition run creates the source for that one
  scope and runs it with `pipelines.runner.run` in `make_pipeline(scopes=[key])`: the same dlt
  pipeline (working folder, and staging dataset on PostgreSQL) as `python -m pipelines run`
  configured with that one scope, so each continues what the other left (state, a crashed run's
  pending packages). Selecting only one of the two fails at once, saying why (one load writes
  both).
- `fgs_sql_models`: the SQL models (`sql/staging`, `sql/reporting`), re-applied by
  `pipelines.runner.refresh_models` after the tables; materialized alone it does what
  `python -m pipelines models` does.

Asset checks (`fgs_policy_rules`): every policy rule in force (the packaged pack plus
`FGS__POLICY_RULES`) is an asset check on `functiongraph/async_invoke_configs`, per partition,
read from `reporting.policy_findings` after the models: it fails (severity ERROR for `high`
rules, WARN for the others) when the partition's scope has findings of that rule.

Partitions. When scopes are configured (read when the definitions load, through dlt's providers
like the source reads them: `SOURCES__FUNCTIONGRAPH__PROJECTS`, or `SOURCES__FUNCTIONGRAPH__REGION`
with `SOURCES__FUNCTIONGRAPH__PROJECT_ID`, or `[sources.functiongraph]` in `.dlt/config.toml`),
they are the partitions; a configuration that cannot work fails the load of the definitions with
a message naming the key. Otherwise the partitions are dynamic, `fgs_async_configs_scopes`, kept
by the sensor of the same name (stopped until switched on, like the schedule; hourly): it creates
the source exactly as `python -m pipelines run` does, which with AK/SK credentials discovers the
projects through IAM, then adds the scopes discovered and deletes those no longer listed. Nothing
is deleted unless discovery succeeded: a failed one (no AK/SK, an IAM error, IAM unreachable)
skips with the connector's one-line reason. A dynamic partition's run rebuilds its scope from
the key, with the endpoint the source would give it (`SOURCES__FUNCTIONGRAPH__ENDPOINT`, else the
region's). The daily schedule requests one run per partition there is at that moment.
Credentials and every other setting are read when a partition runs or the sensor discovers.

Concurrency. No Dagster pool: partitions run in parallel, and the connector's own locks
(`pipelines.locks`) serialize what must be. A run holds its scope (two runs of one scope never
overlap) and takes the warehouse's turn only to sync, create tables, apply the models and, on
DuckDB (one writer per file), to load: fetching and normalizing overlap, loads wait up to
`FGS__LOCK_TIMEOUT`. The models asset and the checks replace and read views in that turn too, so
they never meet a partition's load.
"""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at runtime.
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from dagster import (
    AddDynamicPartitionsRequest,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    AssetSpec,
    DefaultSensorStatus,
    Definitions,
    DeleteDynamicPartitionsRequest,
    DynamicPartitionsDefinition,
    Failure,
    MaterializeResult,
    PartitionsDefinition,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    StaticPartitionsDefinition,
    asset,
    define_asset_job,
    multi_asset,
    multi_asset_check,
    schedule,
    sensor,
)
from dlt.common.configuration import get_fun_spec, resolve_configuration
from dlt.common.configuration.inject import inject_section
from dlt.common.configuration.specs import ConfigSectionContext

from pipelines.failures import one_line, root_cause
from pipelines.functiongraph.config.scopes import configured_scopes
from pipelines.functiongraph.config.settings import Scope, env_key, make_scope, require_name
from pipelines.functiongraph.errors import ConfigError
from pipelines.functiongraph.source import functiongraph, source_scopes
from pipelines.locks import turn
from pipelines.policy.rules import Rule, load_rules, rules_path
from pipelines.runner import (
    CHANGE_TYPES,
    DATASET_NAME,
    RunSummary,
    make_pipeline,
    refresh_models,
    run,
)
from pipelines.warehouse import PIPELINE_PREFIX

T = TypeVar("T")
GROUP = "functiongraph"
FUNCTIONS_KEY = AssetKey([DATASET_NAME, "functions"])
CONFIGS_KEY = AssetKey([DATASET_NAME, "async_invoke_configs"])
MODELS_KEY = AssetKey("fgs_sql_models")
JOB_NAME = "fgs_async_configs"
SCHEDULE_NAME = "fgs_async_configs_daily"
DAILY_CRON = "0 2 * * *"  # 02:00 UTC every day
SCOPES_NAME = "fgs_async_configs_scopes"
"""The dynamic partitions of discovered scopes, and the sensor that keeps them."""
DISCOVERY_INTERVAL = 3600
"""Seconds between two discoveries of the sensor: projects come and go rarely, and each
discovery is a signed request to IAM."""

# The sections dlt resolves the source's arguments in (`sources.functiongraph.<key>` and the
# longer and pipeline-prefixed forms), so the partitions follow exactly what the source reads.
SOURCE_SECTIONS = ("sources", "functiongraph", "functiongraph")

ONE_LOAD = (
    "functiongraph/functions and functiongraph/async_invoke_configs are written by one load "
    "(a function is retired with its configs): select both, or run the job "
    f"{JOB_NAME}; nothing was loaded"
)

NOT_DISCOVERED = (
    f"no FunctionGraph project is a partition yet: switch on the sensor {SCOPES_NAME} (with "
    "AK/SK credentials it discovers the projects through IAM and adds them as partitions), or "
    f"configure the scopes ({env_key('projects')}, or {env_key('region')} with "
    f"{env_key('project_id')}) and reload the definitions"
)


def attempt(action: Callable[[], T]) -> tuple[T | None, str | None]:
    """`action()` and None, or None and the one line that says why it failed.

    The exception is caught here and only its line goes on, so that the `Failure` or skip
    raised for it carries no chain of the original exceptions, whose messages and frames may
    hold secrets (a connection string, a signed URL).
    """
    try:
        return action(), None
    except Exception as exc:
        return None, one_line(root_cause(exc))


def source_settings() -> Any:
    """The source's arguments as dlt resolves them now (credentials may be missing).

    Resolved through the source's own configuration spec (the one dlt derives from the source
    function's arguments), so the partitions follow exactly what the source reads, with no
    second declaration of its keys.
    """
    context = ConfigSectionContext(pipeline_name=PIPELINE_PREFIX, sections=SOURCE_SECTIONS)
    spec = get_fun_spec(functiongraph.__wrapped__)
    with inject_section(context):
        return resolve_configuration(spec(), sections=SOURCE_SECTIONS, accept_partial=True)


def configured_partition_scopes() -> dict[str, Scope]:
    """The configured scopes by partition key ("region/project_id"), in configuration order;
    empty when the scopes are to be discovered. Raises `ConfigError` naming the key when the
    scopes cannot work."""
    settings = source_settings()
    scopes = configured_scopes(
        settings.region, settings.project_id, settings.endpoint, settings.projects
    )
    return {partition_key(scope): scope for scope in scopes or []}


def partition_key(scope: Scope) -> str:
    """The key RunSummary.changes uses too."""
    return f"{scope.region}/{scope.project_id}"


def discovered_scope(key: str) -> Scope:
    """The scope of a dynamic partition, as the source would make it when it discovers it: the
    configured `endpoint` if any, else the region's own. Raises `Failure` with one line."""
    region, _, project_id = key.partition("/")
    reason: str | None = None
    try:
        require_name("region", region)
        require_name("project_id", project_id)
    except ConfigError:
        reason = (
            f"the partition key {key!r} is not region/project_id (letters, digits, '_', '.' "
            "and '-' on each side of one '/'); nothing was loaded"
        )
    if reason is None:  # a configured endpoint that cannot work is named by its key
        scope, reason = attempt(lambda: make_scope(region, project_id, source_settings().endpoint))
        if scope is not None:
            return scope
    raise Failure(description=reason, metadata={"scope": key})


@dataclass
class ScopePartitions:
    """The partitions of the definitions, and the scope each key stands for."""

    configured: Mapping[str, Scope]
    """The configured scopes by key; empty when the partitions are discovered (dynamic)."""
    definition: PartitionsDefinition = field(init=False)
    """One object shared by the tables, the checks and the job."""

    def __post_init__(self) -> None:
        self.definition = (
            StaticPartitionsDefinition(list(self.configured))
            if self.configured
            else DynamicPartitionsDefinition(name=SCOPES_NAME)
        )

    def scope(self, key: str) -> Scope:
        """The scope a partition loads; raises `Failure` with one line when there is none."""
        if not self.configured:
            return discovered_scope(key)
        scope = self.configured.get(key)
        if scope is None:
            configured = ", ".join(self.configured)
            raise Failure(description=f"{key} is not a configured scope (configured: {configured})")
        return scope


def load_scope(scope: Scope) -> RunSummary:
    """Run the connector for one scope; any failure raises `dagster.Failure` with one line.

    The pipeline is the one `python -m pipelines run` uses for this one scope. The source gets
    the scope as its only project; `region`, `project_id` and `regions` are passed as None so
    that a single-scope or discovery configuration in the environment does not collide with it.
    """

    def load() -> RunSummary:
        pipeline = make_pipeline(scopes=[partition_key(scope)])
        source = functiongraph(
            region=None,
            project_id=None,
            endpoint=None,
            regions=None,
            projects=[
                {"region": scope.region, "project_id": scope.project_id, "endpoint": scope.endpoint}
            ],
        )
        return run(pipeline, source)

    summary, reason = attempt(load)  # one line, as the CLI prints it
    if summary is None:
        raise Failure(description=reason, metadata={"scope": partition_key(scope)})
    if summary.failures:
        raise Failure(
            description=one_line("; ".join(summary.failures)),
            metadata={"scope": partition_key(scope), **change_counts(summary, scope)},
        )
    return summary


def change_counts(summary: RunSummary, scope: Scope) -> dict[str, int]:
    counts = summary.changes.get(partition_key(scope), {})
    return {kind: int(counts.get(kind, 0)) for kind in CHANGE_TYPES}


def table_metadata(summary: RunSummary, scope: Scope) -> tuple[dict[str, Any], dict[str, Any]]:
    """Metadata of `functions` and of `async_invoke_configs` after one scope's run.

    Change counts are this scope's; live counts are the whole database's, as the CLI reports.
    The working folder is where `dlt pipeline ... info` looks, as after a CLI run.
    """
    shared = {
        "scope": partition_key(scope),
        "database": summary.database,
        "working_dir": summary.working_dir,
    }
    functions = {**shared, "live_functions": summary.functions}
    configs = {**shared, **change_counts(summary, scope), "live_configs": summary.configs}
    return functions, configs


def build_table_assets(partitions: ScopePartitions) -> AssetsDefinition:
    specs = [
        AssetSpec(
            FUNCTIONS_KEY,
            description="FunctionGraph functions, with history (dlt scd2), per region/project.",
            group_name=GROUP,
            kinds={"dlt"},
        ),
        AssetSpec(
            CONFIGS_KEY,
            description="Async-invoke configs of every function, with history (dlt scd2).",
            group_name=GROUP,
            kinds={"dlt"},
        ),
    ]

    @multi_asset(
        name="functiongraph_tables",
        specs=specs,
        partitions_def=partitions.definition,
        # One load writes both tables. Selecting one alone is allowed so that the run can say
        # so in words (Dagster's own refusal names neither the reason nor the fix).
        can_subset=True,
    )
    def functiongraph_tables(context: AssetExecutionContext) -> Iterator[MaterializeResult]:
        """Extract one scope from FunctionGraph and load it (scd2 history, scope-safe retiring)."""
        if set(context.selected_asset_keys) != {FUNCTIONS_KEY, CONFIGS_KEY}:
            raise Failure(description=ONE_LOAD)
        scope = partitions.scope(context.partition_key)
        summary = load_scope(scope)
        functions, configs = table_metadata(summary, scope)
        yield MaterializeResult(asset_key=FUNCTIONS_KEY, metadata=functions)
        yield MaterializeResult(asset_key=CONFIGS_KEY, metadata=configs)

    return functiongraph_tables


@asset(
    key=MODELS_KEY,
    deps=[FUNCTIONS_KEY, CONFIGS_KEY],
    group_name=GROUP,
    kinds={"sql"},
    description="The SQL models (staging and reporting views) over the loaded tables.",
)
def fgs_sql_models(context: AssetExecutionContext) -> MaterializeResult:
    """What `python -m pipelines models` does: `refresh_models` replaces the views in the
    warehouse's turn, so never while a partition loads into the same DuckDB file."""
    summary, reason = attempt(lambda: refresh_models(make_pipeline()))
    if summary is None:
        raise Failure(description=reason)
    context.log.info(f"applied {len(summary.models)} SQL models")
    return MaterializeResult(
        metadata={
            "database": summary.database,
            "models": len(summary.models),
            "views": ", ".join(summary.models),
            "not_applied": "; ".join(summary.skipped_models) or "none",
            "live_configs": summary.configs,
            "live_functions": summary.functions,
        }
    )


def build_policy_checks(
    rules: Sequence[Rule], partitions: ScopePartitions
) -> AssetChecksDefinition:
    """One asset check per rule on the configs asset, evaluated for the partition's scope."""
    specs = [
        AssetCheckSpec(
            rule.id,
            asset=CONFIGS_KEY,
            description=f"{rule.severity}: {rule.title}",
            additional_deps=[MODELS_KEY],  # the findings are views the models apply
            partitions_def=partitions.definition,
        )
        for rule in rules
    ]

    @multi_asset_check(name="fgs_policy_rules", specs=specs)
    def fgs_policy_rules(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
        scope = partitions.scope(context.partition_key)
        found, reason = attempt(lambda: scope_findings(scope))
        if found is None:
            raise Failure(description=reason)
        for rule in rules:
            rows = found.get(rule.id, [])
            oldest = rows[0][1].isoformat() if rows else "-"  # rows are oldest first
            yield AssetCheckResult(
                check_name=rule.id,
                asset_key=CONFIGS_KEY,
                passed=not rows,
                severity=AssetCheckSeverity.ERROR
                if rule.severity == "high"
                else AssetCheckSeverity.WARN,
                metadata={
                    "scope": partition_key(scope),
                    "severity": rule.severity,
                    "findings": len(rows),
                    "oldest_since": oldest,
                    "configs": "\n".join(urn for urn, _ in rows[:20]) or "none",
                },
            )

    return fgs_policy_rules


def scope_findings(scope: Scope) -> dict[str, list[tuple[str, datetime]]]:
    """The findings of one scope by rule: (func_urn, first_seen), oldest first.

    Read in the warehouse's turn: on DuckDB, a partition loading at that moment holds the file.
    """
    pipeline = make_pipeline()
    found: dict[str, list[tuple[str, datetime]]] = {}
    with turn(pipeline), pipeline.sql_client() as client:
        rows = client.execute_sql(
            "select rule_id, func_urn, first_seen from reporting.policy_findings "
            "where region = %s and project_id = %s order by first_seen, func_urn",
            scope.region,
            scope.project_id,
        )
    for rule_id, func_urn, first_seen in rows:
        found.setdefault(rule_id, []).append((func_urn, first_seen))
    return found


def discover_partition_keys() -> list[str]:
    """The scope keys `python -m pipelines run` would fetch now: the source is created exactly
    as the CLI creates it, and with no configured scopes its creation discovers them (IAM)."""
    return source_scopes(functiongraph())


def build_scopes_sensor() -> SensorDefinition:
    @sensor(
        name=SCOPES_NAME,
        minimum_interval_seconds=DISCOVERY_INTERVAL,
        default_status=DefaultSensorStatus.STOPPED,
        description=(
            "Discovers the account's projects through IAM (AK/SK credentials) and keeps them as "
            "the partitions: adds new ones, deletes those IAM no longer lists, and deletes "
            "nothing when discovery fails."
        ),
    )
    def discover(context: SensorEvaluationContext) -> SensorResult | SkipReason:
        discovered, reason = attempt(discover_partition_keys)
        if discovered is None:  # nothing is proven gone: keep every partition
            return SkipReason(f"discovery failed, no partition was deleted: {reason}")
        known = context.instance.get_dynamic_partitions(SCOPES_NAME)
        added = [key for key in discovered if key not in known]
        gone = [key for key in known if key not in discovered]
        if not added and not gone:
            return SkipReason(f"{len(discovered)} project(s) discovered, all already partitions")
        requests: list[AddDynamicPartitionsRequest | DeleteDynamicPartitionsRequest] = []
        if added:
            requests.append(AddDynamicPartitionsRequest(SCOPES_NAME, added))
        if gone:
            requests.append(DeleteDynamicPartitionsRequest(SCOPES_NAME, gone))
        # a tick without runs shows its skip reason: say what changed, not "empty result"
        changed = (
            f"partitions added: {', '.join(added) or 'none'}; deleted: {', '.join(gone) or 'none'}"
        )
        return SensorResult(dynamic_partitions_requests=requests, skip_reason=changed)

    return discover


def build_schedule(partitions: ScopePartitions) -> ScheduleDefinition:
    @schedule(
        name=SCHEDULE_NAME,
        cron_schedule=DAILY_CRON,
        execution_timezone="UTC",
        job_name=JOB_NAME,
        description="Every scope (partition), one run each, once a day.",
    )
    def daily(context: ScheduleEvaluationContext) -> Any:
        # the configured scopes, or those the sensor has added by now
        keys = (
            list(partitions.configured)
            if partitions.configured
            else context.instance.get_dynamic_partitions(SCOPES_NAME)
        )
        if not keys:
            return SkipReason(NOT_DISCOVERED)
        when = context.scheduled_execution_time or datetime.now(UTC)
        day = when.strftime("%Y-%m-%d")
        return [RunRequest(run_key=f"{key}@{day}", partition_key=key) for key in keys]

    return daily


def build_defs() -> Definitions:
    """The definitions for the scopes configured now (tests call this after setting the env):
    static partitions for configured scopes, else dynamic ones kept by the discovery sensor."""
    partitions = ScopePartitions(configured_partition_scopes())
    tables = build_table_assets(partitions)
    checks = build_policy_checks(load_rules(rules_path()), partitions)
    job = define_asset_job(
        JOB_NAME,
        selection=AssetSelection.assets(tables, fgs_sql_models) | AssetSelection.checks(checks),
        description="Load one scope (partition), refresh the SQL models, check the policy rules.",
    )
    return Definitions(
        assets=[tables, fgs_sql_models],
        asset_checks=[checks],
        jobs=[job],
        schedules=[build_schedule(partitions)],
        sensors=[] if partitions.configured else [build_scopes_sensor()],
    )


defs = build_defs()
