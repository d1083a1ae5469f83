"""The README documents every configuration key, table column and model (docs can't drift)."""

from __future__ import annotations

import inspect

import pytest

from pipelines.functiongraph.config.credentials import FunctionGraphCredentials
from pipelines.functiongraph.shaping.columns import markdown_rows
from pipelines.functiongraph.shaping.records import (
    CONFIG_COLUMNS,
    CONFIG_TABLE,
    FUNCTION_COLUMNS,
    FUNCTION_TABLE,
)
from pipelines.functiongraph.source import functiongraph
from pipelines.models import discover_models
from tests.support.paths import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
SQL_README = (REPO_ROOT / "sql" / "README.md").read_text(encoding="utf-8")
SOURCE_KEYS = [
    name
    for name in inspect.signature(functiongraph.__wrapped__).parameters
    if name != "credentials"
]


@pytest.mark.parametrize("key", SOURCE_KEYS)
def test_every_source_key_and_its_env_form(key: str) -> None:
    assert f"`{key}`" in README
    assert f"SOURCES__FUNCTIONGRAPH__{key.upper()}" in README


@pytest.mark.parametrize(
    "field", [f for f in FunctionGraphCredentials.__dataclass_fields__ if not f.startswith("_")]
)
def test_every_credential_key(field: str) -> None:
    assert f"`{field.upper()}`" in README


@pytest.mark.parametrize("column", [*CONFIG_COLUMNS, *FUNCTION_COLUMNS])
def test_every_table_column(column: str) -> None:
    assert f"`{column}`" in README
    # sql/README.md describes the on_failure_* columns as "the same six columns" as on_success_*
    same_as_success = column.replace("on_failure_", "on_success_")
    assert f"`{same_as_success}`" in SQL_README


@pytest.mark.parametrize("view", [model.view for model in discover_models()])
def test_every_model(view: str) -> None:
    assert f"`{view}`" in README
    assert view.split(".")[1] in SQL_README


@pytest.mark.parametrize(
    ("heading", "table"),
    [
        ("### functiongraph.async_invoke_configs", CONFIG_TABLE),
        ("### functiongraph.functions", FUNCTION_TABLE),
    ],
)
def test_readme_column_tables_are_the_specs(heading: str, table: tuple) -> None:
    """The README's table of each table's columns is rendered from its one declaration.

    On a new column, paste the expected rows this test prints into the README.
    """
    section = README.split(heading, 1)[1].split("\n\n", 1)[0]
    written = [line for line in section.splitlines() if line.startswith("| `")]
    assert written == markdown_rows(table), "\n".join(markdown_rows(table))


SQL_TYPES = {"text": "text", "bigint": "bigint", "bool": "bool", "timestamp": "timestamptz"}


@pytest.mark.parametrize(
    ("heading", "table"),
    [
        ("### functiongraph.async_invoke_configs", CONFIG_TABLE),
        ("### functiongraph.functions", FUNCTION_TABLE),
    ],
)
def test_sql_readme_column_tables_follow_the_specs(heading: str, table: tuple) -> None:
    """sql/README.md explains each column at more length, with an example; its rows still name
    the spec's columns, in the spec's order, with the spec's types (the `on_failure_*` columns
    are one row there: "the same columns for failed invocations")."""
    section = SQL_README.split(heading, 1)[1].split("\n### ", 1)[0]
    documented = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        if not cells or not cells[0].startswith("`") or cells[0].startswith("`_"):
            continue
        documented.append((cells[0].split("`")[1], cells[1]))
    expected = [
        (column.name, SQL_TYPES[column.data_type] + ("" if column.nullable else ", not null"))
        for column in table
        if not column.name.startswith("on_failure_")
    ]
    if any(column.name.startswith("on_failure_") for column in table):
        at = next(i for i, (name, _) in enumerate(expected) if name == "created_time")
        expected.insert(at, ("on_failure_destination", "as above"))
    assert documented == expected
