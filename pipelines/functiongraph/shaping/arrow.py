"""Shaped rows as Arrow tables, so that a load through parquet files costs no Python per row.

dlt writes an Arrow item to its parquet file as it is and never normalizes it row by row, which
more than halves the cost of a first load (README, Benchmark, row 2). For the same reason dlt
adds neither `_dlt_load_id` nor `_dlt_id` to it, and the tables require both: each table made
here carries them, the load id read from the package being extracted, the ids made as dlt makes
them for dict rows.

A batch that cannot be one of these tables without losing something (a key without a declared
column, a value of another type than its column's) is handed over as dicts instead, and dlt
normalizes it as before: slower, never lossy.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import dlt
import pyarrow as pa
from dlt.common.normalizers.utils import generate_dlt_ids
from dlt.common.storages.exceptions import CurrentLoadPackageStateNotAvailable

from pipelines.functiongraph.retirement import SCOPE_COLUMN
from pipelines.functiongraph.shaping.records import ROW_VERSION, TABLE_SPECS

VALIDITY = ("_dlt_valid_from", "_dlt_valid_to")
"""Set by the `scd2` merge; present (NULL) so the columns come in the order a dict load gives."""
ARROW_TYPES = {
    "text": pa.string(),
    "bigint": pa.int64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


@cache
def table_schema(table: str) -> pa.Schema | None:
    """The Arrow schema of `table`'s shaped rows, in the column order dlt gives dict rows; None
    if a column was declared with a type not mapped here (its rows then go as dicts)."""
    columns = {column.name: column for column in TABLE_SPECS[table]}
    if any(column.data_type not in ARROW_TYPES for column in columns.values()):
        return None
    version = columns.pop(ROW_VERSION)
    return pa.schema(
        [
            pa.field(column.name, ARROW_TYPES[column.data_type], nullable=column.nullable)
            for column in columns.values()
        ]
        + [pa.field(SCOPE_COLUMN, pa.string())]
        + [pa.field(name, ARROW_TYPES["timestamp"]) for name in VALIDITY]
        + [pa.field(ROW_VERSION, pa.string(), nullable=version.nullable)]
    )


def as_arrow(rows: list[dict[str, Any]], table: str) -> pa.Table | None:
    """`rows` of `table` (data rows and markers) as one Arrow table with dlt's own columns, or
    None when they cannot be one without loss (see the module docstring)."""
    schema = table_schema(table)
    if schema is None or not set(schema.names).issuperset(set().union(*rows)):
        return None
    try:
        load_id = dlt.current.load_package_state()["load_id"]
        data = pa.Table.from_pylist(rows, schema=schema)
    except (
        CurrentLoadPackageStateNotAvailable,
        pa.ArrowException,
        ValueError,
        TypeError,
        OverflowError,
    ):
        return None
    data = data.append_column(
        pa.field("_dlt_load_id", pa.string(), nullable=False),
        pa.array([load_id] * data.num_rows, pa.string()),
    )
    return data.append_column(
        pa.field("_dlt_id", pa.string(), nullable=False),
        pa.array(generate_dlt_ids(data.num_rows), pa.string()),
    )


def as_item(rows: list[dict[str, Any]], table: str) -> Any:
    """dlt's item of `rows` for `table`: one Arrow table, or the dicts where that would lose
    something."""
    data = as_arrow(rows, table)
    return dlt.mark.with_table_name(rows if data is None else data, table)


def release_unused_memory() -> None:
    """Hand back to the OS what Arrow's allocator kept once the pages were written (about 30 MB
    at the end of an extraction), which would otherwise stay resident through the load, where a
    run peaks (README, Benchmark, row 4)."""
    pa.default_memory_pool().release_unused()
