"""A first load's fast path on DuckDB.

Every page reaches dlt as an Arrow table (`shaping.arrow`), which dlt loads without normalizing
it row by row. The tables must hold exactly what dlt's own normalizing of the same rows as dicts
gives: the same columns, types and values, over a first load and a day of changes, with the
generator's hostile mess and values beyond what a column can hold. And the load's jobs run one at
a time (DuckDB has one writer; in parallel they only hold their rows in memory together).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest

from pipelines import runner
from pipelines.functiongraph.shaping import arrow
from pipelines.sandbox import Estate, SandboxServer, generate_estate
from tests.support.estates import PROJECT, REGION, TOKEN
from tests.support.loader import Loader

TABLES = ("functions", "async_invoke_configs")
DLT_OWN = "_dlt_id, _dlt_load_id, _dlt_valid_from, _dlt_valid_to"


def hostile_estate() -> Estate:
    """The generator's estate with its mess, plus values no column can hold as served."""
    estate = generate_estate(seed=11, projects=((REGION, PROJECT),), functions_per_project=30)
    items = [copy.deepcopy(item) for item in estate.all_configs()]
    first, second, third = items[:3]
    first["max_async_retry_attempts"] = 2**70
    second["max_async_event_age_in_seconds"] = -(2**64)
    third["new_api_field"] = {"note": "lone \ud800 surrogate, emoji \U0001f600, nul \x00 end"}
    for item in (first, second, third):
        estate.upsert_config(item)
    return estate


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(hostile_estate(), tokens=(TOKEN,), functions_page_cap=7) as server:
        yield server


@pytest.fixture
def arrow_items(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the Arrow tables handed to dlt (the source's pages that became one)."""
    sizes: list[int] = []
    made = arrow.as_arrow

    def counted(rows: list[dict[str, Any]], table: str) -> Any:
        data = made(rows, table)
        if data is not None:
            sizes.append(data.num_rows)
        return data

    monkeypatch.setattr(arrow, "as_arrow", counted)
    return sizes


def change_a_day(estate: Estate) -> None:
    """New retries on one config, one config deleted, one function gone with its configs."""
    configs = sorted(estate.all_configs(), key=lambda item: item["func_urn"])
    estate.upsert_config({**configs[5], "max_async_retry_attempts": 1})
    estate.delete_config(configs[9]["func_urn"])
    estate.remove_function(sorted(estate.function_urns(PROJECT))[-1])


def table_contents(loader: Loader, table: str) -> tuple[list[tuple], list[tuple]]:
    """The table's columns (name, type, nullable) in order, and every version's values (whether
    it is live standing in for dlt's own columns, which differ from load to load)."""
    columns = loader.query(
        "select column_name, data_type, is_nullable from information_schema.columns "
        f"where table_schema = 'functiongraph' and table_name = '{table}' order by ordinal_position"
    )
    rows = loader.query(
        f"select * exclude ({DLT_OWN}), _dlt_valid_to is null as live "
        f"from functiongraph.{table} order by all"
    )
    return columns, rows


def rows(loader: Loader, table: str) -> int:
    ((count,),) = loader.query(f"select count(*) from functiongraph.{table}")
    return count


def test_arrow_pages_load_what_dict_rows_load(
    tmp_path: Path,
    sandbox: SandboxServer,
    arrow_items: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with_arrow = Loader(tmp_path / "arrow", sandbox)
    with_dicts = Loader(tmp_path / "dicts", sandbox)

    def run_both() -> None:
        assert with_arrow.run().ok
        with monkeypatch.context() as plain:
            plain.setattr(runner, "use_arrow", lambda source: None)
            assert with_dicts.run().ok

    run_both()
    first_load = list(arrow_items)
    loaded = sum(rows(with_dicts, table) for table in TABLES)
    change_a_day(sandbox.estate)
    run_both()

    assert sum(first_load) == loaded, "every row of the first load went as Arrow"
    assert len(arrow_items) > len(first_load)
    for table in TABLES:
        assert table_contents(with_arrow, table) == table_contents(with_dicts, table)
    retired = with_arrow.query(
        "select count(*) from functiongraph.async_invoke_configs where _dlt_valid_to is not null"
    )
    assert retired[0][0] >= 2  # the changed and the deleted config at least


def test_a_page_with_an_undeclared_key_goes_as_dicts_and_loses_nothing() -> None:
    row = {"func_urn": "urn:x", "row_version": "v", "column_nobody_declared": "kept"}
    assert arrow.as_arrow([row], "functions") is None
    assert arrow.as_arrow([{"func_urn": "urn:x", "row_version": "v"}], "functions") is None, (
        "outside an extraction there is no load id to give the rows"
    )
    assert arrow.as_item([row], "functions").data == [row]


def test_a_value_of_another_type_than_its_column_goes_as_dicts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(arrow.dlt.current, "load_package_state", lambda: {"load_id": "1.5"})
    good = {"func_urn": "urn:x", "row_version": "v", "memory_size": 128}
    made = arrow.as_arrow([good], "functions")
    assert made is not None and made.column("_dlt_load_id").to_pylist() == ["1.5"]
    assert len(set(made.column("_dlt_id").to_pylist())) == 1
    for bad in ({**good, "memory_size": "128"}, {**good, "memory_size": 2**64}):
        assert arrow.as_arrow([good, bad], "functions") is None


@pytest.mark.parametrize("table", TABLES)
def test_every_declared_column_has_an_arrow_type(table: str) -> None:
    """Otherwise every page of the table would silently take the slow path."""
    schema = arrow.table_schema(table)
    assert schema is not None
    declared = {column.name for column in arrow.TABLE_SPECS[table]}
    assert declared < set(schema.names)


def test_duckdb_loads_one_job_at_a_time(
    any_loader: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers: list[object] = []
    load = dlt.Pipeline.load

    def counted(self: dlt.Pipeline, *args: Any, **kwargs: Any) -> Any:
        workers.append(kwargs.get("workers", "dlt's default"))
        return load(self, *args, **kwargs)

    monkeypatch.setattr(dlt.Pipeline, "load", counted)
    assert any_loader.run().ok
    expected = 1 if any_loader.database else "dlt's default"
    assert workers[-1] == expected  # the run's own load (dlt's state sync loads nothing)
