"""Publishes the loaded tables and reporting views as parquet files to a filesystem destination.

dlt's filesystem destination cannot merge with `scd2` (it offers upsert, insert-only and cdc on
Delta tables), so it cannot keep history or decide deletions itself. The local DuckDB file stays
the system of record, where history, deletions and partial-failure safety are computed exactly
as documented; after each run this second dlt pipeline replaces the published files with the
current contents: both tables with their full history, and every reporting view.
"""

from __future__ import annotations

from typing import Any

import dlt

from pipelines.functiongraph.errors import ConfigError

PUBLISHED_TABLES = ("functions", "async_invoke_configs")


def bucket_url() -> str:
    """dlt's `DESTINATION__FILESYSTEM__BUCKET_URL`: checked before the run starts."""
    url = dlt.config.get("destination.filesystem.bucket_url", str)
    if not url:
        raise ConfigError(
            "the filesystem destination needs DESTINATION__FILESYSTEM__BUCKET_URL "
            "(a folder or an object store URL)"
        )
    return url


def publish(pipeline: dlt.Pipeline, views: list[str], url: str) -> list[str]:
    """Copy tables and views of `pipeline`'s dataset to parquet under the bucket `url`.

    `url` is a local folder or an object store URL that dlt's filesystem destination supports.
    Returns the table names written: `functions`, `async_invoke_configs` and one
    `<schema>__<view>` per view.
    """
    dataset = pipeline.dataset()
    items: list[Any] = [
        dlt.resource(dataset[table].arrow(), name=table, write_disposition="replace")
        for table in PUBLISHED_TABLES
    ]
    with pipeline.sql_client() as client:
        for view in views:
            arrow = client.native_connection.sql(f"select * from {view}").fetch_arrow_table()
            name = view.replace(".", "__")
            items.append(dlt.resource(arrow, name=name, write_disposition="replace"))
    target = dlt.pipeline(
        pipeline_name=f"{pipeline.pipeline_name}_publish",
        destination=dlt.destinations.filesystem(bucket_url=url),
        dataset_name=pipeline.dataset_name,
        pipelines_dir=pipeline.pipelines_dir,
    )
    target.run(items, loader_file_format="parquet")
    return [item.name for item in items]
