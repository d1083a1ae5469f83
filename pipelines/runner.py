"""Runs the source into DuckDB with dlt and applies the SQL models afterwards.

Shared by the `run` and `demo` commands (and the tests), so the demo exercises exactly the code a
scheduled run does.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.sources import DltSource

from pipelines.functiongraph.errors import ConfigError, FunctionGraphError
from pipelines.functiongraph.snapshots import failures_of
from pipelines.models import apply_models

logger = logging.getLogger(__name__)

PIPELINE_NAME = "fgs_async_configs"
DATASET_NAME = "functiongraph"


def make_pipeline(
    *,
    pipeline_name: str = PIPELINE_NAME,
    database: str | None = None,
    pipelines_dir: str | None = None,
) -> dlt.Pipeline:
    """A DuckDB pipeline; without `database`, dlt's `DESTINATION__DUCKDB__CREDENTIALS` decides."""
    if database and Path(database).stem == DATASET_NAME:
        raise ConfigError(
            f"the DuckDB file must not be named {DATASET_NAME}.duckdb: DuckDB would confuse it "
            f"with the dataset {DATASET_NAME!r}; choose another file name"
        )
    destination: Any = dlt.destinations.duckdb(credentials=database) if database else "duckdb"
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=destination,
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
    seconds: float = 0.0
    changes: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per scope ("region/project_id"): created, updated, deleted and unchanged configs."""
    failures: list[str] = field(default_factory=list)
    """Scopes that could not be fetched completely; their rows were left as they were."""

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        lines = [
            f"loaded {self.functions} functions and {self.configs} live async-invoke configs "
            f"into {self.database} in {self.seconds:.1f}s",
        ]
        for scope, counts in sorted(self.changes.items()):
            counted = ", ".join(f"{counts.get(kind, 0)} {kind}" for kind in CHANGE_TYPES)
            lines.append(f"{scope}: {counted}")
        lines.append(f"applied {len(self.models)} SQL models: {', '.join(self.models)}")
        if self.failures:
            lines.append(f"{len(self.failures)} scope(s) could not be fetched completely:")
            lines += [f"  {failure}" for failure in self.failures]
        return lines


def database_path(pipeline: dlt.Pipeline) -> str:
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "select path from duckdb_databases() where database_name = current_database()"
        )
    return str(rows[0][0])


def run(pipeline: dlt.Pipeline, source: DltSource) -> RunSummary:
    """Extract, load (parquet files into DuckDB) and apply the models.

    Packages left behind by a crashed run are loaded first: dlt kept them on disk exactly so
    that nothing extracted is lost, and loading them before the fresh snapshot keeps history in
    order. Then the fresh snapshot is extracted and loaded.
    """
    started = time.monotonic()
    if pipeline.has_pending_data:
        logger.warning("finishing the load packages of an interrupted run first")
        pipeline.normalize()
        pipeline.load()
    info = pipeline.run(source, loader_file_format="parquet")
    failures = failures_of(pipeline.state.get("sources", {}).get(source.name, {}))
    if failures and not has_tables(pipeline):
        # every scope failed before anything was ever loaded: report that, not missing tables
        return RunSummary(database_path(pipeline), 0, 0, failures=failures)
    summary = refresh_models(pipeline, started)
    summary.failures = failures
    if info.loads_ids:
        summary.changes = count_changes(pipeline, float(info.loads_ids[-1]))
    return summary


def has_tables(pipeline: dlt.Pipeline) -> bool:
    """Whether both data tables exist (they do after the first load that found anything)."""
    with pipeline.sql_client() as client:
        ((count,),) = client.execute_sql(
            "select count(*) from information_schema.tables where table_schema = %s "
            "and table_name in ('functions', 'async_invoke_configs')",
            DATASET_NAME,
        )
    return count == 2


def count_changes(pipeline: dlt.Pipeline, boundary: float) -> dict[str, dict[str, int]]:
    """Changes detected by the load that started at `boundary` (its load id), per scope.

    dlt stamps the versions a load writes or retires with the load's start time, so the changes
    of one load are those whose `detected_at` is that instant (compared to the millisecond).
    """
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            """
            select region || '/' || project_id, change_type, count(*)
            from reporting.async_invoke_config_changes
            where abs(epoch(detected_at) - %s) < 0.001
            group by all
            union all
            select region || '/' || project_id, 'unchanged', count(*)
            from reporting.current_async_invoke_configs
            where epoch(valid_from) < %s - 0.001
            group by all
            """,
            boundary,
            boundary,
        )
    changes: dict[str, dict[str, int]] = {}
    for scope, kind, count in rows:
        changes.setdefault(scope, dict.fromkeys(CHANGE_TYPES, 0))[kind] = count
    return changes


def refresh_models(pipeline: dlt.Pipeline, started: float | None = None) -> RunSummary:
    """Apply the SQL models to what is loaded and count the live rows."""
    started = time.monotonic() if started is None else started
    if not has_tables(pipeline):
        raise FunctionGraphError(
            f"nothing has been loaded into {database_path(pipeline)} yet: "
            "run `python -m pipelines run` first"
        )
    with pipeline.sql_client() as client:
        models = apply_models(client)
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
        seconds=time.monotonic() - started,
    )


def root_cause(exc: BaseException) -> BaseException:
    """The connector's own error inside dlt's wrappers, or dlt's config error, or `exc`."""
    seen: set[int] = set()
    current: BaseException | None = exc
    found: BaseException = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, FunctionGraphError):
            return current
        if isinstance(current, ConfigurationException):
            found = ConfigError(one_line(current))
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    return found


def one_line(exc: BaseException, limit: int = 600) -> str:
    """A failure reason a scheduler can show in one line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
