"""The command line contract: exit codes, one-line errors, any working folder, the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.__main__ import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, main
from pipelines.sandbox import SandboxServer
from tests.support.estates import ALPHA, PROJECT, REGION, TOKEN


def configure(monkeypatch: pytest.MonkeyPatch, server: SandboxServer, token: str = TOKEN) -> None:
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__REGION", REGION)
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__PROJECT_ID", PROJECT)
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__ENDPOINT", server.url)
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__CREDENTIALS__AUTH_TOKEN", token)
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__BACKOFF_BASE", "0.001")


def test_run_from_another_folder_in_a_subprocess(
    tmp_path: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sandbox)
    database = tmp_path / "data" / "fgs.duckdb"
    database.parent.mkdir()
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {**os.environ, "DESTINATION__DUCKDB__CREDENTIALS": str(database)}
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", "--quiet", "run"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == EXIT_OK, done.stderr
    assert "loaded 4 functions and 9 live async-invoke configs" in done.stdout
    assert "SQL models (views in the schemas staging and reporting)" in done.stdout
    with duckdb.connect(str(database), read_only=True) as connection:  # found from elsewhere
        assert connection.execute(
            "select count(*) from reporting.functions_without_failure_destination"
        ).fetchone() == (2,)


@pytest.mark.parametrize(
    ("drop", "setting", "message"),
    [
        ("SOURCES__FUNCTIONGRAPH__REGION", None, "SOURCES__FUNCTIONGRAPH__REGION is not set"),
        (
            "SOURCES__FUNCTIONGRAPH__PROJECT_ID",
            None,
            "SOURCES__FUNCTIONGRAPH__PROJECT_ID is not set",
        ),
        ("SOURCES__FUNCTIONGRAPH__CREDENTIALS__AUTH_TOKEN", None, "no credentials configured"),
        (None, ("SOURCES__FUNCTIONGRAPH__ENDPOINT", "ftp://x"), "must be an http(s) URL"),
        (None, ("SOURCES__FUNCTIONGRAPH__CONFIGS_PAGE_SIZE", "500"), "CONFIGS_PAGE_SIZE must be"),
        (None, ("SOURCES__FUNCTIONGRAPH__MAX_ATTEMPTS", "many"), "max_attempts"),
        (None, ("SOURCES__FUNCTIONGRAPH__NAIVE_TIMEZONE", "Mars/Base"), "NAIVE_TIMEZONE"),
    ],
)
def test_bad_configuration_fails_before_any_request(
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    drop: str | None,
    setting: tuple[str, str] | None,
    message: str,
) -> None:
    configure(monkeypatch, sandbox)
    if drop:
        monkeypatch.delenv(drop)
    if setting:
        monkeypatch.setenv(*setting)
    code = main(["--quiet", "run", "--database", str(tmp_path / "x.duckdb")])
    err = capsys.readouterr().err
    assert code == EXIT_CONFIG
    assert message in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert sandbox.requests_seen == []


def test_rejected_token_fails_with_one_line_and_no_secret(
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, sandbox, token="wrong-token-5e1d")
    code = main(["--quiet", "run", "--database", str(tmp_path / "x.duckdb")])
    captured = capsys.readouterr()
    assert code == EXIT_FAILED
    assert captured.err.startswith("error: 1 scope(s) incomplete, first: listing functions of")
    assert "auth_token rejected (check CREDENTIALS__AUTH_TOKEN" in captured.err
    assert "HTTP 401 APIG.1002" in captured.err
    assert "wrong-token-5e1d" not in captured.out + captured.err
    assert len(sandbox.requests_seen) == 1  # no retry storm on an auth failure


def test_database_named_like_the_dataset_is_refused(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(monkeypatch, sandbox)
    assert main(["run", "--database", "functiongraph.duckdb"]) == EXIT_CONFIG
    assert "must not be named functiongraph.duckdb" in capsys.readouterr().err


def test_models_command_reapplies_views_without_extracting(
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, sandbox)
    database = str(tmp_path / "x.duckdb")
    assert main(["--quiet", "run", "--database", database]) == EXIT_OK
    served = len(sandbox.requests_seen)
    assert main(["--quiet", "models", "--database", database]) == EXIT_OK
    assert "reporting.current_async_invoke_configs" in capsys.readouterr().out
    assert len(sandbox.requests_seen) == served


def test_demo_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "demo"
    code = main(["--quiet", "demo", "--folder", str(folder), "--functions", "15"])
    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert "loaded 15 functions" in out
    assert "Configs that lose failed events silently:" in out
    assert (folder / "fgs_async_configs.duckdb").exists()


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "demo", "sandbox", "models"):
        assert command in out


def test_project_list_from_the_environment(
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, sandbox)
    monkeypatch.delenv("SOURCES__FUNCTIONGRAPH__REGION")
    monkeypatch.delenv("SOURCES__FUNCTIONGRAPH__PROJECT_ID")
    monkeypatch.setenv(
        "SOURCES__FUNCTIONGRAPH__PROJECTS",
        f'[{{"region": "{REGION}", "project_id": "{PROJECT}", "endpoint": "{sandbox.url}"}}]',
    )
    assert main(["--quiet", "run", "--database", str(tmp_path / "x.duckdb")]) == EXIT_OK
    assert "loaded 4 functions and 9 live async-invoke configs" in capsys.readouterr().out


def test_json_summary_for_orchestrators(
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, sandbox)
    summary_file = tmp_path / "summary.json"
    database = str(tmp_path / "x.duckdb")
    args = ["--quiet", "run", "--database", database, "--summary-json", str(summary_file)]
    assert main(args) == EXIT_OK
    written = json.loads(summary_file.read_text())
    assert written["ok"] is True and written["failures"] == []
    assert (written["functions"], written["configs"]) == (4, 9)
    assert written["scopes"] == {
        f"{REGION}/{PROJECT}": {
            "status": "complete",
            "created": 9,
            "updated": 0,
            "deleted": 0,
            "unchanged": 0,
        }
    }
    assert written["seconds"] > 0
    assert written["started_at"].endswith("+00:00")
    assert float(written["load_id"]) > 0
    assert Path(written["working_dir"]).is_dir()
    capsys.readouterr()
    sandbox.faults.inject(path_contains="async-invoke-configs", status=500, times=100)
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__MAX_ATTEMPTS", "1")
    assert main(["--quiet", "run", "--database", database, "--summary-json", "-"]) == EXIT_FAILED
    printed = json.loads(capsys.readouterr().out)
    assert printed["ok"] is False and len(printed["failures"]) == 4
    # nothing was fetched, so nothing is claimed unchanged (the 9 live rows are merely kept)
    assert printed["scopes"][f"{REGION}/{PROJECT}"] == {
        "status": "failed",
        "created": 0,
        "updated": 0,
        "deleted": 0,
        "unchanged": 0,
    }
    assert printed["configs"] == 9


def test_filesystem_destination_publishes_parquet(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(monkeypatch, sandbox)
    bucket = tmp_path / "bucket"
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", str(bucket))
    args = [
        "--quiet",
        "run",
        "--destination",
        "filesystem",
        "--database",
        str(tmp_path / "x.duckdb"),
    ]
    assert main(args) == EXIT_OK
    sandbox.estate.delete_config(f"{ALPHA}:v1")
    assert main(args) == EXIT_OK

    def rows(table: str, where: str = "true") -> int:
        files = str(bucket / "functiongraph" / table / "*.parquet")
        return duckdb.sql(f"select count(*) from read_parquet('{files}') where {where}").fetchone()[
            0
        ]

    assert rows("async_invoke_configs") == 9  # history: the deleted version is kept, closed
    assert rows("async_invoke_configs", "_dlt_valid_to is null") == 8
    assert rows("reporting__current_async_invoke_configs") == 8
    assert rows("reporting__async_invoke_config_changes", "change_type = 'deleted'") == 1
    assert rows("functions") == 4


def test_filesystem_destination_needs_a_bucket_before_anything_runs(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(monkeypatch, sandbox)
    assert main(["run", "--destination", "filesystem"]) == EXIT_CONFIG
    assert "DESTINATION__FILESYSTEM__BUCKET_URL" in capsys.readouterr().err
    assert sandbox.requests_seen == []


def test_sandbox_command_serves_a_run_with_discovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["sandbox", "--port", "0", "--functions", "12"]
    keys = ["--access-key", "AK-CLI", "--secret-key", "SK-CLI"]
    server = subprocess.Popen(
        [sys.executable, "-m", "pipelines", *command, *keys],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[4]  # "sandbox FunctionGraph API on <url> ..."
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__ENDPOINT", url)
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__IAM_ENDPOINT", url)
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__CREDENTIALS__ACCESS_KEY", "AK-CLI")
        monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__CREDENTIALS__SECRET_KEY", "SK-CLI")
        code = main(["--quiet", "run", "--database", str(tmp_path / "x.duckdb")])
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert code == EXIT_OK
    assert "loaded 12 functions" in capsys.readouterr().out
