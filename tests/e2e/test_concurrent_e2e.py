"""Runs of different scopes into one warehouse at the same moment, as real processes.

Each test loads the same estate twice: all at once into one warehouse, and one after another
into a reference warehouse. The histories must be the same version for version; a run killed
in the middle must leave every other run's data, and its own scope's earlier state, intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.sandbox import Estate, SandboxServer, generate_estate
from tests.e2e.conftest import new_postgres_database
from tests.support.estates import TOKEN

REGION = "cn-north-4"
PROJECTS = [f"c0ffee{n:026x}" for n in (1, 2, 3)]
LATENCY = 0.2
"""Per request while runs overlap: each run fetches for about two seconds, longer than the
jitter of starting a Python process, so concurrent runs really fetch at the same time."""


@dataclass
class Warehouse:
    """One DuckDB file or one PostgreSQL database, as the command line is told of it."""

    kind: str
    env: dict[str, str]

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.kind == "duckdb":
            with duckdb.connect(self.env["DESTINATION__DUCKDB__CREDENTIALS"], read_only=True) as c:
                return [tuple(row) for row in c.execute(sql).fetchall()]
        import psycopg2

        url = self.env["DESTINATION__POSTGRES__CREDENTIALS"]
        with contextlib.closing(psycopg2.connect(url)) as connection, connection.cursor() as cur:
            cur.execute(sql)
            return [tuple(row) for row in cur.fetchall()]


def new_warehouse(kind: str, folder: Path, postgres_server: str | None) -> Warehouse:
    if kind == "duckdb":
        folder.mkdir(parents=True, exist_ok=True)
        return Warehouse(kind, {"DESTINATION__DUCKDB__CREDENTIALS": str(folder / "fgs.duckdb")})
    assert postgres_server is not None
    url = new_postgres_database(postgres_server)
    return Warehouse(
        kind, {"FGS__WAREHOUSE": "postgres", "DESTINATION__POSTGRES__CREDENTIALS": url}
    )


@pytest.fixture(params=["duckdb", "postgres"])
def warehouses(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Warehouse, Warehouse]:
    """(shared, reference): where the runs load at once, and where they load one by one."""
    server = request.getfixturevalue("postgres_server") if request.param == "postgres" else None
    return (
        new_warehouse(request.param, tmp_path / "shared", server),
        new_warehouse(request.param, tmp_path / "reference", server),
    )


@pytest.fixture
def estate() -> Estate:
    return generate_estate(
        seed=5, projects=[(REGION, p) for p in PROJECTS], functions_per_project=8
    )


@pytest.fixture
def sandbox(estate: Estate) -> Iterator[SandboxServer]:
    with SandboxServer(estate, tokens=(TOKEN,)) as server:
        yield server


def start(
    server: SandboxServer, warehouse: Warehouse, projects: Sequence[str], home: Path
) -> subprocess.Popen[str]:
    """`python -m pipelines run` for `projects`, as a scheduler starts it."""
    scopes = [{"region": REGION, "project_id": p, "endpoint": server.url} for p in projects]
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SOURCES__", "DESTINATION__", "FGS__"))
        },
        **warehouse.env,
        "DLT_DATA_DIR": str(home),
        "SOURCES__FUNCTIONGRAPH__PROJECTS": json.dumps(scopes),
        "SOURCES__FUNCTIONGRAPH__CREDENTIALS__AUTH_TOKEN": TOKEN,
        "SOURCES__FUNCTIONGRAPH__MAX_WORKERS": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines", "--quiet", "run", "--summary-json", "-"],
        cwd=home.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return json.loads(out)


def at_once(
    server: SandboxServer, warehouse: Warehouse, runs: Sequence[Sequence[str]], home: Path
) -> list[dict[str, Any]]:
    server.faults.latency_s = LATENCY
    server.clear_requests_seen()
    processes = [start(server, warehouse, projects, home) for projects in runs]
    summaries = [finished(process) for process in processes]
    server.faults.latency_s = 0.0
    return summaries


def one_by_one(
    server: SandboxServer, warehouse: Warehouse, runs: Sequence[Sequence[str]], home: Path
) -> None:
    for projects in runs:
        finished(start(server, warehouse, projects, home))


def history(warehouse: Warehouse, projects: Sequence[str] = PROJECTS) -> list[tuple[Any, ...]]:
    """Every version ever loaded of the `projects`' rows: identity, fingerprint, and whether
    it is live (the instants differ between two warehouses, the versions must not)."""
    rows = warehouse.query(
        """
        select 'config', project_id, function_urn, func_urn, row_version, _dlt_valid_to is null
        from functiongraph.async_invoke_configs
        union all
        select 'function', project_id, '', func_urn, row_version, _dlt_valid_to is null
        from functiongraph.functions
        """
    )
    return sorted(row for row in rows if row[1] in projects)


def fetch_windows(server: SandboxServer) -> dict[str, tuple[int, int]]:
    """Per project: the positions of its first and last request among all requests served."""
    windows: dict[str, tuple[int, int]] = {}
    for position, seen in enumerate(server.requests_seen):
        for project in PROJECTS:
            if f"/{project}/" in seen.path:
                first, _ = windows.get(project, (position, position))
                windows[project] = (first, position)
    return windows


def change(estate: Estate, project: str) -> None:
    """A day in one project: a config changed, a config deleted, a function removed."""
    functions = [urn for urn in estate.function_urns(project) if estate.configs(urn)]
    first, second, third = functions[:3]
    changed = dict(estate.configs(first)[0])
    changed["max_async_retry_attempts"] = (changed.get("max_async_retry_attempts") or 0) % 3 + 1
    changed["max_async_event_age_in_seconds"] = 4321
    estate.upsert_config(changed)
    estate.delete_config(estate.configs(second)[0]["func_urn"])
    estate.remove_function(third)


def test_runs_of_different_scopes_at_once_write_the_history_of_runs_one_by_one(
    sandbox: SandboxServer, estate: Estate, warehouses: tuple[Warehouse, Warehouse], tmp_path
) -> None:
    shared, reference = warehouses
    runs = [[project] for project in PROJECTS]
    home = tmp_path / "dlt"
    for day in range(2):
        if day:
            for project in PROJECTS:
                change(estate, project)
        summaries = at_once(sandbox, shared, runs, home)
        windows = fetch_windows(sandbox)
        one_by_one(sandbox, reference, runs, home)
        assert history(shared) == history(reference)
        # they really fetched at the same time: every run's requests overlap another run's
        for project, (first, last) in windows.items():
            others = [w for p, w in windows.items() if p != project]
            assert any(o_first < last and first < o_last for o_first, o_last in others), windows
        assert len({summary["working_dir"] for summary in summaries}) == len(PROJECTS)
    created = shared.query(
        "select change_type, count(*) from reporting.async_invoke_config_changes group by 1"
    )
    assert sorted(created) == sorted(
        reference.query(
            "select change_type, count(*) from reporting.async_invoke_config_changes group by 1"
        )
    )
    assert {kind for kind, _ in created} == {"created", "updated", "deleted"}
    if shared.kind == "postgres":  # every run merged through staging tables of its own
        schemas = shared.query(
            "select schema_name from information_schema.schemata "
            "where schema_name like 'functiongraph_staging_%'"
        )
        assert len(schemas) == len(PROJECTS)


def test_one_scope_never_runs_twice_at_once_and_overlapping_runs_agree(
    sandbox: SandboxServer, warehouses: tuple[Warehouse, Warehouse], tmp_path
) -> None:
    shared, reference = warehouses
    home = tmp_path / "dlt"
    first, second, third = PROJECTS
    # the same scope twice, and two runs sharing the scope `second`
    summaries = at_once(sandbox, shared, [[first], [first], [first, second], [second, third]], home)
    one_by_one(sandbox, reference, [[first], [second], [third]], home)
    assert history(shared) == history(reference)
    assert all(live for *_, live in history(shared))  # one load of each row, nothing retired
    for project in (first, second):  # one run loaded it, the later ones found it all loaded
        key = f"{REGION}/{project}"
        created = sorted(s["scopes"][key]["created"] for s in summaries if key in s["scopes"])
        assert created[-1] > 0 and set(created[:-1]) == {0}, (project, created)


def test_a_run_killed_midway_leaves_the_other_runs_and_its_own_scope_intact(
    sandbox: SandboxServer, estate: Estate, warehouses: tuple[Warehouse, Warehouse], tmp_path
) -> None:
    shared, reference = warehouses
    runs = [[project] for project in PROJECTS]
    home = tmp_path / "dlt"
    at_once(sandbox, shared, runs, home)
    one_by_one(sandbox, reference, runs, home)
    victim = PROJECTS[1]
    before = history(shared, [victim])
    for project in PROJECTS:
        change(estate, project)
    one_by_one(sandbox, reference, runs, home)

    sandbox.faults.latency_s = LATENCY
    processes = {project: start(sandbox, shared, [project], home) for project in PROJECTS}
    listed = len(estate.function_urns(victim))
    deadline = time.monotonic() + 120
    while sum(f"/{victim}/" in seen.path for seen in sandbox.requests_seen) < listed:
        assert time.monotonic() < deadline, "the run to kill never fetched"
        time.sleep(0.05)
    processes[victim].send_signal(signal.SIGKILL)  # mid-fetch, or already normalizing
    processes[victim].communicate(timeout=60)
    for project in PROJECTS:
        if project != victim:
            finished(processes[project])
    sandbox.faults.latency_s = 0.0

    survivors = [p for p in PROJECTS if p != victim]
    assert history(shared, survivors) == history(reference, survivors)
    # its own scope: as before the run, or (killed after its load) as after it; never a mix
    assert history(shared, [victim]) in (before, history(reference, [victim]))
    finished(start(sandbox, shared, [victim], home))  # no lock or package is left in the way
    assert history(shared) == history(reference)
