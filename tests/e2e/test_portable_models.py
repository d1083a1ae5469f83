"""The portable SQL models give the same rows on DuckDB and on a real PostgreSQL server."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pipelines.models import discover_models
from pipelines.sandbox import SandboxServer
from tests.support.loader import Loader

DUCKDB_ONLY = {
    "reporting.dangling_destinations",
    "reporting.data_quality_issues",
    "reporting.destination_cycles",
    "reporting.retry_policy_summary",
}


def comparable(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows without load times (two loads never share them), sorted as text."""
    kept = [tuple(v for v in row if not isinstance(v, datetime)) for row in rows]
    return sorted(kept, key=repr)


def test_portable_views_match_between_databases(
    tmp_path: Path, sandbox: SandboxServer, postgres_url: str
) -> None:
    duck = Loader(tmp_path / "duck", sandbox)
    post = Loader(tmp_path / "post", sandbox, warehouse="postgres")
    duck_summary, post_summary = duck.run(), post.run()
    assert len(sandbox.requests_seen) == 2 * 9  # each run fetched for itself (9 requests)
    portable = [m.view for m in discover_models() if m.view not in DUCKDB_ONLY]
    assert duck_summary.models == [m.view for m in discover_models()]
    assert post_summary.models == portable
    assert sorted(post_summary.skipped_models) == sorted(
        f"{view} is duckdb-only" for view in DUCKDB_ONLY
    )
    for view in portable:
        sql = f"select * from {view}"
        assert comparable(post.query(sql)) == comparable(duck.query(sql)), view
    assert post.query("select count(*) from reporting.current_async_invoke_configs") == [(9,)]
