"""pipelines.models on temporary folders of .sql files, applied to a plain in-memory DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.models import ModelError, apply_models, discover_models
from tests.support.duckdb_adapter import DuckDBAdapter


def write_models(root: Path, models: dict[str, str]) -> Path:
    """`{"reporting/x": "select ..."}` → root/reporting/x.sql."""
    for name, sql in models.items():
        path = root / f"{name}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql, encoding="utf-8")
    return root


@pytest.fixture
def database() -> DuckDBAdapter:
    connection = duckdb.connect()
    connection.execute(
        "create schema raw; create table raw.numbers as select range as n from range(5)"
    )
    return DuckDBAdapter(connection)


def test_models_come_in_dependency_order(tmp_path: Path) -> None:
    root = write_models(
        tmp_path,
        {
            # alphabetically first, but reads the two others
            "reporting/a_totals": "select sum(n) as total from reporting.b_evens",
            "reporting/b_evens": "select n from staging.numbers where n % 2 = 0",
            "staging/numbers": "select n from raw.numbers",
        },
    )
    (tmp_path / "reporting" / "notes.txt").write_text("not a model")
    models = discover_models(root)
    assert [m.view for m in models] == [
        "staging.numbers",
        "reporting.b_evens",
        "reporting.a_totals",
    ]
    assert models[2].path == "sql/reporting/a_totals.sql"
    assert models[2].references() == {"reporting.b_evens"}


def test_names_in_string_literals_are_not_dependencies(tmp_path: Path) -> None:
    root = write_models(
        tmp_path,
        {"reporting/a": "select 'see reporting.b' as note, 'it''s reporting.c' as other"},
    )
    assert [m.view for m in discover_models(root)] == ["reporting.a"]


def test_comments_and_self_references_are_not_dependencies(tmp_path: Path) -> None:
    root = write_models(
        tmp_path,
        {
            "staging/numbers": "-- built from staging.nothing, see reporting.elsewhere\n"
            "/* reporting.nowhere */ select n from raw.numbers",
            # names itself (in a label): not a dependency on itself
            "reporting/again": "select 'reporting.again' as label, * "
            "from reporting.again_source -- staging.gone",
            "reporting/again_source": "select n from staging.numbers",
        },
    )
    assert [m.view for m in discover_models(root)] == [
        "staging.numbers",
        "reporting.again_source",
        "reporting.again",
    ]


def test_only_staging_and_reporting_folders_hold_models(tmp_path: Path) -> None:
    root = write_models(tmp_path, {"scratch/ignored": "select 1", "reporting/one": "select 1"})
    assert [m.view for m in discover_models(root)] == ["reporting.one"]


def test_reference_to_a_missing_model_names_the_file(tmp_path: Path) -> None:
    root = write_models(
        tmp_path,
        {
            "staging/numbers": "select n from raw.numbers",
            "reporting/report": "select * from staging.numbers join reporting.nope using (n)",
        },
    )
    with pytest.raises(ModelError) as caught:
        discover_models(root)
    assert str(caught.value) == (
        "sql/reporting/report.sql: reads reporting.nope, which no model defines"
    )


def test_models_reading_each_other_in_a_cycle_fail(tmp_path: Path) -> None:
    root = write_models(
        tmp_path,
        {
            "reporting/first": "select * from reporting.second",
            "reporting/second": "select * from reporting.third",
            "reporting/third": "select * from reporting.first",
            "staging/fine": "select 1 as one",
        },
    )
    with pytest.raises(ModelError) as caught:
        discover_models(root)
    message = str(caught.value)
    assert message.startswith("SQL models depend on each other in a cycle: ")
    for view in ("reporting.first", "reporting.second", "reporting.third"):
        assert view in message
    assert "staging.fine" not in message


def test_apply_creates_the_views_in_order(tmp_path: Path, database: DuckDBAdapter) -> None:
    root = write_models(
        tmp_path,
        {
            "reporting/total": "select sum(n) as total from staging.numbers;\n",
            "staging/numbers": "select n from raw.numbers",
        },
    )
    applied, skipped = apply_models(database, discover_models(root))
    assert (applied, skipped) == (["staging.numbers", "reporting.total"], [])
    assert database.execute_sql("select total from reporting.total") == [(10,)]
    # applying again replaces the views instead of failing
    assert apply_models(database, discover_models(root)) == (applied, [])


def test_models_of_another_dialect_are_skipped_with_a_reason(
    tmp_path: Path, database: DuckDBAdapter
) -> None:
    root = write_models(
        tmp_path,
        {
            "staging/numbers": "select n from raw.numbers",
            "reporting/pg_only": "-- Question: postgres syntax\n-- dialect: postgres\n"
            "select n::text from staging.numbers",
            "reporting/reads_pg_only": "select * from reporting.pg_only",
            "reporting/both": "-- dialect: duckdb, postgres\nselect count(*) from staging.numbers",
        },
    )
    applied, skipped = apply_models(database, discover_models(root))
    assert applied == ["staging.numbers", "reporting.both"]
    assert skipped == [
        "reporting.pg_only is postgres-only",
        "reporting.reads_pg_only reads reporting.pg_only",
    ]


def test_broken_model_fails_with_its_file_and_the_database_message(
    tmp_path: Path, database: DuckDBAdapter
) -> None:
    apply_models(database, discover_models(write_models(tmp_path / "v1", {
        "staging/numbers": "select n from raw.numbers",
    })))  # fmt: skip
    root = write_models(
        tmp_path / "v2",
        {
            "staging/numbers": "select n * 10 as n from raw.numbers",
            "reporting/broken": "select no_such_column\nfrom staging.numbers",
            "reporting/later": "select * from reporting.broken",
        },
    )
    with pytest.raises(ModelError) as caught:
        apply_models(database, discover_models(root))
    message = str(caught.value)
    assert message.startswith("sql/reporting/broken.sql: Binder Error: ")
    assert 'Referenced column "no_such_column" not found' in message
    assert "\n" not in message  # one line, for a scheduler
    # one transaction: the views are as they were before, not half replaced
    views = database.execute_sql(
        "select schema_name || '.' || view_name from duckdb_views() where not internal order by 1"
    )
    assert views == [("staging.numbers",)]
    assert database.execute_sql("select max(n) from staging.numbers") == [(4,)]


def test_syntax_error_names_the_file(tmp_path: Path, database: DuckDBAdapter) -> None:
    root = write_models(tmp_path, {"reporting/typo": "selec 1"})
    with pytest.raises(ModelError, match=r"^sql/reporting/typo\.sql: Parser Error: syntax error"):
        apply_models(database, discover_models(root))


def test_the_shipped_models_are_ordered_and_complete() -> None:
    views = [m.view for m in discover_models()]
    assert views.index("staging.stg_async_invoke_configs") < views.index(
        "reporting.current_async_invoke_configs"
    )
    for name in (
        "functions_without_async_config",
        "retry_policy_summary",
        "destination_inventory",
        "dangling_destinations",
        "destination_cycles",
        "data_quality_issues",
        "config_changes_daily",
    ):
        assert f"reporting.{name}" in views
    assert views.index("reporting.async_invoke_config_changes") < views.index(
        "reporting.config_changes_daily"
    )
    for model in discover_models():
        assert model.sql.lstrip().startswith("--"), f"{model.path} has no header comment"
        # every shipped model runs on DuckDB and PostgreSQL alike (test_portable_models compares
        # their rows); the `-- dialect:` header stays for a model that could not
        assert model.dialects is None, f"{model.path} is limited to {model.dialects}"
