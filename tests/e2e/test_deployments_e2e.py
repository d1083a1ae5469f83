"""Every deployment is an island, and the CLI fails cleanly: relative paths, working folders,
leftover packages, a busy DuckDB file, bad paths, Ctrl-C and malformed credentials."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.__main__ import EXIT_CONFIG, EXIT_FAILED, EXIT_INTERRUPTED, main
from pipelines.runner import extract
from pipelines.sandbox import SandboxServer
from tests.support.estates import PROJECT, PROJECT_B, REGION, REGION_B, TOKEN, two_project_estate
from tests.support.loader import Loader
from tests.support.processes import LOCKS_FILE, OPENS_DUCKDB, held_elsewhere

TOKEN_KEY = "SOURCES__FUNCTIONGRAPH__CREDENTIALS__AUTH_TOKEN"


def cli_env(server: SandboxServer, data_dir: Path, **extra: str) -> dict[str, str]:
    """One machine user's environment: the same dlt data folder for every deployment."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))},
        "DLT_DATA_DIR": str(data_dir),
        "SOURCES__FUNCTIONGRAPH__REGION": REGION,
        "SOURCES__FUNCTIONGRAPH__PROJECT_ID": PROJECT,
        "SOURCES__FUNCTIONGRAPH__ENDPOINT": server.url,
        TOKEN_KEY: TOKEN,
        **extra,
    }


def cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", "--quiet", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def configs_in(database: Path) -> int:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(
            "select count(*) from reporting.current_async_invoke_configs"
        ).fetchone()[0]


def test_two_deployments_with_relative_paths_stay_apart(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    env = cli_env(sandbox, tmp_path / "home-dlt")
    summaries = {}
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        done = cli(["run", "--database", "./inv.duckdb", "--summary-json", "-"], folder, env)
        assert done.returncode == 0, done.stderr
        summaries[name] = json.loads(done.stdout)
        assert configs_in(folder / "inv.duckdb") == 9
        assert summaries[name]["database"] == str(folder / "inv.duckdb")
    assert summaries["a"]["working_dir"] != summaries["b"]["working_dir"]
    # the second run in "a" finds its own history: nothing new, everything unchanged
    again = cli(["run", "--database", "inv.duckdb", "--summary-json", "-"], tmp_path / "a", env)
    scope = json.loads(again.stdout)["scopes"][f"{REGION}/{PROJECT}"]
    assert (scope["created"], scope["unchanged"]) == (0, 9)


@pytest.mark.parametrize("estate", [two_project_estate()], ids=["two-projects"])
def test_a_leftover_package_for_other_scopes_is_discarded(
    tmp_path: Path, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture, estate
) -> None:
    loader = Loader(tmp_path, sandbox)
    # an interrupted run of another configuration (project B) left its package behind
    extract(loader.pipeline, loader.source(region=REGION_B, project_id=PROJECT_B))
    assert loader.pipeline.has_pending_data
    with caplog.at_level(logging.WARNING):
        summary = loader.run()
    assert summary.ok and not loader.pipeline.has_pending_data
    assert loader.query("select distinct project_id from functiongraph.async_invoke_configs") == [
        (PROJECT,)
    ]
    assert f"it was made for {REGION_B}/{PROJECT_B}, this run is for {REGION}/{PROJECT}" in (
        caplog.text
    )


def test_a_second_run_on_one_file_says_so(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    for key, value in cli_env(sandbox, tmp_path / "dlt", FGS__LOCK_TIMEOUT="0").items():
        monkeypatch.setenv(key, value)
    database = str(tmp_path / "busy.duckdb")
    with held_elsewhere(LOCKS_FILE, f"{database}.lock"):  # another run's turn at the file
        assert main(["--quiet", "run", "--database", database]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert (
        err
        == f"error: another run is using {database} (waited 0s; FGS__LOCK_TIMEOUT sets how long)\n"
    )
    assert sandbox.requests_seen == []


def test_a_file_held_by_another_process_is_named_not_a_credentials_hint(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    for key, value in cli_env(sandbox, tmp_path / "dlt").items():
        monkeypatch.setenv(key, value)
    database = tmp_path / "held.duckdb"
    with held_elsewhere(OPENS_DUCKDB, database):
        assert main(["--quiet", "run", "--database", str(database)]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert err.startswith("error: another process is using the DuckDB file")
    assert "credentials" not in err and err.count("\n") == 1


@pytest.mark.parametrize("problem", ["missing folder", "a directory", "unwritable folder"])
def test_bad_database_paths_are_config_errors_before_any_request(
    tmp_path: Path, sandbox: SandboxServer, problem: str
) -> None:
    (tmp_path / "dir.duckdb").mkdir()
    path = {
        "missing folder": tmp_path / "nowhere" / "x.duckdb",
        "a directory": tmp_path / "dir.duckdb",
        # a folder nobody may create files in, root included (procfs refuses them)
        "unwritable folder": Path("/proc/1/x.duckdb"),
    }[problem]
    done = cli(["run", "--database", str(path)], tmp_path, cli_env(sandbox, tmp_path / "dlt"))
    assert done.returncode == EXIT_CONFIG, done.stderr
    assert done.stderr.startswith("error: ") and str(path) in done.stderr
    assert done.stderr.count("\n") == 1
    assert sandbox.requests_seen == []


def test_ctrl_c_is_one_line_and_exit_130(tmp_path: Path, sandbox: SandboxServer) -> None:
    sandbox.faults.latency_s = 0.3
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "run", "--database", "x.duckdb"],
        cwd=tmp_path,
        env=cli_env(sandbox, tmp_path / "dlt"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as a terminal starts it: a shell's background job (a CI script run with `&`) ignores
        # SIGINT, and a child inherits that, so the run would rightly ignore Ctrl-C too
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not sandbox.requests_seen and time.monotonic() < deadline:
        time.sleep(0.02)  # waiting for a condition, not for time to pass
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == EXIT_INTERRUPTED, err
    errors = [line for line in err.splitlines() if " INFO " not in line and " WARNING " not in line]
    assert errors == ["error: interrupted; nothing retired, the next run starts afresh"]
    assert "Traceback" not in err + out


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (TOKEN + "\r", "contains a control character"),
        (TOKEN + "\n", "contains a control character"),
        ("  \t ", "is blank"),
        (" " + TOKEN, "starts or ends with spaces"),
    ],
    ids=["crlf", "newline", "blank", "leading-space"],
)
def test_malformed_credentials_are_config_errors_never_echoed(
    tmp_path: Path, sandbox: SandboxServer, value: str, message: str
) -> None:
    env = cli_env(sandbox, tmp_path / "dlt", **{TOKEN_KEY: value})
    done = cli(["run", "--database", "x.duckdb"], tmp_path, env)
    assert done.returncode == EXIT_CONFIG
    assert done.stderr.startswith(f"error: {TOKEN_KEY} {message}")
    assert TOKEN not in done.stderr + done.stdout
    assert sandbox.requests_seen == []
    for file in (tmp_path / "dlt").rglob("*"):
        if file.is_file():
            assert TOKEN.encode() not in file.read_bytes(), file


def test_models_on_a_missing_file_creates_nothing(tmp_path: Path, sandbox: SandboxServer) -> None:
    done = cli(["models", "--database", "absent.duckdb"], tmp_path, cli_env(sandbox, tmp_path))
    assert done.returncode == EXIT_FAILED
    assert done.stderr == (
        f"error: there is no database at {tmp_path / 'absent.duckdb'}: "
        "run `python -m pipelines run` first\n"
    )
    assert not (tmp_path / "absent.duckdb").exists()
