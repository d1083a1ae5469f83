"""The README documents every configuration key, table column and model (docs can't drift)."""

from __future__ import annotations

import inspect

import pytest

from pipelines.functiongraph.config.credentials import FunctionGraphCredentials
from pipelines.functiongraph.shaping.records import CONFIG_COLUMNS, FUNCTION_COLUMNS
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
