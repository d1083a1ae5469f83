"""The exploration notebook runs top to bottom on a fresh demo database and lets go of it."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import nbformat
import pytest
from nbclient import NotebookClient

from pipelines.__main__ import main
from tests.support.paths import REPO_ROOT

NOTEBOOK = REPO_ROOT / "notebooks" / "explore_async_invoke_configs.ipynb"


def test_notebook_is_committed_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def printed_text(cell: nbformat.NotebookNode) -> str:
    """What a code cell printed (its stream outputs)."""
    return "".join(
        output.get("text", "") for output in cell.outputs if output.output_type == "stream"
    )


def test_notebook_runs_on_the_demo_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # three days of history before today's run, so that the plots over time have something to show
    demo = ["--quiet", "demo", "--folder", str(tmp_path), "--functions", "20", "--days", "3"]
    assert main(demo) == 0
    database = tmp_path / "fgs_async_configs.duckdb"
    monkeypatch.setenv("FGS_DATABASE", str(database))

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on a failure

    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == []
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    # destinations by type, retry spread, failures per project, the problem graph, over time
    assert len(images) == 5

    # the graph draws only the problem edges, and the plots over time see every day
    printed = [printed_text(cell) for cell in notebook.cells if cell.cell_type == "code"]
    graph = next(text for text in printed if "dangling target(s)" in text)
    counted = re.search(r"(\d+) edge\(s\) in \d+ loop\(s\), (\d+) edge\(s\) to", graph)
    assert counted, graph
    loops, dangling = int(counted[1]), int(counted[2])
    assert loops >= 2 and dangling >= 1  # the generator plants a loop and a dangling target
    with duckdb.connect(str(database), read_only=True) as connection:
        ((all_edges,),) = connection.execute(
            "select count(distinct (function_urn, target_function_urn)) "
            "from staging.stg_async_invoke_config_sides "
            "where is_current and target_function_urn is not null"
        ).fetchall()
    assert loops + dangling < all_edges  # not the hairball of every function edge
    history = next(text for text in printed if "day(s) of history" in text)
    assert history.startswith("4 day(s) of history")  # 3 replayed days and today

    # the notebook closed its read-only connection: the file can be opened for writing
    connection = duckdb.connect(str(database))
    try:
        connection.execute("create table notebook_released as select 1 as ok")
    finally:
        connection.close()
