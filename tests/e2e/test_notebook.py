"""The exploration notebook runs top to bottom on a fresh demo database and lets go of it."""

from __future__ import annotations

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


def test_notebook_runs_on_the_demo_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["--quiet", "demo", "--folder", str(tmp_path), "--functions", "20"]) == 0
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
    assert len(images) == 3  # destinations by type, retry spread, the edge graph

    # the notebook closed its read-only connection: the file can be opened for writing
    connection = duckdb.connect(str(database))
    try:
        connection.execute("create table notebook_released as select 1 as ok")
    finally:
        connection.close()
