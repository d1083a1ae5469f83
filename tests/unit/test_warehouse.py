"""Which warehouse a run writes, and the name of its dlt working folder (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.functiongraph.errors import ConfigError
from pipelines.warehouse import duckdb_database, pipeline_name_for, postgres_identity


def test_relative_paths_resolve_against_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    here = tmp_path.resolve()
    assert duckdb_database("inv.duckdb", "functiongraph") == str(here / "inv.duckdb")
    assert duckdb_database(None, "functiongraph") == str(here / "fgs_async_configs.duckdb")
    (tmp_path / "sub").mkdir()
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", "sub/../x.duckdb")
    assert duckdb_database(None, "functiongraph") == str(tmp_path.resolve() / "x.duckdb")


@pytest.mark.parametrize("special", [":memory:", "md:my_db"])
def test_in_memory_and_motherduck_are_not_paths(special: str) -> None:
    assert duckdb_database(special, "functiongraph") == special


def test_the_dataset_name_is_refused_as_a_file_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"must not be named functiongraph\.duckdb"):
        duckdb_database(str(tmp_path / "functiongraph.duckdb"), "functiongraph")


def test_one_name_per_warehouse() -> None:
    a, b = pipeline_name_for("duckdb:/a/inv.duckdb"), pipeline_name_for("duckdb:/b/inv.duckdb")
    assert a != b and a == pipeline_name_for("duckdb:/a/inv.duckdb")
    assert a.startswith("fgs_async_configs_") and len(a) == len("fgs_async_configs_") + 12


def test_postgres_identity_ignores_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "DESTINATION__POSTGRES__CREDENTIALS"
    monkeypatch.setenv(key, "postgresql://etl:one@db.internal:5433/inventory")
    first = postgres_identity("functiongraph")
    monkeypatch.setenv(key, "postgresql://etl:two@db.internal:5433/inventory")
    assert postgres_identity("functiongraph") == first
    assert first == "postgres://etl@db.internal:5433/inventory#functiongraph"
    assert "one" not in first
    monkeypatch.setenv(key, "postgresql://etl:one@db.internal/other")
    assert postgres_identity("functiongraph") != first
