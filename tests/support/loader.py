"""Loader: runs the real pipeline against a sandbox and reads the warehouse back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines.functiongraph.config.credentials import FunctionGraphCredentials
from pipelines.functiongraph.source import functiongraph
from pipelines.runner import RunSummary, make_pipeline, run
from pipelines.sandbox import SandboxServer
from tests.support.estates import PROJECT, REGION, TOKEN


class Loader:
    """Runs the real pipeline against a sandbox into a DuckDB file under tmp_path, or into a
    fresh database of the test PostgreSQL server."""

    def __init__(self, tmp_path: Path, server: SandboxServer, warehouse: str = "duckdb") -> None:
        self.tmp_path = tmp_path
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.server = server
        self.database = str(tmp_path / "fgs.duckdb") if warehouse == "duckdb" else None
        self.pipeline = make_pipeline(
            pipeline_name="fgs_e2e",
            warehouse=warehouse,
            database=self.database,
            pipelines_dir=str(tmp_path / "dlt"),
        )

    def source(self, **overrides: Any) -> Any:
        args: dict[str, Any] = {
            "region": REGION,
            "project_id": PROJECT,
            "endpoint": self.server.url,
            "credentials": FunctionGraphCredentials(auth_token=TOKEN),
            "backoff_base": 0.001,
            "backoff_max": 0.01,
            "requests_per_second": 0,
        }
        args.update(overrides)
        return functiongraph(**args)

    def run(self, **overrides: Any) -> RunSummary:
        return run(self.pipeline, self.source(**overrides))

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.pipeline.sql_client() as client:
            return [tuple(row) for row in client.execute_sql(sql)]
