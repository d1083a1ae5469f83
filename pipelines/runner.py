"""Runs the source into DuckDB with dlt and applies the SQL models afterwards.

Shared by the `run` and `demo` commands (and the tests), so the demo exercises exactly the code a
scheduled run does.
"""

from __future__ import annotations

import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.sources import DltSource

from pipelines.functiongraph.errors import ConfigError, FunctionGraphError
from pipelines.models import apply_models

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


@dataclass
class RunSummary:
    """What a run did, for people (`lines`) and for code (the fields)."""

    database: str
    functions: int
    configs: int
    models: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        return [
            f"loaded {self.functions} functions and {self.configs} live async-invoke configs "
            f"into {self.database} in {self.seconds:.1f}s",
            f"applied {len(self.models)} SQL models: {', '.join(self.models)}",
        ]


def database_path(pipeline: dlt.Pipeline) -> str:
    with pipeline.sql_client() as client:
        return str(
            client.execute_sql(
                "select path from duckdb_databases() where database_name = current_database()"
            )[0][0]
        )


def run(pipeline: dlt.Pipeline, source: DltSource) -> RunSummary:
    """Extract, load (parquet files into DuckDB) and apply the models; raise on any failure."""
    started = time.monotonic()
    pipeline.run(source, loader_file_format="parquet")
    return refresh_models(pipeline, started)


def refresh_models(pipeline: dlt.Pipeline, started: float | None = None) -> RunSummary:
    """Apply the SQL models to what is loaded and count the live rows."""
    started = time.monotonic() if started is None else started
    with pipeline.sql_client() as client:
        models = apply_models(client)
        functions = client.execute_sql("select count(*) from staging.stg_functions")[0][0]
        configs = client.execute_sql("select count(*) from reporting.current_async_invoke_configs")[
            0
        ][0]
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
