"""The README runs as written: its TOML, environment exports, commands and snippets.

Every fenced TOML block parses and is accepted by dlt's configuration resolution for the source;
the documented `.dlt/config.toml` + `.dlt/secrets.toml` pair and the "against a real account"
exports run end to end against a sandbox; every `python -m pipelines ...` line parses with the
real argparse parser; the Commands table names only options that exist (and all of them); the
demo's `dlt` command and `dlt.attach` snippet work as printed. Self-contained (no shared
fixtures).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.__main__ import build_parser
from pipelines.functiongraph.config.keys import source_keys
from pipelines.functiongraph.config.settings import ENV_PREFIX
from pipelines.runner import RunSummary
from pipelines.sandbox import SandboxServer, generate_estate
from tests.support.paths import REPO_ROOT

README_PATH = REPO_ROOT / "README.md"
README = README_PATH.read_text(encoding="utf-8")
TOKEN = "readme-token-91ab"


@dataclass(frozen=True)
class Block:
    language: str
    text: str
    line: int

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.language})"


def blocks(*languages: str) -> list[Block]:
    found = []
    for match in re.finditer(r"^```(\w*)\n(.*?)^```", README, re.S | re.M):
        if match.group(1) in languages:
            line = README.count("\n", 0, match.start()) + 1
            found.append(Block(match.group(1), match.group(2), line))
    return found


TOML_BLOCKS = blocks("toml")


@pytest.fixture(autouse=True)
def _own_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing from the developer's shell; a working folder and dlt data folder of our own."""
    for key in list(os.environ):
        if key.upper().startswith(("SOURCES__", "DESTINATION__", "FGS__")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    monkeypatch.chdir(tmp_path)


def python(script: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run `script` in a child process in `cwd` (where dlt looks for `.dlt/`); its stdout."""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def settings_file(block: Block) -> str:
    """Which file of `.dlt/` a TOML example belongs in: its leading comment says so."""
    return "secrets.toml" if "secrets.toml" in block.text.split("\n", 1)[0] else "config.toml"


def local(text: str, root: Path) -> str:
    """The README's `/data/...` paths, moved under `root` (which exists)."""
    (root / "data").mkdir(exist_ok=True)
    return text.replace("/data/", f"{root}/data/")


# --- TOML -------------------------------------------------------------------------------------


def test_the_readme_has_toml_examples() -> None:
    assert len(TOML_BLOCKS) >= 3
    assert any(settings_file(block) == "secrets.toml" for block in TOML_BLOCKS)


@pytest.mark.parametrize("block", TOML_BLOCKS, ids=str)
def test_every_toml_example_parses(block: Block) -> None:
    tomllib.loads(block.text)


@pytest.mark.parametrize("block", TOML_BLOCKS, ids=str)
def test_every_toml_example_is_accepted_by_dlt_for_the_source(block: Block, tmp_path: Path) -> None:
    """Written where dlt reads it, the example resolves into a source without complaint: no
    unknown key, every value accepted. What the example leaves out (a scope, credentials) comes
    from the environment, as it would in a deployment."""
    parsed = tomllib.loads(block.text)
    source_table = parsed.get("sources", {}).get("functiongraph", {})
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / settings_file(block)).write_text(local(block.text, tmp_path), "utf-8")
    env = {}
    if not {"project_id", "projects"} & set(source_table):
        env |= {f"{ENV_PREFIX}REGION": "cn-north-4", f"{ENV_PREFIX}PROJECT_ID": "p0"}
    if "credentials" not in source_table:
        env[f"{ENV_PREFIX}CREDENTIALS__AUTH_TOKEN"] = TOKEN
    script = """
import json, os
from pipelines.functiongraph.config.keys import unknown_source_keys
from pipelines.functiongraph.source import functiongraph, source_scopes
from pipelines.warehouse import duckdb_database
print(json.dumps({
    "unknown": list(unknown_source_keys(os.environ)),
    "scopes": source_scopes(functiongraph()),
    "database": duckdb_database(None, "functiongraph"),
}))
"""
    resolved = json.loads(python(script, tmp_path, env))
    assert resolved["unknown"] == []
    if "projects" in source_table:
        expected = [f"{p['region']}/{p['project_id']}" for p in source_table["projects"]]
    elif "project_id" in source_table:
        expected = [f"{source_table['region']}/{source_table['project_id']}"]
    else:
        expected = ["cn-north-4/p0"]
    assert resolved["scopes"] == expected
    duckdb_path = parsed.get("destination", {}).get("duckdb", {}).get("credentials")
    if duckdb_path:  # the destination credentials in secrets.toml are the ones used
        assert resolved["database"] == local(duckdb_path, tmp_path)


def test_the_example_config_and_secrets_load_a_sandbox(tmp_path: Path) -> None:
    """`.dlt/config.toml` + `.dlt/secrets.toml` exactly as documented (the endpoint pointed at a
    sandbox through the environment, which dlt reads first) run a complete load."""
    secrets = next(block for block in TOML_BLOCKS if settings_file(block) == "secrets.toml")
    config = TOML_BLOCKS[TOML_BLOCKS.index(secrets) - 1]
    source = tomllib.loads(config.text)["sources"]["functiongraph"]
    keys = tomllib.loads(secrets.text)["sources"]["functiongraph"]["credentials"]
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(config.text, "utf-8")
    (tmp_path / ".dlt" / "secrets.toml").write_text(local(secrets.text, tmp_path), "utf-8")
    estate = generate_estate(
        seed=5, projects=[(source["region"], source["project_id"])], functions_per_project=4
    )
    access_keys = {keys["access_key"]: keys["secret_key"]}
    with SandboxServer(estate, tokens=(), access_keys=access_keys) as server:
        result = subprocess.run(
            [sys.executable, "-m", "pipelines", "--quiet", "run", "--summary-json", "-"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**os.environ, f"{ENV_PREFIX}ENDPOINT": server.url},
            timeout=300,
        )
        assert server.requests_seen, "the sandbox was not asked"
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    expected = tomllib.loads(local(secrets.text, tmp_path))["destination"]["duckdb"]["credentials"]
    assert summary["database"] == expected
    assert summary["configs"] > 0


# --- environment exports and command lines ------------------------------------------------------


def exports(block: Block) -> dict[str, str]:
    found = {}
    for line in block.text.splitlines():
        if line.startswith("export "):
            name, _, value = shlex.split(line.removeprefix("export "), comments=True)[0].partition(
                "="
            )
            found[name] = value
    return found


EXPORT_BLOCKS = [block for block in blocks("bash") if exports(block)]


def test_the_real_account_example_loads_a_sandbox(tmp_path: Path) -> None:
    """The exports under "Against a real account", placeholders filled in, run a load."""
    (block,) = [b for b in EXPORT_BLOCKS if "python -m pipelines run" in b.text]
    values = {
        "<project id>": "3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f",
        "<AK>": "README-AK",
        "<SK>": "readme-sk-5f0e",
    }
    env = {}
    for name, value in exports(block).items():
        env[name] = local(values.get(value, value), tmp_path)
    assert not [value for value in env.values() if value.startswith("<")], env
    estate = generate_estate(
        seed=5,
        projects=[(env[f"{ENV_PREFIX}REGION"], env[f"{ENV_PREFIX}PROJECT_ID"])],
        functions_per_project=4,
    )
    access_keys = {values["<AK>"]: values["<SK>"]}
    (command,) = [line for line in block.text.splitlines() if "-m pipelines" in line]
    argv = shlex.split(command)
    argv[0] = sys.executable  # `.venv/bin/python`: the interpreter running these tests
    with SandboxServer(estate, tokens=(), access_keys=access_keys) as server:
        env[f"{ENV_PREFIX}ENDPOINT"] = server.url
        result = subprocess.run(
            [*argv, "--quiet", "--summary-json", "-"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**os.environ, **env},
            timeout=300,
        )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["database"] == env["DESTINATION__DUCKDB__CREDENTIALS"]


@pytest.mark.parametrize("block", EXPORT_BLOCKS, ids=str)
def test_every_exported_source_key_exists(block: Block) -> None:
    known = source_keys()
    for name in exports(block):
        if name.startswith(ENV_PREFIX):
            assert name.removeprefix(ENV_PREFIX) in known, f"{block}: {name}"


def command_lines() -> list[tuple[str, str]]:
    """(where, line) of every `python -m pipelines ...` in code blocks and inline code."""
    found = []
    for block in blocks("bash", "cron", "sh", "text", ""):
        for offset, line in enumerate(block.text.splitlines(), start=1):
            if re.search(r"python3? -m pipelines\b", line):
                found.append((f"README.md:{block.line + offset}", line))
    prose = re.sub(  # fenced blocks blanked out, keeping the line numbers
        r"^```.*?^```", lambda m: "\n" * m.group(0).count("\n"), README, flags=re.S | re.M
    )
    for match in re.finditer(r"`([^`]*python3? -m pipelines\b[^`]*)`", prose):
        text = " ".join(match.group(1).split())
        if "[" in text or "COMMAND" in text:  # a synopsis, not a command line
            continue
        found.append((f"README.md:{prose.count(chr(10), 0, match.start()) + 1}", text))
    return found


def test_the_readme_has_command_lines() -> None:
    assert len(command_lines()) >= 3


@pytest.mark.parametrize(("where", "line"), command_lines(), ids=[w for w, _ in command_lines()])
def test_every_command_line_parses(where: str, line: str) -> None:
    words = shlex.split(line, comments=True)
    start = next(i for i, word in enumerate(words) if word == "pipelines" and words[i - 1] == "-m")
    argv = []
    for word in words[start + 1 :]:
        if word in {"|", "||", "&&", ";", ">", ">>", "2>&1"} or word.startswith((">", "2>")):
            break
        argv.append(word)
    build_parser().parse_args(argv)  # argparse exits 2 on anything it does not know


def commands_table() -> dict[str, str]:
    section = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z]+)([^`]*)` \|", section, re.M)
    return {command: options for command, options in rows}


def test_the_commands_table_matches_the_parser() -> None:
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    table = commands_table()
    assert set(table) == set(subparsers.choices)
    for command, sub in subparsers.choices.items():
        documented = set(re.findall(r"--[a-z][a-z-]*", table[command]))
        # each option by its name (the first long form); former names are documented in prose
        options = {
            next(option for option in action.option_strings if option.startswith("--"))
            for action in sub._actions
            if any(option.startswith("--") for option in action.option_strings)
        } - {"--help", "--quiet"}
        assert documented == options, command
        aliases = {
            option
            for action in sub._actions
            for option in action.option_strings[1:]
            if option.startswith("--")
        }
        assert all(f"`{alias}`" in README for alias in aliases), command


def test_every_source_key_mentioned_exists() -> None:
    known = source_keys()
    for match in re.finditer(rf"{ENV_PREFIX}([A-Z0-9_]+)", README):
        key = match.group(1).rstrip("_")
        if not key or README[match.end() :].startswith(" is not a setting"):
            continue  # the prefix alone, or the README's own example of a typo
        assert key in known or key == "FUNCTIONGRAPH", key  # or dlt's doubled source section


def test_the_json_summary_example_has_the_real_keys() -> None:
    (block,) = blocks("json")
    documented = json.loads(block.text)
    real = json.loads(RunSummary(database="x", functions=0, configs=0).to_json())
    assert set(documented) == set(real)


# --- the demo, as the Quick start shows it ------------------------------------------------------


def test_the_quick_start_dlt_command_and_attach_snippet(tmp_path: Path) -> None:
    demo = subprocess.run(
        [sys.executable, "-m", "pipelines", "--quiet", "demo", "--functions", "6"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stderr
    dlt_lines = [
        line
        for block in blocks("bash")
        for line in block.text.splitlines()
        if line.startswith(".venv/bin/dlt ") and "fgs_async_configs_demo" in line
    ]
    assert dlt_lines
    for line in dlt_lines:
        argv = shlex.split(line, comments=True)
        argv[0] = str(Path(sys.executable).parent / "dlt")
        info = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert info.returncode == 0, info.stderr
        assert "Found pipeline fgs_async_configs_demo" in info.stdout

    snippets = [block for block in blocks("python") if "fgs_demo" in block.text]
    assert snippets
    for block in snippets:
        out = python(block.text, tmp_path)
        assert "func_urn" in out  # the dataframe of configs was printed
    assert sorted(p.name for p in tmp_path.glob("*.duckdb")) == []  # no stray empty database


@pytest.mark.parametrize("block", blocks("python"), ids=str)
def test_every_python_snippet_compiles(block: Block) -> None:
    compile(block.text, str(block), "exec")
