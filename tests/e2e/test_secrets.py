"""No secret escapes: logs, CLI output, dlt's working folder and every text in the DuckDB file."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest
from dlt.common.versioned_state import decompress_state

from pipelines.__main__ import EXIT_FAILED, EXIT_OK, main
from pipelines.sandbox import (
    Estate,
    SandboxServer,
    function_urn,
    make_config_item,
    make_function_item,
    tenant_secrets,
)
from tests.support.estates import PROJECT, REGION, small_estate

TOKEN = "tok-SECRET-a9f3e1c7"
SECRET_KEY = "sk-SECRET-b8e2d0f6"
PASSWORD = "pw-SECRET-c7d1e9a5"
SECURITY_TOKEN = "st-SECRET-d6c0f8b4"
SECRETS = (TOKEN, SECRET_KEY, PASSWORD, SECURITY_TOKEN)

# credential kind → (environment variables, what the sandbox accepts)
KINDS = {
    "auth_token": ({"AUTH_TOKEN": TOKEN}, {"tokens": (TOKEN,)}),
    "password": (
        {"USERNAME": "etl-user", "PASSWORD": PASSWORD, "DOMAIN_NAME": "acme"},
        {"users": {("acme", "etl-user"): PASSWORD}},
    ),
    "access_key": (
        {"ACCESS_KEY": "AK-PLAIN-1", "SECRET_KEY": SECRET_KEY},
        {"access_keys": {"AK-PLAIN-1": SECRET_KEY}},
    ),
    "security_token": (
        {"ACCESS_KEY": "AK-TEMP-2", "SECRET_KEY": SECRET_KEY, "SECURITY_TOKEN": SECURITY_TOKEN},
        {"access_keys": {"AK-TEMP-2": SECRET_KEY}, "security_tokens": (SECURITY_TOKEN,)},
    ),
}


def texts_in_database(path: Path) -> list[str]:
    """Every text value of every table, with dlt's compressed state unpacked."""
    found: list[str] = []
    with duckdb.connect(str(path), read_only=True) as con:
        columns = con.execute(
            "select c.table_schema, c.table_name, c.column_name "
            "from information_schema.columns c join information_schema.tables t "
            "using (table_schema, table_name) "
            "where c.data_type = 'VARCHAR' and t.table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table, column in columns:
            values = con.execute(f'select "{column}" from "{schema}"."{table}"').fetchall()
            for (value,) in values:
                if value is None:
                    continue
                found.append(value)
                if table == "_dlt_pipeline_state" and column == "state":
                    found.append(repr(decompress_state(value)))
    return found


def assert_nowhere(haystacks: list[str]) -> None:
    for secret in SECRETS:
        leaks = [h[:120] for h in haystacks if secret in h]
        assert not leaks, f"{secret} leaked: {leaks}"


@pytest.mark.parametrize("kind", list(KINDS))
def test_secrets_stay_secret(
    kind: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    credentials, accepted = KINDS[kind]
    estate: Estate = small_estate()
    data_dir = tmp_path / "dlt_data"
    database = tmp_path / "secrets.duckdb"
    with SandboxServer(estate, **accepted) as server:
        monkeypatch.setenv("DLT_DATA_DIR", str(data_dir))
        monkeypatch.setenv("RUNTIME__LOG_LEVEL", "DEBUG")
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__REGION", REGION)
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__PROJECT_ID", PROJECT)
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__ENDPOINT", server.url)
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__IAM_ENDPOINT", server.url)
        for key, value in credentials.items():
            monkeypatch.setenv(f"SOURCES__FUNCTIONGRAPH__CREDENTIALS__{key}", value)
        with caplog.at_level(logging.DEBUG):
            assert main(["run", "--database", str(database)]) == EXIT_OK
            # a rejected credential takes the error path: message, log lines, traceback text
            server.faults.inject(status=401, times=1)
            server.faults.inject(status=401, times=1)
            assert main(["run", "--database", str(database)]) == EXIT_FAILED
    out = capsys.readouterr()
    logs = [record.getMessage() for record in caplog.records]
    logs += [str(record.exc_info) for record in caplog.records if record.exc_info]
    files = [
        file.read_bytes().decode("utf-8", errors="replace")
        for file in data_dir.rglob("*")
        if file.is_file()
    ]
    assert files, "dlt's working folder was not where the test looked"
    assert_nowhere([out.out, out.err, *logs, *files, *texts_in_database(database)])


def test_tenant_secrets_never_land_anywhere(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Environment variables and secret-looking fields of the served functions: nowhere."""
    estate = small_estate()
    vendor_secret = "tenant-secret-vendor-0a1b2c3d4e5f6a7b"
    urn = function_urn(REGION, PROJECT, "billing", "vendor")
    estate.add_function(
        PROJECT,
        make_function_item(
            REGION,
            PROJECT,
            "billing",
            "vendor",
            vendor_api_token=vendor_secret,
            extend_config={"db": {"password": vendor_secret + "-2"}},
        ),
        [make_config_item(urn, "latest", db_password=vendor_secret + "-3")],
    )
    secrets = {*tenant_secrets(estate), vendor_secret}
    assert len(secrets) > 5
    data_dir = tmp_path / "dlt_data"
    database = tmp_path / "tenant.duckdb"
    with SandboxServer(estate, tokens=(TOKEN,)) as server:
        monkeypatch.setenv("DLT_DATA_DIR", str(data_dir))
        monkeypatch.setenv("RUNTIME__LOG_LEVEL", "DEBUG")
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__REGION", REGION)
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__PROJECT_ID", PROJECT)
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__ENDPOINT", server.url)
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__CREDENTIALS__AUTH_TOKEN", TOKEN)
        with caplog.at_level(logging.DEBUG):
            assert main(["run", "--database", str(database)]) == EXIT_OK
            server.estate.upsert_config(make_config_item(urn, "latest", db_password="changed"))
            assert main(["run", "--database", str(database)]) == EXIT_OK  # history, staging
    out = capsys.readouterr()
    logs = [record.getMessage() for record in caplog.records]
    files = [
        file.read_bytes().decode("utf-8", errors="replace")
        for file in data_dir.rglob("*")
        if file.is_file()
    ]
    texts = texts_in_database(database)
    for secret in secrets:
        leaks = [h[:120] for h in [out.out, out.err, *logs, *files, *texts] if secret in h]
        assert not leaks, f"{secret} leaked: {leaks}"
    with duckdb.connect(str(database), read_only=True) as con:
        names = con.execute(
            "select environment_variable_names from functiongraph.functions "
            "where func_urn = ? and _dlt_valid_to is null",
            [urn],
        ).fetchone()
        schemas = con.execute(
            "select count(*) from information_schema.schemata "
            "where schema_name = 'functiongraph_staging'"
        ).fetchone()
    assert names is not None and names[0].startswith("[") and "DB_PASSWORD" in names[0]
    assert schemas == (1,)  # the staging dataset exists, and was scanned above
