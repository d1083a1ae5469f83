"""Dagster definitions: the two functiongraph tables per scope, the SQL models after them, daily.

    dagster dev -m pipelines.orchestration.dagster

Assets (group `functiongraph`):

- `functiongraph/functions` and `functiongraph/async_invoke_configs`: one multi-asset, partitioned
  per scope (partition key `region/project_id`). A partition run creates the source for that one
  scope and runs it with `pipelines.runner.run`, exactly as `python -m pipelines run` does.
  Selecting only one of the two fails at once, saying why (one load writes both).
- `fgs_sql_models`: the SQL models (`sql/staging`, `sql/reporting`), re-applied by
  `pipelines.runner.refresh_models` after the tables; materialized alone it does what
  `python -m pipelines models` does.

Asset checks (`fgs_policy_rules`): every policy rule in force (the packaged pack plus
`FGS__POLICY_RULES`) is an asset check on `functiongraph/async_invoke_configs`, per partition,
read from `reporting.policy_findings` after the models: it fails (severity ERROR for `high`
rules, WARN for the others) when the partition's scope has findings of that rule.

The partitions are the scopes configured when the definitions load, read through dlt's providers
like the source reads them: `SOURCES__FUNCTIONGRAPH__PROJECTS`, or `SOURCES__FUNCTIONGRAPH__REGION`
with `SOURCES__FUNCTIONGRAPH__PROJECT_ID` (or `[sources.functiongraph]` in `.dlt/config.toml`).
Without them there are no partitions and the schedule skips, saying what to set; a configuration
that cannot work fails the load of the definitions with a message naming the key. Credentials and
every other setting are read by the source when a partition runs, never here.

Every partition uses the same dlt pipeline name (so the destination holds one pipeline state)
but its own working folder, `<dlt data dir>/pipelines/fgs_dagster/<region>__<project_id>`: dlt keeps
local state and pending load packages per working folder, and a crashed scope's packages are then
loaded by that scope's next run. Partitions that write to the same dataset must still run one at
a time (DuckDB allows one writer; dlt merges through one shared `functiongraph_staging` dataset on
PostgreSQL too): every step that writes uses the Dagster pool `fgs_async_configs`, which the
instance must limit to 1 (`dagster instance concurrency set fgs_async_configs 1`).
"""

# No `from __future__ import annotations`: Dagster inspects the `context` annotation at runtime.
import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from dagster import (
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
    Definitions,
    Failure,
    MaterializeResult,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    StaticPartitionsDefinition,
    asset,
    define_asset_job,
    multi_asset,
    multi_asset_check,
    schedule,
)
from dlt.common.configuration import get_fun_spec, resolve_configuration
from dlt.common.configuration.inject import inject_section
from dlt.common.configuration.specs import ConfigSectionContext
from dlt.common.pipeline import get_dlt_pipelines_dir

from pipelines.failures import one_line, root_cause
from pipelines.functiongraph.config.scopes import configured_scopes
from pipelines.functiongraph.config.settings import Scope, env_key
from pipelines.functiongraph.source import functiongraph
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

GROUP = "functiongraph"
FUNCTIONS_KEY = AssetKey([DATASET_NAME, "functions"])
CONFIGS_KEY = AssetKey([DATASET_NAME, "async_invoke_configs"])
MODELS_KEY = AssetKey("fgs_sql_models")
POOL = "fgs_async_configs"
JOB_NAME = "fgs_async_configs"
SCHEDULE_NAME = "fgs_async_configs_daily"
DAILY_CRON = "0 2 * * *"  # 02:00 UTC every day
WORKING_FOLDER = "fgs_dagster"
"""Under dlt's pipelines folder: one working folder per scope, and one for the models."""

# The sections dlt resolves the source's arguments in (`sources.functiongraph.<key>` and the
# longer and pipeline-prefixed forms), so the partitions follow exactly what the source reads.
SOURCE_SECTIONS = ("sources", "functiongraph", "functiongraph")

ONE_LOAD = (
    "functiongraph/functions and functiongraph/async_invoke_configs are written by one load "
    "(a function is retired with its configs): select both, or run the job "
    f"{JOB_NAME}; nothing was loaded"
)

UNCONFIGURED = (
    f"no FunctionGraph scopes configured: set {env_key('projects')} (a JSON list of "
    f"{{region, project_id, endpoint?}}) or {env_key('region')} with {env_key('project_id')}, "
    "then reload the definitions (scopes discovered through IAM cannot be partitions)"
)


def configured_partition_scopes() -> dict[str, Scope]:
    """The configured scopes by partition key ("region/project_id"), in configuration order.

    Resolved through the source's own configuration spec (the one dlt derives from the source
    function's arguments), so the partitions follow exactly what the source reads, with no
    second declaration of its keys. Missing values (credentials, here) are allowed: only the
    scope keys are used. Raises `ConfigError` naming the key when the scopes cannot work.
    """
    context = ConfigSectionContext(pipeline_name=PIPELINE_PREFIX, sections=SOURCE_SECTIONS)
    spec = get_fun_spec(functiongraph.__wrapped__)
    with inject_section(context):
        settings: Any = resolve_configuration(spec(), sections=SOURCE_SECTIONS, accept_partial=True)
    scopes = configured_scopes(
        settings.region, settings.project_id, settings.endpoint, settings.projects
    )
    return {partition_key(scope): scope for scope in scopes or []}


def partition_key(scope: Scope) -> str:
    """The key RunSummary.changes uses too."""
    return f"{scope.region}/{scope.project_id}"


def scope_working_folder(scope: Scope) -> str:
    """dlt's `pipelines_dir` for one scope (regions and project ids are path-safe names)."""
    return os.path.join(
        get_dlt_pipelines_dir(), WORKING_FOLDER, f"{scope.region}__{scope.project_id}"
    )


def models_working_folder() -> str:
    return os.path.join(get_dlt_pipelines_dir(), WORKING_FOLDER, "_models")


def load_scope(scope: Scope) -> RunSummary:
    """Run the connector for one scope; any failure raises `dagster.Failure` with one line.

    The source gets the scope as its only project; `region` and `project_id` are passed as None
    so that a single-scope configuration in the environment does not collide with the list.
    """
    reason: str | None = None
    try:
        pipeline = make_pipeline(pipelines_dir=scope_working_folder(scope))
        source = functiongraph(
            region=None,
            project_id=None,
            endpoint=None,
            regions=None,
            projects=[
                {"region": scope.region, "project_id": scope.project_id, "endpoint": scope.endpoint}
            ],
        )
        summary = run(pipeline, source)
    except Exception as exc:  # one line, as the CLI prints it; no traceback chain with secrets
        reason = one_line(root_cause(exc))
    if reason is not None:
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
    """
    shared = {"scope": partition_key(scope), "database": summary.database}
    functions = {**shared, "live_functions": summary.functions}
    configs = {**shared, **change_counts(summary, scope), "live_configs": summary.configs}
    return functions, configs


def build_table_assets(
    scopes: Mapping[str, Scope], partitions: StaticPartitionsDefinition
) -> AssetsDefinition:
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
        partitions_def=partitions,
        # One load writes both tables. Selecting one alone is allowed so that the run can say
        # so in words (Dagster's own refusal names neither the reason nor the fix).
        can_subset=True,
        pool=POOL,
    )
    def functiongraph_tables(context: AssetExecutionContext) -> Iterator[MaterializeResult]:
        """Extract one scope from FunctionGraph and load it (scd2 history, scope-safe retiring)."""
        if set(context.selected_asset_keys) != {FUNCTIONS_KEY, CONFIGS_KEY}:
            raise Failure(description=ONE_LOAD)
        key = context.partition_key
        scope = scopes.get(key)
        if scope is None:
            configured = ", ".join(scopes) or "none"
            raise Failure(description=f"{key} is not a configured scope (configured: {configured})")
        warn_if_pool_unlimited(context, len(scopes))
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
    pool=POOL,
    description="The SQL models (staging and reporting views) over the loaded tables.",
)
def fgs_sql_models(context: AssetExecutionContext) -> MaterializeResult:
    reason: str | None = None
    try:
        summary = refresh_models(make_pipeline(pipelines_dir=models_working_folder()))
    except Exception as exc:
        reason = one_line(root_cause(exc))
    if reason is not None:
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
    rules: Sequence[Rule], scopes: Mapping[str, Scope], partitions: StaticPartitionsDefinition
) -> AssetChecksDefinition:
    """One asset check per rule on the configs asset, evaluated for the partition's scope."""
    specs = [
        AssetCheckSpec(
            rule.id,
            asset=CONFIGS_KEY,
            description=f"{rule.severity}: {rule.title}",
            additional_deps=[MODELS_KEY],  # the findings are views the models apply
            partitions_def=partitions,
        )
        for rule in rules
    ]

    @multi_asset_check(name="fgs_policy_rules", specs=specs, pool=POOL)
    def fgs_policy_rules(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
        scope = scopes.get(context.partition_key)
        if scope is None:
            raise Failure(description=f"{context.partition_key} is not a configured scope")
        reason: str | None = None
        try:
            found = scope_findings(scope)
        except Exception as exc:
            reason = one_line(root_cause(exc))
        if reason is not None:
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
    """The findings of one scope by rule: (func_urn, first_seen), oldest first."""
    pipeline = make_pipeline(pipelines_dir=models_working_folder())
    found: dict[str, list[tuple[str, datetime]]] = {}
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "select rule_id, func_urn, first_seen from reporting.policy_findings "
            "where region = %s and project_id = %s order by first_seen, func_urn",
            scope.region,
            scope.project_id,
        )
    for rule_id, func_urn, first_seen in rows:
        found.setdefault(rule_id, []).append((func_urn, first_seen))
    return found


def warn_if_pool_unlimited(context: AssetExecutionContext, scopes: int) -> None:
    """Concurrent partitions into one dataset would collide: say so when nothing prevents it."""
    if scopes < 2:
        return
    try:
        storage = context.instance.event_log_storage
        if not storage.supports_global_concurrency_limits:
            return
        limits = {limit.name: limit.limit for limit in storage.get_pool_limits()}
        limit = limits.get(POOL, storage.get_pool_config().default_pool_limit)
    except Exception:  # a best-effort hint; never fail a load over it
        return
    if limit is None or limit > 1:
        context.log.warning(
            f"the Dagster pool {POOL!r} is not limited to 1 on this instance, so partitions may "
            "load into the same dataset at once and fail (DuckDB) or mix their staging rows "
            f"(PostgreSQL): run `dagster instance concurrency set {POOL} 1`"
        )


def build_schedule(keys: Sequence[str]) -> ScheduleDefinition:
    @schedule(
        name=SCHEDULE_NAME,
        cron_schedule=DAILY_CRON,
        execution_timezone="UTC",
        job_name=JOB_NAME,
        description="Every configured scope, one run each, once a day.",
    )
    def daily(context: ScheduleEvaluationContext) -> Any:
        if not keys:
            return SkipReason(UNCONFIGURED)
        when = context.scheduled_execution_time or datetime.now(UTC)
        day = when.strftime("%Y-%m-%d")
        return [RunRequest(run_key=f"{key}@{day}", partition_key=key) for key in keys]

    return daily


def build_defs() -> Definitions:
    """The definitions for the scopes configured now (tests call this after setting the env)."""
    scopes = configured_partition_scopes()
    partitions = StaticPartitionsDefinition(list(scopes))
    tables = build_table_assets(scopes, partitions)
    checks = build_policy_checks(load_rules(rules_path()), scopes, partitions)
    job = define_asset_job(
        JOB_NAME,
        selection=AssetSelection.assets(tables, fgs_sql_models) | AssetSelection.checks(checks),
        description="Load one scope (partition), refresh the SQL models, check the policy rules.",
    )
    return Definitions(
        assets=[tables, fgs_sql_models],
        asset_checks=[checks],
        jobs=[job],
        schedules=[build_schedule(list(scopes))],
    )


defs = build_defs()
