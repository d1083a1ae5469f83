"""Authentication against the sandbox's gateway checks: renewal, re-signing, clear failures."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from pipelines.functiongraph.config.credentials import FunctionGraphCredentials
from pipelines.functiongraph.errors import ApiError, AuthError, FunctionNotFound, RetriesExhausted
from pipelines.functiongraph.http.auth import TokenAuth
from pipelines.functiongraph.http.auth.password import IamPasswordAuth
from pipelines.functiongraph.http.client import FunctionGraphClient
from pipelines.functiongraph.http.retries import RetryPolicy
from pipelines.functiongraph.shaping.urns import quote_urn
from pipelines.sandbox import SandboxServer
from tests.support.estates import ALPHA, PROJECT, TOKEN, small_estate
from tests.support.expected import CURRENT, EXPECTED
from tests.support.loader import Loader

FUNCTIONS = f"/v2/{PROJECT}/fgs/functions"
FAST = RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_max=0.01)


class CountingAuth(TokenAuth):
    """A static token that counts how often it was applied."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.applied = 0

    def apply(self, request: requests.PreparedRequest) -> None:
        self.applied += 1
        super().apply(request)


def test_every_attempt_is_authenticated_anew(sandbox: SandboxServer) -> None:
    sandbox.faults.inject(path_contains=FUNCTIONS, status=503, times=2)
    auth = CountingAuth(TOKEN)
    body = FunctionGraphClient(sandbox.url, auth, retry=FAST).get_json(FUNCTIONS, {}, "list")
    assert len(body["functions"]) == 2 and auth.applied == 3


@pytest.mark.parametrize(
    ("path", "error", "text"),
    [
        (
            f"{FUNCTIONS}/{quote_urn(ALPHA + 'x')}/async-invoke-configs",
            FunctionNotFound,
            "FSS.1051",
        ),
        ("/v2/other-project/fgs/functions", AuthError, "HTTP 403 FSS.0403"),
        (f"{FUNCTIONS}/{quote_urn(ALPHA)}/nothing-here", ApiError, "HTTP 404 APIG.0101"),
    ],
)
def test_error_classes(sandbox: SandboxServer, path: str, error: type, text: str) -> None:
    client = FunctionGraphClient(sandbox.url, TokenAuth(TOKEN), retry=FAST)
    with pytest.raises(error) as raised:
        client.get_json(path, {}, "fetching the thing")
    assert str(raised.value).startswith("fetching the thing") and text in str(raised.value)


def test_bad_request_carries_the_api_error(sandbox: SandboxServer) -> None:
    client = FunctionGraphClient(sandbox.url, TokenAuth(TOKEN), retry=FAST)
    with pytest.raises(ApiError, match=r"HTTP 400 FSS\.0400") as raised:
        client.get_json(FUNCTIONS, {"maxitems": "-1"}, "listing")
    assert not isinstance(raised.value, AuthError)


def test_retries_exhausted(sandbox: SandboxServer) -> None:
    sandbox.faults.inject(path_contains=FUNCTIONS, status=502, times=3)
    client = FunctionGraphClient(sandbox.url, TokenAuth(TOKEN), retry=FAST)
    with pytest.raises(RetriesExhausted, match="listing: gave up after 3 attempts"):
        client.get_json(FUNCTIONS, {}, "listing")


def test_iam_token_is_cached_and_renewed_after_a_401() -> None:
    with SandboxServer(small_estate(), users={("acme", "etl"): "pw"}) as server:
        auth = IamPasswordAuth(server.url, "etl", "pw", "acme", PROJECT, retry=FAST)
        client = FunctionGraphClient(server.url, auth, retry=FAST)
        client.get_json(FUNCTIONS, {}, "listing")
        client.get_json(FUNCTIONS, {}, "listing")
        assert (auth.tokens_fetched, server.tokens_issued) == (1, 1)
        server.expire_tokens()
        client.get_json(FUNCTIONS, {}, "listing")
        assert (auth.tokens_fetched, server.tokens_issued) == (2, 2)


def test_wrong_password_says_which_credential_failed() -> None:
    with SandboxServer(small_estate(), users={("acme", "etl"): "pw"}) as server:
        auth = IamPasswordAuth(server.url, "etl", "nope", "acme", PROJECT, retry=FAST)
        client = FunctionGraphClient(server.url, auth, retry=FAST)
        with pytest.raises(AuthError, match="IAM user 'etl' of domain 'acme': password rejected"):
            client.get_json(FUNCTIONS, {}, "listing")


@pytest.mark.parametrize("kind", ["access_key", "security_token"])
def test_signed_runs_load_exact_data(tmp_path: Path, kind: str) -> None:
    accepted = {"access_keys": {"AK1": "SK1"}}
    fields = {"access_key": "AK1", "secret_key": "SK1"}
    if kind == "security_token":
        accepted["security_tokens"] = ("ST1",)
        fields["security_token"] = "ST1"
    with SandboxServer(small_estate(), functions_page_cap=2, configs_page_cap=2, **accepted) as srv:
        loader = Loader(tmp_path, srv)
        loader.run(credentials=FunctionGraphCredentials(**fields))
        assert loader.query(CURRENT) == EXPECTED
        assert srv.auth_seen and all(seen.ok for seen in srv.auth_seen)


def test_wrong_secret_key_stops_at_once(tmp_path: Path) -> None:
    with SandboxServer(small_estate(), access_keys={"AK1": "SK1"}) as srv:
        loader = Loader(tmp_path, srv)
        summary = loader.run(
            credentials=FunctionGraphCredentials(access_key="AK1", secret_key="bad")
        )
        (failure,) = summary.failures
        assert "access_key rejected" in failure and "APIG.0301" in failure
        assert (summary.functions, summary.configs, summary.models) == (0, 0, [])
        assert len(srv.requests_seen) == 1
