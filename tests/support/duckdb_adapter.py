"""DuckDBAdapter: a plain DuckDB connection, shaped as the client pipelines.models drives."""

from __future__ import annotations

from typing import Any

import duckdb


class DuckDBAdapter:
    """The one method apply_models needs, over a bare DuckDB connection."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection

    def execute_sql(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return self.connection.execute(sql, list(args)).fetchall()
