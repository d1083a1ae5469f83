"""The sandbox's command line: its options, and `export` lines that work when pasted as printed."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from pipelines.functiongraph.http.auth.signing import AkSkAuth
from pipelines.sandbox.cli import (
    DEMO_TOKEN,
    UsageError,
    add_arguments,
    build_server,
    check_arguments,
    export_lines,
)

URL = "http://127.0.0.1:8080"
PID = "0b1e2a7c5d4f4e3a9c8b7a6d5e4f3a2b"
# Values a shell would mangle unquoted: spaces, quotes, `$`, `;`, a backslash, a newline-free `!`.
AK = "AK with space"
SK = "s3cr'et\"$HOME;`x`\\!"
STS = "sts-token with $PATH and 'quotes'"
ENV = "SOURCES__FUNCTIONGRAPH__"

bash = shutil.which("bash")


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["--port", "0", "--functions", "4", *argv])


def _pasted(lines: list[str]) -> dict[str, str]:
    """Run `lines` in bash as a user pasting them would, and read back the variables set."""
    assert bash is not None
    dump = (
        "import json, os; "
        "print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('SOURCES__')}))"
    )
    script = "\n".join([*lines, f"{shlex.quote(sys.executable)} -c {shlex.quote(dump)}"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    result = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(result.stdout)


# -- export lines --------------------------------------------------------------------------------


def test_export_lines_with_a_token() -> None:
    lines = export_lines(url=URL, region="cn-north-4", project_id=PID, token="tok en'1")
    assert lines == [
        f"export {ENV}ENDPOINT={URL}",
        f"export {ENV}REGION=cn-north-4",
        f"export {ENV}PROJECT_ID={PID}",
        f"export {ENV}CREDENTIALS__AUTH_TOKEN='tok en'\"'\"'1'",
    ]


def test_export_lines_with_keys_replace_the_token() -> None:
    lines = export_lines(
        url=URL, region="r", project_id=PID, token=DEMO_TOKEN, access_key="AK1", secret_key="SK1"
    )
    assert lines == [
        f"export {ENV}ENDPOINT={URL}",
        f"export {ENV}REGION=r",
        f"export {ENV}PROJECT_ID={PID}",
        f"export {ENV}CREDENTIALS__ACCESS_KEY=AK1",
        f"export {ENV}CREDENTIALS__SECRET_KEY=SK1",
        f"export {ENV}IAM_ENDPOINT={URL}",
    ]
    with_token = export_lines(
        url=URL, region="r", project_id=PID, access_key="AK1", secret_key="SK1", security_token="T"
    )
    assert with_token[-2:] == [
        f"export {ENV}CREDENTIALS__SECURITY_TOKEN=T",
        f"export {ENV}IAM_ENDPOINT={URL}",
    ]
    assert not any("AUTH_TOKEN" in line for line in lines + with_token)


@pytest.mark.skipif(bash is None, reason="needs bash")
def test_export_lines_survive_a_shell() -> None:
    lines = export_lines(
        url=URL,
        region="cn-north-4",
        project_id=PID,
        access_key=AK,
        secret_key=SK,
        security_token=STS,
    )
    assert _pasted([f"  {line}" for line in lines]) == {
        f"{ENV}ENDPOINT": URL,
        f"{ENV}REGION": "cn-north-4",
        f"{ENV}PROJECT_ID": PID,
        f"{ENV}CREDENTIALS__ACCESS_KEY": AK,
        f"{ENV}CREDENTIALS__SECRET_KEY": SK,
        f"{ENV}CREDENTIALS__SECURITY_TOKEN": STS,
        f"{ENV}IAM_ENDPOINT": URL,
    }
    token_lines = export_lines(url=URL, region="r", project_id=PID, token=SK)
    assert _pasted(token_lines)[f"{ENV}CREDENTIALS__AUTH_TOKEN"] == SK


# -- options -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--access-key", "A"], "go together"),
        (["--secret-key", "S"], "go together"),
        (["--security-token", "T"], "--security-token needs --access-key"),
    ],
)
def test_bad_combinations_are_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_arguments(_parse(*argv))
    with pytest.raises(UsageError, match=message):
        build_server(_parse(*argv))


def test_hostile_flags_reach_the_server() -> None:
    args = _parse("--lie-count", "3", "--omit-page-info", "--last-page-marker", "zero")
    server = build_server(args)
    try:
        assert server.hostile.count_extra == 3
        assert server.hostile.omit_page_info
        assert not server.hostile.endless_paging
        assert server.last_page_marker == "zero"
    finally:
        server.stop()
    server = build_server(_parse("--endless-paging"))
    try:
        assert server.hostile.endless_paging
        assert server.hostile.count_extra == 0
    finally:
        server.stop()


def _signed_get(url: str, project_id: str, **auth: Any) -> requests.Response:
    with requests.Session() as session:
        prepared = session.prepare_request(requests.Request("GET", url))
        AkSkAuth(project_id=project_id, **auth).apply(prepared)
        return session.send(prepared)


def test_security_token_makes_the_pair_temporary() -> None:
    args = _parse("--access-key", "AK-T", "--secret-key", "SK-T", "--security-token", "STS-T")
    with build_server(args) as server:
        url = f"{server.url}/v2/{args.project_id}/fgs/functions"
        keys = {"access_key": "AK-T", "secret_key": "SK-T"}
        with_token = _signed_get(url, args.project_id, **keys, security_token="STS-T")
        assert with_token.status_code == 200, with_token.text
        without = _signed_get(url, args.project_id, **keys)
        assert without.status_code == 401
        assert without.json()["error_code"] == "APIG.0301"
        other = _signed_get(url, args.project_id, **keys, security_token="STS-X")
        assert other.status_code == 401
        for response in (without, other):
            assert "SK-T" not in response.text and "STS-T" not in response.text
        # The static token keeps working alongside.
        assert requests.get(url, headers={"X-Auth-Token": DEMO_TOKEN}).status_code == 200


# -- the real command ----------------------------------------------------------------------------


@pytest.fixture
def cli_server() -> Iterator[tuple[str, list[str]]]:
    """`python -m pipelines.sandbox.cli` with a temporary key pair: (url, printed lines)."""
    command = [sys.executable, "-m", "pipelines.sandbox.cli", "--port", "0", "--functions", "5"]
    command += ["--access-key", AK, "--secret-key", SK, "--security-token", STS]
    command += ["--lie-count", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = first.split()[4]  # "sandbox FunctionGraph API on <url>  (Ctrl-C stops it)"
        lines = [process.stdout.readline().rstrip("\n") for _ in range(7)]
        yield url, lines
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.skipif(bash is None, reason="needs bash")
def test_printed_lines_pasted_into_a_shell_reach_the_sandbox(
    cli_server: tuple[str, list[str]],
) -> None:
    url, lines = cli_server
    assert all(line.startswith("  export ") for line in lines)
    env = _pasted(lines)
    assert env[f"{ENV}ENDPOINT"] == env[f"{ENV}IAM_ENDPOINT"] == url
    assert f"{ENV}CREDENTIALS__AUTH_TOKEN" not in env
    project_id = env[f"{ENV}PROJECT_ID"]
    auth = {
        "access_key": env[f"{ENV}CREDENTIALS__ACCESS_KEY"],
        "secret_key": env[f"{ENV}CREDENTIALS__SECRET_KEY"],
    }
    functions_url = f"{url}/v2/{project_id}/fgs/functions"
    response = _signed_get(
        functions_url, project_id, **auth, security_token=env[f"{ENV}CREDENTIALS__SECURITY_TOKEN"]
    )
    assert response.status_code == 200, response.text
    assert response.json()["count"] == 5 + 2  # --lie-count
    assert _signed_get(functions_url, project_id, **auth).status_code == 401
