"""A newcomer's path through the real command line: dlt's conventions, and clear errors.

Self-contained: its own sandbox, environment and folders (no shared fixtures).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.__main__ import EXIT_CONFIG, EXIT_OK, build_parser, main
from pipelines.sandbox import SandboxServer, generate_estate

REGION = "cn-north-4"
PROJECT = "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
TOKEN = "newcomer-token-4c1d"
ENV_PREFIXES = ("SOURCES__", "DESTINATION__", "FGS__")


@pytest.fixture(autouse=True)
def _own_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing from the developer's shell; a working folder and dlt data folder of our own."""
    for key in list(os.environ):
        if key.upper().startswith(ENV_PREFIXES):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    """A sandbox the connector is configured for through the environment, as a user would."""
    estate = generate_estate(seed=3, projects=[(REGION, PROJECT)], functions_per_project=6)
    with SandboxServer(estate, tokens=(TOKEN,)) as server:
        for key, value in {
            "REGION": REGION,
            "PROJECT_ID": PROJECT,
            "ENDPOINT": server.url,
            "CREDENTIALS__AUTH_TOKEN": TOKEN,
        }.items():
            monkeypatch.setenv(f"SOURCES__FUNCTIONGRAPH__{key}", value)
        yield server


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m pipelines ...` in a child process, with this test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def only_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


# --- a. dlt's own configuration errors name our key, exit 2 ------------------------------------


def test_a_value_dlt_cannot_coerce_names_the_key(
    api: SandboxServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__MAX_WORKERS", "abc")
    assert main(["--quiet", "run", "--database", "x.duckdb"]) == EXIT_CONFIG
    line = only_error_line(capsys.readouterr().err)
    assert line == (
        "error: SOURCES__FUNCTIONGRAPH__MAX_WORKERS (sources.functiongraph.max_workers) "
        "must be a whole number, not 'abc'"
    )
    assert api.requests_seen == []


def test_postgres_without_credentials_names_dlts_key_before_any_request(
    api: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--quiet", "run", "--destination", "postgres"]) == EXIT_CONFIG
    line = only_error_line(capsys.readouterr().err)
    assert line.startswith("error: DESTINATION__POSTGRES__CREDENTIALS is not set"), line
    assert "postgresql://" in line
    assert api.requests_seen == []


def test_a_malformed_connection_string_names_the_key_not_the_value(
    api: SandboxServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", "not-a-url-s3cr3t")
    assert main(["--quiet", "run", "--destination", "postgres"]) == EXIT_CONFIG
    line = only_error_line(capsys.readouterr().err)
    assert line.startswith("error: DESTINATION__POSTGRES__CREDENTIALS: "), line
    assert "s3cr3t" not in line
    assert api.requests_seen == []


# --- b. unknown SOURCES__FUNCTIONGRAPH__* keys ---------------------------------------------------


def test_an_unknown_key_is_an_error_with_a_suggestion(
    api: SandboxServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__MAX_WORKER", "4")
    assert main(["--quiet", "run", "--database", "x.duckdb"]) == EXIT_CONFIG
    line = only_error_line(capsys.readouterr().err)
    assert "SOURCES__FUNCTIONGRAPH__MAX_WORKER is not a setting" in line
    assert "did you mean SOURCES__FUNCTIONGRAPH__MAX_WORKERS?" in line
    assert api.requests_seen == []
    assert not Path("x.duckdb").exists()


def test_an_unknown_credential_key_is_named_too(
    api: SandboxServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__CREDENTIALS__ACESS_KEY", "AK")
    assert main(["--quiet", "demo", "--functions", "3"]) == EXIT_CONFIG
    line = only_error_line(capsys.readouterr().err)
    assert "did you mean SOURCES__FUNCTIONGRAPH__CREDENTIALS__ACCESS_KEY?" in line


def test_an_unknown_key_in_config_toml_is_named_with_its_file(
    api: SandboxServer, tmp_path: Path
) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(
        "[sources.functiongraph]\nrequest_timout = 10\n", encoding="utf-8"
    )
    result = cli("--quiet", "run", cwd=tmp_path)
    assert result.returncode == EXIT_CONFIG, result.stderr
    line = only_error_line(result.stderr)
    assert "sources.functiongraph.request_timout in config.toml is not a setting" in line
    assert "did you mean SOURCES__FUNCTIONGRAPH__REQUEST_TIMEOUT?" in line
    assert api.requests_seen == []


def test_dlts_own_settings_under_the_source_are_not_unknown(
    api: SandboxServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__DATA_WRITER__BUFFER_MAX_ITEMS", "5000")
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__FUNCTIONGRAPH__MAX_ATTEMPTS", "3")
    assert main(["--quiet", "run", "--database", "x.duckdb"]) == EXIT_OK, capsys.readouterr().err


# --- c. --quiet after the command ------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "quiet"),
    [
        (["run"], False),
        (["--quiet", "run"], True),
        (["run", "--quiet"], True),
        (["-q", "models"], True),
        (["demo", "-q"], True),
        (["sandbox", "--quiet"], True),
    ],
)
def test_quiet_before_or_after_the_command(argv: list[str], quiet: bool) -> None:
    assert build_parser().parse_args(argv).quiet is quiet


def test_run_quiet_logs_nothing_on_success(api: SandboxServer) -> None:
    result = cli("run", "--quiet")
    assert result.returncode == EXIT_OK, result.stderr
    assert " INFO " not in result.stderr
    assert "loaded 6 functions" in result.stdout


# --- d. --help: a sentence and the default for every option ------------------------------------


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


@pytest.mark.parametrize("command", ["run", "demo", "sandbox", "models"])
def test_help_explains_every_option_with_its_default(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = subcommands()[command]
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = action.option_strings[-1]
        assert action.help and len(action.help.split()) >= 3, f"{command} {name} needs a sentence"
        assert " ".join(action.help.split()) in text
        if action.default is not None and action.default is not False:
            if action.default is argparse.SUPPRESS:
                continue
            assert f"(default: {action.default})" in text, f"{command} {name} hides its default"


# --- e. dlt's own command line finds the pipelines ---------------------------------------------


def hinted_command(stdout: str) -> list[str]:
    (line,) = [line for line in stdout.splitlines() if line.startswith("inspect it with: ")]
    return shlex.split(line.removeprefix("inspect it with: "))


def test_dlt_pipeline_info_for_a_run(api: SandboxServer, tmp_path: Path) -> None:
    result = cli("run", "--quiet")
    assert result.returncode == EXIT_OK, result.stderr
    command = hinted_command(result.stdout)
    assert len(command) == 4 and command[1] == "pipeline" and command[3] == "info", command
    name = command[2]
    assert re.fullmatch(r"fgs_async_configs_[0-9a-f]{12}", name)
    assert f"dlt pipeline {name}, working folder" in result.stdout

    as_json = cli("run", "--quiet", "--summary-json", "-")
    working_dir = Path(json.loads(as_json.stdout)["working_dir"])
    assert working_dir.name == name
    assert working_dir.parent == tmp_path / "dlt_data" / "pipelines"  # DLT_DATA_DIR is honoured

    info = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert info.returncode == 0, info.stderr
    assert f"Found pipeline {name}" in info.stdout
    assert "completed load packages" in info.stdout


def test_dlt_pipeline_info_and_attach_for_the_demo(tmp_path: Path) -> None:
    result = cli("--quiet", "demo", "--functions", "8", cwd=tmp_path)
    assert result.returncode == EXIT_OK, result.stderr
    command = hinted_command(result.stdout)
    assert "--pipelines-dir" in command
    assert command[-2:] == ["fgs_async_configs_demo", "info"]
    info = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert "Found pipeline fgs_async_configs_demo" in info.stdout

    # the attach line the demo prints reads the demo's data and creates no stray database
    (attach,) = [line for line in result.stdout.splitlines() if "dlt.attach(" in line]
    expression = attach[attach.index("dlt.attach(") :]
    script = f"import dlt\nprint(len({expression}.async_invoke_configs.fetchall()))\n"
    before = sorted(tmp_path.glob("*.duckdb"))
    read = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert read.returncode == 0, read.stderr
    assert int(read.stdout.strip()) > 0
    assert sorted(tmp_path.glob("*.duckdb")) == before


WITHOUT_PANDAS = """
import importlib.abc, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pandas", "numpy"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NotInstalled())
from pipelines.__main__ import main
code = main(["--quiet", "demo", "--functions", "8"])
print("imported:", sorted({"pandas", "numpy"} & set(sys.modules)))
sys.exit(code)
"""


def test_the_base_install_runs_without_pandas(tmp_path: Path) -> None:
    """pandas and numpy come only with the notebook extra: the whole demo (a run, the models, the
    report) works when they cannot be imported, as after `pip install fgs-async-configs`."""
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_PANDAS],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert "imported: []" in result.stdout
    assert "created" in result.stdout
