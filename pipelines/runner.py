"""Runs the source into DuckDB with dlt and applies the SQL models afterwards.

Shared by the `run` and `demo` commands (and the tests), so the demo exercises exactly the code a
scheduled run does.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.sources import DltSource

from pipelines.functiongraph.errors import ConfigError, FunctionGraphError
from pipelines.functiongraph.outcome import failures_of, scope_outcomes
from pipelines.functiongraph.source import (
    INVENTORY_RESOURCE,
    SOURCE_NAME,
    TABLES,
    source_scopes,
    use_arrow,
)
from pipelines.locks import (
    duckdb_file,
    loads_take_turns,
    pipelines_folder_held,
    scopes_held,
    turn,
)
from pipelines.models import Model, apply_models, discover_models
from pipelines.publish import publish
from pipelines.warehouse import (
    dialect,
    duckdb_database,
    pipeline_name_for,
    postgres_identity,
    staging_layout,
)

logger = logging.getLogger(__name__)

DATASET_NAME = "functiongraph"


WAREHOUSES = ("duckdb", "postgres", "filesystem")
"""Where a run loads (dlt calls it the destination; here "destination" is where a config sends
async results: OBS, SMN, DIS or a function)."""


def warehouse_kind(requested: str | None = None) -> str:
    """`--warehouse`, else dlt's config key `fgs.warehouse` (env `FGS__WAREHOUSE`; the former
    `fgs.destination` / `FGS__DESTINATION` still works), else DuckDB."""
    name = (
        requested
        or dlt.config.get("fgs.warehouse", str)
        or dlt.config.get("fgs.destination", str)
        or "duckdb"
    )
    if name not in WAREHOUSES:
        raise ConfigError(
            f"unknown warehouse {name!r} (from --warehouse or FGS__WAREHOUSE): "
            f"use one of {', '.join(WAREHOUSES)}"
        )
    return name


def make_pipeline(
    *,
    pipeline_name: str | None = None,
    warehouse: str | None = None,
    database: str | None = None,
    pipelines_dir: str | None = None,
    scopes: Sequence[str] = (),
) -> dlt.Pipeline:
    """A pipeline into DuckDB (default) or PostgreSQL (see `warehouse_kind`).

    Connection details are dlt's own: `DESTINATION__DUCKDB__CREDENTIALS` (a path; `database`
    overrides it) and `DESTINATION__POSTGRES__CREDENTIALS` (a connection string). The filesystem
    destination loads into DuckDB too, and `publish` copies the result (see pipelines.publish).
    Unless `pipeline_name` is given, the name (and so dlt's working folder) is derived from the
    warehouse and the `scopes` a run loads: see `pipelines.warehouse`. On PostgreSQL, a run of
    `scopes` also merges through staging tables of its own, so runs of other scopes can load at
    the same moment.
    """
    name = warehouse_kind(warehouse)
    if name == "filesystem":
        name = "duckdb"
    if database and name != "duckdb":
        raise ConfigError(
            f"--database names a DuckDB file; for {name} set DESTINATION__POSTGRES__CREDENTIALS"
        )
    target: Any = name
    if name == "duckdb":
        path = duckdb_database(database, DATASET_NAME)
        target, identity = dlt.destinations.duckdb(credentials=path), f"duckdb:{path}"
    else:
        identity = postgres_identity(DATASET_NAME)
        if scopes:
            target = dlt.destinations.postgres(staging_dataset_name_layout=staging_layout(scopes))
    with pipelines_folder_held(pipelines_dir or get_dlt_pipelines_dir()):
        return dlt.pipeline(
            pipeline_name=pipeline_name or pipeline_name_for(identity, scopes),
            destination=target,
            dataset_name=DATASET_NAME,
            pipelines_dir=pipelines_dir,
        )


CHANGE_TYPES = ("created", "updated", "deleted", "unchanged")


@dataclass
class RunSummary:
    """What a run did, for people (`lines`) and for code (the fields)."""

    database: str
    functions: int
    configs: int
    models: list[str] = field(default_factory=list)
    skipped_models: list[str] = field(default_factory=list)
    """Models not applied because they need another SQL dialect (with the reason)."""
    seconds: float = 0.0
    changes: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per scope ("region/project_id"): created, updated, deleted and unchanged configs, counted
    over what this run fetched (a scope that could not be fetched has no unchanged configs)."""
    statuses: dict[str, str] = field(default_factory=dict)
    """Per scope: complete, partial (some of it fetched) or failed (nothing fetched)."""
    started_at: str = ""
    """When the run started, UTC, ISO 8601."""
    load_id: str | None = None
    """dlt's id of the load this run wrote (None when nothing was loaded)."""
    working_dir: str = ""
    """dlt's working folder of this pipeline (state, schemas, pending packages, trace)."""
    failures: list[str] = field(default_factory=list)
    """Scopes that could not be fetched completely; their rows were left as they were."""
    published: list[str] = field(default_factory=list)
    """Tables written as parquet by the filesystem destination."""

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> str:
        """The machine-readable summary, for orchestrators and alerting."""
        return json.dumps(
            {
                "ok": self.ok,
                "database": self.database,
                "functions": self.functions,
                "configs": self.configs,
                "scopes": {
                    scope: {"status": self.statuses.get(scope), **counts}
                    for scope, counts in self.changes.items()
                },
                "started_at": self.started_at,
                "load_id": self.load_id,
                "working_dir": self.working_dir,
                "failures": self.failures,
                "models": self.models,
                "skipped_models": self.skipped_models,
                "published": self.published,
                "seconds": round(self.seconds, 3),
            },
            indent=2,
            sort_keys=True,
        )

    def lines(self) -> list[str]:
        lines = [
            f"loaded {self.functions} functions and {self.configs} live async-invoke configs "
            f"into {self.database} in {self.seconds:.1f}s",
        ]
        for scope, counts in sorted(self.changes.items()):
            counted = ", ".join(f"{counts.get(kind, 0)} {kind}" for kind in CHANGE_TYPES)
            lines.append(f"{scope}: {self.statuses.get(scope, 'complete')}, {counted}")
        lines.append(
            f"applied {len(self.models)} SQL models (views in the schemas staging and reporting)"
        )
        if self.published:
            lines.append(f"published {len(self.published)} tables as parquet files")
        if self.skipped_models:
            lines.append(f"not applied here: {'; '.join(self.skipped_models)}")
        if self.failures:
            lines.append(f"{len(self.failures)} scope(s) could not be fetched completely:")
            lines += [f"  {failure}" for failure in self.failures]
        return lines


def database_path(pipeline: dlt.Pipeline) -> str:
    """Where the data went, for people: a DuckDB file path, or the server and database."""
    with pipeline.sql_client() as client:
        if dialect(pipeline) == "duckdb":
            sql = "select path from duckdb_databases() where database_name = current_database()"
            return str(client.execute_sql(sql)[0][0])
        ((where,),) = client.execute_sql(
            "select current_database() || ' on ' || coalesce(inet_server_addr()::text, 'localhost')"
        )
    return f"{dialect(pipeline)} database {where}"


def run(
    pipeline: dlt.Pipeline,
    source: DltSource,
    publish_to: str | None = None,
    generated: list[Model] | None = None,
) -> RunSummary:
    """Extract, load (parquet files into DuckDB) and apply the models.

    A package left behind by a crashed run is dealt with first (see `finish_interrupted_run`).
    Then the fresh snapshot is extracted and loaded. With `publish_to` (a bucket URL),
    the tables and reporting views are then published there as parquet.

    Runs of other scopes may run at the same time (see `pipelines.locks`): this run holds its
    scopes throughout, and the warehouse only while it reads or writes it. Fetching and
    normalizing never wait for another run; on DuckDB, the load waits for the file.
    """
    started = time.monotonic()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    scopes = source_scopes(source)
    with scopes_held(pipeline, scopes):
        with turn(pipeline):
            finish_interrupted_run(pipeline, scopes)
            pipeline.run()  # no data: dlt syncs its state and schema with the warehouse
        extract(pipeline, source)  # reads what is live in its own turn (`changes.read_live`)
        pipeline.normalize()
        with turn(pipeline) if loads_take_turns(pipeline) else contextlib.nullcontext():
            info = load(pipeline)
            with turn(pipeline):
                summary = _summarize(pipeline, started, generated, info.loads_ids)
                summary.started_at = started_at
                if publish_to:
                    views = [view for view in summary.models if view.startswith("reporting.")]
                    summary.published = publish(pipeline, views, publish_to)
    return summary


def extract(pipeline: dlt.Pipeline, source: DltSource) -> None:
    """dlt's extract of `source`; into DuckDB through parquet files made from Arrow pages (see
    `use_parquet`), after which the memory Arrow's allocator kept is handed back."""
    on_duckdb = dialect(pipeline) == "duckdb"
    if on_duckdb:
        use_parquet(source)
    pipeline.extract(source)
    if on_duckdb:
        from pipelines.functiongraph.shaping.arrow import release_unused_memory

        release_unused_memory()


def load(pipeline: dlt.Pipeline) -> Any:
    """dlt's load of the normalized package, its tables created first in the warehouse's turn.

    dlt creates missing schemas and tables, and stores the schema, at the start of a load. Two
    runs loading at once into a PostgreSQL database that lacks them would both try, and one
    would fail: so that step happens in the turn, and the load itself finds nothing to create.

    Into DuckDB the load's jobs run one at a time. DuckDB has one writer, so jobs in parallel
    (dlt's default) gain little, while each holds its uncommitted rows in memory at the same
    time: a first load of 120k configs peaked well above one job at a time, and parallel jobs
    were what made loads under a DuckDB `memory_limit` fail (README, Benchmark, row 4).
    """
    with turn(pipeline), pipeline.destination_client() as client:
        client.initialize_storage()
        client.update_stored_schema()
    if dialect(pipeline) == "duckdb":
        return pipeline.load(workers=1)
    return pipeline.load()


def _summarize(
    pipeline: dlt.Pipeline, started: float, generated: list[Model] | None, load_ids: list[str]
) -> RunSummary:
    state = pipeline.state.get("sources", {}).get(SOURCE_NAME, {})
    failures, outcomes = failures_of(state), scope_outcomes(state)
    loaded = has_tables(pipeline)
    if loaded:
        summary = refresh_models(pipeline, started, generated)
    else:  # every scope failed before anything was ever loaded: report that, not missing tables
        summary = RunSummary(database_path(pipeline), 0, 0)
    summary.failures = failures
    summary.working_dir = pipeline.working_dir
    summary.statuses = {scope: outcome["status"] for scope, outcome in outcomes.items()}
    summary.load_id = load_ids[-1] if load_ids else None
    fetched = {scope: outcome["configs"] for scope, outcome in outcomes.items()}
    summary.changes = count_changes(pipeline, summary.load_id if loaded else None, fetched)
    return summary


def finish_interrupted_run(pipeline: dlt.Pipeline, scopes: list[str]) -> None:
    """Load, or discard, the packages a crashed run left in dlt's working folder.

    A package made for other scopes than this run's `scopes` (the configuration changed since)
    is discarded with a warning: loading it would bring in data nobody asked for now, and it
    could not be checked against this configuration.
    A package whose load never started is a complete snapshot: it is loaded, keeping history in
    the order things were seen. One whose load had started cannot be resumed safely: dlt would
    copy its started jobs into the staging tables a second time, and the `scd2` merge, which does
    not deduplicate its input, would then insert duplicate versions. Such a package is aborted
    (dlt records the abort and restores its local state); nothing is lost, because the fresh
    snapshot this run takes next supersedes it.
    """
    if not pipeline.has_pending_data:
        return
    made_for = sorted(scope_outcomes(pipeline.state.get("sources", {}).get(SOURCE_NAME, {})))
    if made_for != sorted(scopes):
        logger.warning(
            "discarding the load an interrupted run left behind: it was made for %s, "
            "this run is for %s",
            ", ".join(made_for) or "unknown scopes",
            ", ".join(sorted(scopes)),
        )
        pipeline.drop_pending_packages()
        return
    begun = [
        load_id
        for load_id in pipeline.list_normalized_load_packages()
        if any(
            pipeline.get_load_package_info(load_id).jobs.get(state)
            for state in ("started_jobs", "completed_jobs", "failed_jobs")
        )
    ]
    if begun:
        logger.warning(
            "discarding the interrupted load %s: it cannot be resumed safely, and this run's "
            "fresh snapshot replaces it",
            ", ".join(begun),
        )
        pipeline.abort_packages()
    else:
        logger.warning("loading the snapshot an interrupted run left behind first")
        pipeline.normalize()
    pipeline.load()


def use_parquet(source: DltSource) -> None:
    """Load through parquet files, DuckDB's fast path (PostgreSQL has no parquet loader), each
    page handed to dlt as an Arrow table, which dlt writes without normalizing row by row.

    A table declared as a variant of a resource keeps its own file format and ignores the
    run's `loader_file_format`, so the format is set on every table of the source.
    """
    inventory = source.resources[INVENTORY_RESOURCE]
    for table in TABLES:
        inventory.apply_hints(table_name=table, file_format="parquet", create_table_variant=True)
    use_arrow(source)


def has_tables(pipeline: dlt.Pipeline) -> bool:
    """Whether both data tables exist (they do after the first load that found anything)."""
    with pipeline.sql_client() as client:
        ((count,),) = client.execute_sql(
            "select count(*) from information_schema.tables where table_schema = %s "
            "and table_name in ('functions', 'async_invoke_configs')",
            DATASET_NAME,
        )
    return count == 2


def count_changes(
    pipeline: dlt.Pipeline, load_id: str | None, fetched: dict[str, int]
) -> dict[str, dict[str, int]]:
    """Per scope: what the load `load_id` changed, and how many fetched configs it left alone.

    dlt stamps the versions a load writes or retires with the load's start time, so the changes
    of one load are those whose `detected_at` is that instant (compared to the millisecond).
    Every config fetched (`fetched`, per scope) was created, updated or unchanged; a scope that
    was not fetched therefore counts nothing as unchanged.
    """
    changes = {scope: dict.fromkeys(CHANGE_TYPES, 0) for scope in fetched}
    if load_id is not None:
        with pipeline.sql_client() as client:
            rows = client.execute_sql(
                """
                select region || '/' || project_id, change_type, count(*)
                from reporting.async_invoke_config_changes
                where abs(extract(epoch from detected_at) - %s) < 0.001
                group by 1, 2
                """,
                float(load_id),
            )
        for scope, kind, count in rows:
            if scope in changes:  # a concurrent load of other scopes may share the instant
                changes[scope][kind] = count
    for scope, counts in changes.items():
        counts["unchanged"] = max(fetched.get(scope, 0) - counts["created"] - counts["updated"], 0)
    return changes


def refresh_models(
    pipeline: dlt.Pipeline, started: float | None = None, generated: list[Model] | None = None
) -> RunSummary:
    """Apply the SQL models to what is loaded and count the live rows, in the warehouse's turn.

    `generated`: the models written from the policy rules, by default from the rules in force.
    """
    started = time.monotonic() if started is None else started
    path = duckdb_file(pipeline)
    if path is not None and not Path(path).exists():  # opening it would create an empty file
        raise FunctionGraphError(
            f"there is no database at {path}: run `python -m pipelines run` first"
        )
    with turn(pipeline):  # views replaced while another run loads would fail or block it
        if not has_tables(pipeline):
            raise FunctionGraphError(
                f"nothing has been loaded into {database_path(pipeline)} yet: "
                "run `python -m pipelines run` first"
            )
        with pipeline.sql_client() as client:
            models, skipped = apply_models(
                client, discover_models(generated=generated), dialect=dialect(pipeline)
            )
            ((functions,),) = client.execute_sql(
                "select count(*) from staging.stg_functions where is_current"
            )
            ((configs,),) = client.execute_sql(
                "select count(*) from reporting.current_async_invoke_configs"
            )
    return RunSummary(
        database=database_path(pipeline),
        functions=functions,
        configs=configs,
        models=models,
        skipped_models=skipped,
        seconds=time.monotonic() - started,
    )
