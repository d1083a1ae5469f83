"""Each table declared once: its columns, their types, meaning and the served key they come from.

Everything else is derived from these specs: the plain columns' shaping (`read_plain`), dlt's
column hints (`dlt_columns`), the served keys that are not "extra fields" (`known_keys`), and the
column tables of the README (`markdown_rows`, checked by a test). Adding a column read as served
is one line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pipelines.functiongraph.shaping.values import as_text, read_int

DataType = Literal["text", "bigint", "bool", "timestamp"]
ColumnSchemas = dict[str, dict[str, object]]


@dataclass(frozen=True)
class Column:
    """One table column.

    `served` names the item key a *plain* column is read from as is (text, integer or bool, by
    its type). A derived column has no `served` key and lists in `reads` the item keys it is
    computed from, so that they are not kept again in `extra_fields`.
    """

    name: str
    data_type: DataType
    description: str
    nullable: bool = True
    served: str | None = None
    reads: tuple[str, ...] = ()

    def dlt_schema(self) -> dict[str, object]:
        """dlt's column hint; timestamps are instants, so they carry a time zone."""
        schema: dict[str, object] = {
            "data_type": self.data_type,
            "nullable": self.nullable,
            "description": self.description,
        }
        if self.data_type == "timestamp":
            schema["timezone"] = True
        return schema

    def markdown_row(self) -> str:
        kind = "timestamp (with time zone)" if self.data_type == "timestamp" else self.data_type
        kind += "" if self.nullable else ", not null"
        return f"| `{self.name}` | {kind} | {self.description} |"


def plain(name: str, data_type: DataType, description: str, served: str | None = None) -> Column:
    """A column read as served from the item key of the same name (or `served`)."""
    return Column(name, data_type, description, served=served or name)


def dlt_columns(table: tuple[Column, ...]) -> ColumnSchemas:
    return {column.name: column.dlt_schema() for column in table}


def known_keys(table: tuple[Column, ...]) -> frozenset[str]:
    """Item keys the table has columns for; any other served key lands in `extra_fields`."""
    return frozenset(
        key for column in table for key in (column.served, *column.reads) if key is not None
    )


def markdown_rows(table: tuple[Column, ...]) -> list[str]:
    """The README's column table rows, in table order."""
    return [column.markdown_row() for column in table]


def read_plain(
    item: Mapping[str, object], table: tuple[Column, ...]
) -> tuple[dict[str, object], list[str]]:
    """The plain columns of `table` read from `item`, and why a value could not be stored.

    Missing is NULL; a bool column takes only a JSON boolean; an integer beyond 64 bits is NULL
    with a reason quoting the raw value.
    """
    values: dict[str, object] = {}
    problems: list[str] = []
    for column in table:
        if column.served is None:
            continue
        raw = item.get(column.served)
        if column.data_type == "bigint":
            values[column.name], problem = read_int(raw)
            if problem:
                problems.append(f"{column.served} {problem}")
        elif column.data_type == "bool":
            values[column.name] = raw if isinstance(raw, bool) else None
        else:
            values[column.name] = as_text(raw)
    return values, problems
