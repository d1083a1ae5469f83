"""Row 2, shaping + load: how fast do shaped config rows get into DuckDB, with no HTTP at all?

Fetching is not the only cost of a run: every config is shaped (`shape_config`) and then loaded
by dlt (extract, normalize, load into an `scd2` table). The row takes the pages of an estate from
memory and measures, in one child process: `shape_config` alone; a plain DuckDB insert of the
same shaped rows (`Table.from_pylist` + `CREATE TABLE AS SELECT`), the baseline of what loading
could cost; and dlt loading the rows the way the source yields them ("as is": the table variant
declared once, one item per listing page, each row fingerprinted, the source's disposition and
columns, parquet). dlt's rate is judged in rows/s and as a share of the plain
insert's rate measured in the same run.
Like the source on DuckDB, each page goes to dlt as one Arrow table (`shaping.arrow.as_item`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import TABLE, Report, Sizes, build_estate, fmt_rate, judged, log, run_child

PAGE_FUNCTIONS = 400
"""Functions per listing page (the source's default `functions_page_size`)."""


def child_load(spec: dict[str, Any]) -> dict[str, Any]:
    """Body of row 2's child process: shaping, the plain DuckDB insert, the dlt load."""
    import dlt
    import duckdb
    import pyarrow as pa

    from pipelines import runner
    from pipelines.functiongraph.changes import LiveRows
    from pipelines.functiongraph.config.settings import Scope
    from pipelines.functiongraph.retirement import (
        CONFIGS_DISPOSITION,
        SCOPE_COLUMN,
        SCOPE_COLUMN_SCHEMA,
    )
    from pipelines.functiongraph.shaping.arrow import as_item
    from pipelines.functiongraph.shaping.records import CONFIG_COLUMNS, shape_config
    from pipelines.functiongraph.shaping.timestamps import parse_zone

    work = Path(spec["workdir"])
    estate = build_estate(spec["functions"])
    (project,) = estate.projects.values()
    region, project_id = project.region, project.project_id
    pages = [
        (urn, copy.deepcopy(project.configs.get(urn) or [])) for urn in sorted(project.functions)
    ]
    del estate, project
    configs = sum(len(items) for _, items in pages)
    zone = parse_zone("+08:00")
    columns = {**CONFIG_COLUMNS, SCOPE_COLUMN: SCOPE_COLUMN_SCHEMA}
    result: dict[str, Any] = {"configs": configs, "functions": len(pages)}

    started = time.perf_counter()
    shaped = [
        (
            urn,
            [
                shape_config(
                    item, function_urn=urn, region=region, project_id=project_id, naive_zone=zone
                )
                for item in items
            ],
        )
        for urn, items in pages
    ]
    result["shape_s"] = time.perf_counter() - started

    scope = Scope(region, project_id, "https://unused")
    live = LiveRows()  # a first load: nothing is live, every row is compared and sent

    # as source.function_inventory yields them on DuckDB: the table variant declared once, one
    # Arrow item per listing page, each row fingerprinted on its way
    def items() -> Iterator[Any]:
        for start in range(0, len(shaped), PAGE_FUNCTIONS):
            page = shaped[start : start + PAGE_FUNCTIONS]
            yield as_item(
                [row for urn, rows in page for row in live.config_changes(scope, urn, rows)],
                TABLE,
            )

    @dlt.source(name="functiongraph", max_table_nesting=0)
    def functiongraph() -> Any:
        resource = dlt.resource(items, name="function_inventory")
        resource.apply_hints(
            table_name=TABLE,
            write_disposition=CONFIGS_DISPOSITION,
            columns=columns,
            file_format="parquet",
            create_table_variant=True,
        )
        return resource

    pipeline = dlt.pipeline(
        pipeline_name="declared",
        destination=dlt.destinations.duckdb(credentials=str(work / "declared.duckdb")),
        dataset_name="functiongraph",
        pipelines_dir=str(work / "dlt"),
    )
    # the steps of runner.run: its load runs DuckDB's jobs one at a time (runner.load)
    steps: dict[str, float] = {}
    for step, call in (
        ("extract", lambda: pipeline.extract(functiongraph(), loader_file_format="parquet")),
        ("normalize", pipeline.normalize),
        ("load", lambda: runner.load(pipeline)),
    ):
        started = time.perf_counter()
        call()
        steps[step] = time.perf_counter() - started
    seconds = sum(steps.values())
    with pipeline.sql_client() as client:
        ((live,),) = client.execute_sql(
            f"select count(*) from {TABLE} where _dlt_valid_to is null and {SCOPE_COLUMN} is null"
        )
    result["declared"] = {"seconds": seconds, "steps": steps, "live_rows": live}

    # the baseline: plain DuckDB, an Arrow table from the shaped rows, CREATE TABLE AS SELECT
    started = time.perf_counter()
    arrow_table = pa.Table.from_pylist([row for _, rows in shaped for row in rows])
    from_pylist_s = time.perf_counter() - started
    with duckdb.connect(str(work / "plain.duckdb")) as con:
        con.register("arrow_table", arrow_table)
        con.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM arrow_table")
        ((plain_rows,),) = con.execute(f"select count(*) from {TABLE}").fetchall()
    result["plain"] = {
        "seconds": time.perf_counter() - started,
        "from_pylist_s": from_pylist_s,
        "rows": plain_rows,
    }
    return result


def row_shaping_load(sizes: Sizes, work: Path, report: Report) -> None:
    log(f"row 2: shaping + load of {sizes.load_functions * 3:,} configs (no HTTP)")
    r = run_child("load", {"functions": sizes.load_functions, "workdir": str(work)}, work)
    configs, shape_s = r["configs"], r["shape_s"]
    for what, rows in (("dlt", r["declared"]["live_rows"]), ("plain", r["plain"]["rows"])):
        if rows != configs:
            raise RuntimeError(f"row 2: the {what} load wrote {rows:,} of {configs:,} configs")
    plain_s = r["plain"]["seconds"]
    plain_rate = configs / plain_s
    targets = ">= 25,000 configs/s; >= 0.333 of plain"
    report.add(
        "2",
        f"shaping + load: {configs:,} configs of {r['functions']:,} functions from in-memory "
        f"pages (fingerprinted as the source sends them on a first load), parquet, "
        f"table/disposition/columns of the source",
        f"shape_config alone: {shape_s:.2f} s = {fmt_rate(configs, shape_s)}",
    )
    report.add(
        "2",
        "  plain DuckDB insert of the shaped rows: Table.from_pylist + CREATE TABLE AS SELECT",
        f"{plain_s:.2f} s (from_pylist {r['plain']['from_pylist_s']:.2f}) = "
        f"{fmt_rate(configs, plain_s)}",
    )
    loaded = r["declared"]
    steps = loaded["steps"]
    split = (
        f"extract {steps.get('extract', 0):.1f}, normalize {steps.get('normalize', 0):.1f}, "
        f"load {steps.get('load', 0):.1f}"
    )
    label = f"as is: Arrow, variant declared once, 1 item per {PAGE_FUNCTIONS} functions"
    for what, seconds in (
        ("shape + dlt run", shape_s + loaded["seconds"]),
        ("dlt run alone", loaded["seconds"]),
    ):
        rate = configs / seconds
        share = rate / plain_rate
        verdicts = [judged(rate, 25_000, False, " configs/s"), judged(share, 1 / 3, False)]
        report.add(
            "2",
            f"  {label}: {what}" + (f" ({split})" if what == "dlt run alone" else ""),
            f"{seconds:.2f} s = {rate:,.0f} rows/s = {share:.2f} of plain",
            targets,
            "met" if verdicts == ["met", "met"] else "; ".join(verdicts),
        )
