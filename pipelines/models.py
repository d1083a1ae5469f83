"""Applies the SQL models in `sql/` as views, in dependency order.

A model is one `.sql` file holding one SELECT; its folder is its schema (`staging`, `reporting`)
and its file name its view name. Dependencies are read from the `schema.view` names a model
mentions, so adding a model never means editing a list. The files ship inside the package
(`pipelines.sql`), so this works from any working folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Protocol

from pipelines.functiongraph.errors import FunctionGraphError

LAYERS = ("staging", "reporting")
# comments and string literals: names inside them are not references
_NOT_CODE = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'", re.DOTALL)
_DIALECT = re.compile(r"^--\s*dialect:\s*([a-z0-9_, ]+)$", re.MULTILINE)


class ModelError(FunctionGraphError):
    """A model file could not be read, ordered or applied."""


class SqlExecutor(Protocol):
    def execute_sql(self, sql: str, *args: Any) -> Any: ...


@dataclass(frozen=True)
class Model:
    layer: str
    name: str
    path: str
    sql: str

    @property
    def view(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def dialects(self) -> set[str] | None:
        """SQL dialects a `-- dialect: duckdb` header line limits the model to (None: any)."""
        found = _DIALECT.search(self.sql)
        return {d.strip() for d in found.group(1).split(",")} if found else None

    def references(self) -> set[str]:
        """`layer.name` views this model reads (comments and string literals ignored)."""
        code = _NOT_CODE.sub(" ", self.sql)
        pattern = r"\b(" + "|".join(LAYERS) + r")\.([a-z_][a-z0-9_]*)\b"
        return {f"{layer}.{name}" for layer, name in re.findall(pattern, code, re.IGNORECASE)}


def discover_models(
    root: Traversable | None = None, generated: list[Model] | None = None
) -> list[Model]:
    """Every model in dependency order; fails on a reference to a missing model or a cycle.

    `generated` are models written by code rather than kept as files: by default, for the
    packaged models, the policy rules' evaluations (`pipelines.policy`) from the rules in force;
    none for another `root`.
    """
    if generated is None and root is None:
        from pipelines.policy.evaluations import generated_models  # it builds on Model

        generated = generated_models()
    root = root or files("pipelines.sql")
    models: dict[str, Model] = {model.view: model for model in generated or []}
    for layer in LAYERS:
        folder = root / layer
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".sql"):
                name = entry.name[: -len(".sql")]
                sql = entry.read_text(encoding="utf-8")
                model = Model(layer, name, f"sql/{layer}/{entry.name}", sql)
                models[model.view] = model
    graph: dict[str, set[str]] = {}
    for view, model in models.items():
        deps = model.references() - {view}
        missing = sorted(deps - models.keys())
        if missing:
            raise ModelError(f"{model.path}: reads {', '.join(missing)}, which no model defines")
        graph[view] = deps
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise ModelError(f"SQL models depend on each other in a cycle: {exc.args[1]}") from None
    return [models[view] for view in order]


def apply_models(
    client: SqlExecutor, models: list[Model] | None = None, dialect: str = "duckdb"
) -> tuple[list[str], list[str]]:
    """Create or replace every view the destination's dialect can run.

    Returns the views applied and, for the others, why they were not: a model limited to other
    dialects, or one that reads such a model, is skipped with a reason instead of failing on
    SQL the database does not speak. A failure names the file and quotes the database.
    """
    applied: list[str] = []
    skipped: dict[str, str] = {}
    for layer in LAYERS:
        client.execute_sql(f"CREATE SCHEMA IF NOT EXISTS {layer}")
    # one transaction: a broken model leaves every view as it was, not half replaced
    client.execute_sql("BEGIN TRANSACTION")
    try:
        for model in models if models is not None else discover_models():
            blocked = sorted(model.references() & skipped.keys())
            if model.dialects is not None and dialect not in model.dialects:
                skipped[model.view] = f"{model.view} is {'/'.join(sorted(model.dialects))}-only"
                continue
            if blocked:
                skipped[model.view] = f"{model.view} reads {', '.join(blocked)}"
                continue
            body = model.sql.strip().rstrip(";")
            try:
                client.execute_sql(f"CREATE OR REPLACE VIEW {model.view} AS\n{body}")
            except Exception as exc:  # the database's own message is the useful part
                message = " ".join(str(exc).split())
                raise ModelError(f"{model.path}: {message}") from None
            applied.append(model.view)
    except BaseException:
        client.execute_sql("ROLLBACK")
        raise
    client.execute_sql("COMMIT")
    return applied, list(skipped.values())
