"""The sandbox checks credentials like Huawei's API gateway and IAM, over real HTTP on loopback.

Requests are signed by the connector's `AkSkAuth` and by the official SDK's signer, then sent
with `requests`; the server verifies them from what arrived on the wire. Time never passes for
real: both sides read an injected clock.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import requests
from huaweicloudsdkcore.auth.credentials import BasicCredentials, GlobalCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from pipelines.functiongraph.http.auth.signing import (
    AkSkAuth,
    authorization_value,
    canonical_request,
    parse_authorization,
    signature,
    signed_header_names,
    string_to_sign,
)
from pipelines.sandbox import Estate, SandboxServer, make_config_item, make_function_item
from pipelines.sandbox import signing as sandbox_signing

AK = "HPUASANDBOXAK0000001"
SK = "sAnDbOx+SeCrEt/kEy0000000000000000000000"
STS_TOKEN = "gQpjbi1ub3J0aC00STSTEMPORARYTOKEN=="
TEMP_AK = "HPUATEMPORARYAK00002"
TEMP_SK = "tEmP+SeCrEt/kEy000000000000000000000000"
TEMP_TOKEN = "gQpjbi1ub3J0aC00BOUNDTOTEMPKEY=="
STATIC_TOKEN = "static-token-4d2e"
DOMAIN = "acme-domain"
USER = "loader"
PASSWORD = "Pa55-w0rd!secret"
REGION = "cn-north-4"
REGION2 = "ap-southeast-1"
PID = "a" * 32
PID2 = "b" * 32
DOMAIN_ID = "d0d0" * 8
NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
SDK_NOW = "20260314T150926Z"
TTL = 3600
AKSK_PREFIX = "Incorrect IAM authentication information: verify aksk signature fail, "
APIG_1002 = {"error_code": "APIG.1002", "error_msg": "Incorrect token or token resolution failed"}
APIG_0307 = {"error_code": "APIG.0307", "error_msg": "The token must be updated"}
IAM_WRONG = {
    "error": {"code": 401, "message": "The username or password is wrong.", "title": "Unauthorized"}
}
SECRETS = (SK, STS_TOKEN, STATIC_TOKEN, PASSWORD, TEMP_SK, TEMP_TOKEN)


class Clock:
    """A settable UTC clock, shared by the signer and the server."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _urn(project_id: str, region: str, name: str) -> str:
    return f"urn:fss:{region}:{project_id}:function:default:{name}"


def _estate() -> Estate:
    estate = Estate()
    for pid, region in ((PID, REGION), (PID2, REGION2)):
        for name in ("f01", "f02"):
            urn = _urn(pid, region, name)
            item = make_function_item(region, pid, "default", name, domain_id=DOMAIN_ID)
            configs = [make_config_item(urn, version) for version in ("latest", "v1", "!prod")]
            estate.add_function(pid, item, configs)
    return estate


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(clock: Clock) -> Iterator[SandboxServer]:
    with SandboxServer(
        _estate(),
        tokens=(STATIC_TOKEN,),
        access_keys={AK: SK},
        security_tokens={STS_TOKEN},
        temporary_keys={TEMP_AK: (TEMP_SK, TEMP_TOKEN)},
        users={(DOMAIN, USER): PASSWORD},
        token_ttl_s=TTL,
        clock=clock,
    ) as srv:
        yield srv


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def _functions_url(srv: SandboxServer, project_id: str = PID) -> str:
    return f"{srv.url}/v2/{project_id}/fgs/functions"


def _configs_url(srv: SandboxServer, urn: str, project_id: str = PID) -> str:
    return f"{srv.url}/v2/{project_id}/fgs/functions/{quote(urn, safe='')}/async-invoke-configs"


def _prepare(
    session: requests.Session,
    url: str,
    auth: AkSkAuth | None = None,
    *,
    method: str = "GET",
    params: dict[str, Any] | None = None,
    **kwargs: Any,
) -> requests.PreparedRequest:
    prepared = session.prepare_request(requests.Request(method, url, params=params, **kwargs))
    if auth is not None:
        auth.apply(prepared)
    return prepared


def _signer(clock: Clock, **overrides: Any) -> AkSkAuth:
    args: dict[str, Any] = {
        "access_key": AK,
        "secret_key": SK,
        "project_id": PID,
        "clock": clock,
    }
    args.update(overrides)
    return AkSkAuth(**args)


def _resign(
    prepared: requests.PreparedRequest, names: list[str], secret_key: str = SK
) -> requests.PreparedRequest:
    """Re-sign an AkSkAuth-signed request over exactly `names`, with the pure helpers."""
    parts = urlsplit(prepared.url)
    headers = {k: v for k, v in prepared.headers.items() if k.lower() != "authorization"}
    body = prepared.body or b""
    body = body.encode() if isinstance(body, str) else body
    query = parse_qsl(parts.query, keep_blank_values=True)
    canonical = canonical_request(prepared.method or "GET", parts.path, query, headers, names, body)
    sig = signature(secret_key, string_to_sign(canonical, headers["X-Sdk-Date"]))
    prepared.headers["Authorization"] = authorization_value(AK, names, sig)
    return prepared


def _all_names(prepared: requests.PreparedRequest) -> list[str]:
    return signed_header_names(k for k in prepared.headers if k.lower() != "authorization")


def _assert_aksk_401(response: requests.Response, reason: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == {"error_code": "APIG.0301", "error_msg": AKSK_PREFIX + reason}
    for secret in SECRETS:
        assert secret not in response.text


def _password_body(
    password: str = PASSWORD,
    user: str = USER,
    domain: str = DOMAIN,
    scope: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "password": password, "domain": {"name": domain}}
                },
            },
            "scope": {"project": scope if scope is not None else {"id": PID}},
        }
    }


def _issue(
    srv: SandboxServer, session: requests.Session, **kwargs: Any
) -> tuple[requests.Response, str | None]:
    response = session.post(f"{srv.url}/v3/auth/tokens", json=_password_body(**kwargs))
    return response, response.headers.get("X-Subject-Token")


def _project(pid: str, region: str) -> dict[str, Any]:
    return {
        "id": pid,
        "name": region,
        "domain_id": DOMAIN_ID,
        "enabled": True,
        "is_domain": False,
        "parent_id": DOMAIN_ID,
        "description": "",
    }


ALL_PROJECTS = [_project(PID, REGION), _project(PID2, REGION2)]


# -- AK/SK: accepted -----------------------------------------------------------------------------


def test_aksk_signed_requests_are_served(
    server: SandboxServer, session: requests.Session, clock: Clock
) -> None:
    auth = _signer(clock)
    functions = session.send(_prepare(session, _functions_url(server), auth))
    assert functions.status_code == 200, functions.text
    assert functions.json()["functions"] == server.estate.functions(PID)

    urn = _urn(PID, REGION, "f01")
    configs = session.send(
        _prepare(session, _configs_url(server, urn), auth, params={"marker": 1, "limit": 2})
    )
    assert configs.status_code == 200, configs.text
    assert configs.json()["async_invoke_configs"] == (server.estate.configs(urn) or [])[1:3]
    assert server.auth_seen == [
        ("access_key", True, SDK_NOW, None),
        ("access_key", True, SDK_NOW, None),
    ]


def test_security_token_signed_is_served(
    server: SandboxServer, session: requests.Session, clock: Clock
) -> None:
    auth = _signer(clock, security_token=STS_TOKEN)
    response = session.send(_prepare(session, _functions_url(server), auth))
    assert response.status_code == 200, response.text
    assert [f["func_name"] for f in response.json()["functions"]] == ["f01", "f02"]
    assert [(a.kind, a.ok) for a in server.auth_seen] == [("security_token", True)]


def test_clock_skew_within_limit_is_accepted(
    server: SandboxServer, session: requests.Session, clock: Clock
) -> None:
    for offset in (-14 * 60, 14 * 60, 15 * 60):
        signer_clock = Clock(NOW + timedelta(seconds=offset))
        response = session.send(_prepare(session, _functions_url(server), _signer(signer_clock)))
        assert response.status_code == 200, (offset, response.text)


def test_signed_body_is_verified(
    server: SandboxServer, session: requests.Session, clock: Clock
) -> None:
    """The body's hash is part of the signature: the bytes that arrive are the ones hashed."""
    prepared = _prepare(session, _functions_url(server), _signer(clock), data=b'{"a": 1}')
    prepared.headers["Content-Type"] = "application/json"
    _resign(prepared, _all_names(prepared))
    assert session.send(prepared).status_code == 200

    prepared.body = b'{"a": 2}'  # same length, other bytes
    _assert_aksk_401(session.send(prepared), "signature does not match")


def test_official_sdk_signatures_are_accepted(session: requests.Session) -> None:
    """The SDK signs with the real time, so this server keeps the real clock."""
    with SandboxServer(
        _estate(), access_keys={AK: SK}, security_tokens=(STS_TOKEN,), tokens=()
    ) as srv:
        host = urlsplit(srv.url).netloc
        urn = _urn(PID, REGION, "f02")
        cases: list[tuple[BasicCredentials, str, list[tuple[str, Any]], Any]] = [
            (
                BasicCredentials(AK, SK, PID),
                f"/v2/{PID}/fgs/functions/{quote(urn, safe='')}/async-invoke-configs",
                [("marker", "0"), ("limit", "2")],
                lambda body: body["async_invoke_configs"] == (srv.estate.configs(urn) or [])[:2],
            ),
            (
                BasicCredentials(AK, SK, PID).with_security_token(STS_TOKEN),
                f"/v2/{PID}/fgs/functions",
                [("func_name", "f02"), ("package_name", "default"), ("marker", "")],
                lambda body: [f["func_urn"] for f in body["functions"]] == [urn],
            ),
            (
                BasicCredentials(AK, SK, PID),
                f"/v2/{PID}/fgs/functions",
                [("func_name", "café ☕ a+b/c")],
                lambda body: body["functions"] == [] and body["count"] == 0,
            ),
        ]
        for credentials, path, query, check in cases:
            request = SdkRequest(
                method="GET",
                schema="http",
                host=host,
                resource_path=path,
                query_params=list(query),
                header_params={"Content-Type": "application/json"},
                body=b"",
            )
            signed = credentials.sign_request(request)
            response = session.get(signed.url, headers=signed.header_params)
            assert response.status_code == 200, (path, response.text)
            assert check(response.json()), response.text

        # The SDK with a wrong secret key is refused all the same.
        request = SdkRequest(
            method="GET",
            schema="http",
            host=host,
            resource_path=f"/v2/{PID}/fgs/functions",
            query_params=[],
            header_params={},
            body=b"",
        )
        signed = BasicCredentials(AK, SK + "x", PID).sign_request(request)
        response = session.get(signed.url, headers=signed.header_params)
        _assert_aksk_401(response, "signature does not match")
        assert [(a.kind, a.ok) for a in srv.auth_seen] == [
            ("access_key", True),
            ("security_token", True),
            ("access_key", True),
            ("access_key", False),
        ]


def test_official_sdk_project_discovery(session: requests.Session) -> None:
    """What the SDK asks IAM to find a region's project: GET /v3/projects?name=, signed."""
    with SandboxServer(_estate(), access_keys={AK: SK}) as srv:
        request = SdkRequest(
            method="GET",
            schema="http",
            host=urlsplit(srv.url).netloc,
            resource_path="/v3/projects",
            query_params=[("name", REGION2)],
            header_params={"Content-Type": "application/json"},
            body=b"",
        )
        signed = GlobalCredentials(AK, SK, DOMAIN_ID).sign_request(request)
        response = session.get(signed.url, headers=signed.header_params)
    assert response.status_code == 200, response.text
    assert response.json() == {"projects": [_project(PID2, REGION2)]}


# -- AK/SK: refused ------------------------------------------------------------------------------


def _tampered_signature(srv: SandboxServer, s: requests.Session, c: Clock) -> requests.Response:
    prepared = _prepare(s, _functions_url(srv), _signer(c))
    access, names, sig = parse_authorization(prepared.headers["Authorization"])
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    prepared.headers["Authorization"] = authorization_value(access, names, flipped)
    return s.send(prepared)


def _wrong_secret(srv: SandboxServer, s: requests.Session, c: Clock) -> requests.Response:
    return s.send(_prepare(s, _functions_url(srv), _signer(c, secret_key=SK + "x")))


def _unknown_access_key(srv: SandboxServer, s: requests.Session, c: Clock) -> requests.Response:
    return s.send(_prepare(s, _functions_url(srv), _signer(c, access_key="HPUAUNKNOWNAK0000")))


def _unsigned(name: str) -> Callable[[SandboxServer, requests.Session, Clock], requests.Response]:
    def send(srv: SandboxServer, s: requests.Session, c: Clock) -> requests.Response:
        prepared = _prepare(s, _functions_url(srv), _signer(c, security_token=STS_TOKEN))
        return s.send(_resign(prepared, [n for n in _all_names(prepared) if n != name]))

    return send


def _project_header_added_after_signing(
    srv: SandboxServer, s: requests.Session, c: Clock
) -> requests.Response:
    prepared = _prepare(s, _functions_url(srv), _signer(c, project_id=""))
    assert "X-Project-Id" not in prepared.headers
    prepared.headers["X-Project-Id"] = PID
    return s.send(prepared)


def _token_header_added_after_signing(
    srv: SandboxServer, s: requests.Session, c: Clock
) -> requests.Response:
    prepared = _prepare(s, _functions_url(srv), _signer(c))
    prepared.headers["X-Security-Token"] = STS_TOKEN
    return s.send(prepared)


def _signed_header_missing(srv: SandboxServer, s: requests.Session, c: Clock) -> requests.Response:
    prepared = _prepare(s, _functions_url(srv), _signer(c), headers={"X-Trace": "t-1"})
    _resign(prepared, _all_names(prepared))
    del prepared.headers["X-Trace"]
    return s.send(prepared)


def _date_off(
    minutes: int,
) -> Callable[[SandboxServer, requests.Session, Clock], requests.Response]:
    def send(srv: SandboxServer, s: requests.Session, c: Clock) -> requests.Response:
        signer_clock = Clock(c.now + timedelta(minutes=minutes))
        return s.send(_prepare(s, _functions_url(srv), _signer(signer_clock)))

    return send


def _date_missing(srv: SandboxServer, s: requests.Session, c: Clock) -> requests.Response:
    prepared = _prepare(s, _functions_url(srv), _signer(c))
    del prepared.headers["X-Sdk-Date"]
    return s.send(prepared)


def _date_malformed(srv: SandboxServer, s: requests.Session, c: Clock) -> requests.Response:
    prepared = _prepare(s, _functions_url(srv), _signer(c))
    prepared.headers["X-Sdk-Date"] = "2026-03-14T15:09:26Z"
    return s.send(_resign(prepared, _all_names(prepared)))


def _project_mismatch(srv: SandboxServer, s: requests.Session, c: Clock) -> requests.Response:
    return s.send(_prepare(s, _functions_url(srv), _signer(c, project_id=PID2)))


def _unknown_security_token(srv: SandboxServer, s: requests.Session, c: Clock) -> requests.Response:
    auth = _signer(c, security_token="gQpjbi1ub3J0aC00UNKNOWN==")
    return s.send(_prepare(s, _functions_url(srv), auth))


def _query_changed(srv: SandboxServer, s: requests.Session, c: Clock) -> requests.Response:
    prepared = _prepare(s, _functions_url(srv), _signer(c), params={"marker": 0, "maxitems": 1})
    prepared.url = (prepared.url or "").replace("marker=0", "marker=1")
    return s.send(prepared)


def _path_changed(srv: SandboxServer, s: requests.Session, c: Clock) -> requests.Response:
    prepared = _prepare(s, _configs_url(srv, _urn(PID, REGION, "f01")), _signer(c))
    prepared.url = (prepared.url or "").replace("f01", "f02")
    return s.send(prepared)


def _header_value_changed(srv: SandboxServer, s: requests.Session, c: Clock) -> requests.Response:
    prepared = _prepare(s, _functions_url(srv), _signer(c), headers={"User-Agent": "ua/1"})
    prepared.headers["User-Agent"] = "ua/2"
    return s.send(prepared)


def _malformed_authorization(
    srv: SandboxServer, s: requests.Session, c: Clock
) -> requests.Response:
    prepared = _prepare(s, _functions_url(srv), _signer(c))
    prepared.headers["Authorization"] = f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host"
    return s.send(prepared)


REFUSALS = [
    pytest.param(_tampered_signature, "signature does not match", id="tampered-signature"),
    pytest.param(_wrong_secret, "signature does not match", id="wrong-secret-key"),
    pytest.param(_unknown_access_key, "access key not found", id="unknown-access-key"),
    pytest.param(_unsigned("host"), "header host is not signed", id="host-unsigned"),
    pytest.param(
        _unsigned("x-sdk-date"), "header x-sdk-date is not signed", id="sdk-date-unsigned"
    ),
    pytest.param(
        _unsigned("x-project-id"), "header x-project-id is not signed", id="project-unsigned"
    ),
    pytest.param(
        _unsigned("x-security-token"),
        "header x-security-token is not signed",
        id="security-token-unsigned",
    ),
    pytest.param(
        _project_header_added_after_signing,
        "header x-project-id is not signed",
        id="project-header-added-after-signing",
    ),
    pytest.param(
        _token_header_added_after_signing,
        "header x-security-token is not signed",
        id="security-token-added-after-signing",
    ),
    pytest.param(
        _signed_header_missing,
        "signed header x-trace is not in the request",
        id="signed-header-missing",
    ),
    pytest.param(_date_off(-16), "x-sdk-date is 16 minutes from server time", id="date-16m-behind"),
    pytest.param(_date_off(20), "x-sdk-date is 20 minutes from server time", id="date-20m-ahead"),
    pytest.param(_date_missing, "header x-sdk-date is missing", id="date-missing"),
    pytest.param(
        _date_malformed,
        "x-sdk-date is not in the format YYYYMMDDTHHMMSSZ",
        id="date-malformed",
    ),
    pytest.param(
        _project_mismatch,
        "x-project-id does not match the project in the path",
        id="project-mismatch",
    ),
    pytest.param(
        _unknown_security_token,
        "security token is invalid or expired",
        id="unknown-security-token",
    ),
    pytest.param(_query_changed, "signature does not match", id="query-changed"),
    pytest.param(_path_changed, "signature does not match", id="path-changed"),
    pytest.param(_header_value_changed, "signature does not match", id="header-value-changed"),
    pytest.param(
        _malformed_authorization, "authorization header is malformed", id="malformed-header"
    ),
]


@pytest.mark.parametrize(("send", "reason"), REFUSALS)
def test_bad_signatures_are_refused(
    send: Callable[[SandboxServer, requests.Session, Clock], requests.Response],
    reason: str,
    server: SandboxServer,
    session: requests.Session,
    clock: Clock,
) -> None:
    _assert_aksk_401(send(server, session, clock), reason)
    (attempt,) = server.auth_seen
    assert not attempt.ok
    assert attempt.kind in ("access_key", "security_token")
    assert attempt.reason == reason


def test_resigning_over_every_header_is_accepted(
    server: SandboxServer, session: requests.Session, clock: Clock
) -> None:
    """The control for the refusals: `_resign` itself produces valid signatures."""
    prepared = _prepare(session, _functions_url(server), _signer(clock, security_token=STS_TOKEN))
    original = prepared.headers["Authorization"]
    _resign(prepared, _all_names(prepared))
    assert prepared.headers["Authorization"] == original
    assert session.send(prepared).status_code == 200

    prepared = _prepare(session, _functions_url(server), _signer(clock), headers={"X-Trace": "1"})
    assert session.send(_resign(prepared, _all_names(prepared))).status_code == 200


def test_project_header_may_be_absent(
    server: SandboxServer, session: requests.Session, clock: Clock
) -> None:
    """X-Project-Id is optional (the path names the project); it is checked only when sent."""
    prepared = _prepare(session, _functions_url(server, PID2), _signer(clock, project_id=""))
    assert "X-Project-Id" not in prepared.headers
    response = session.send(prepared)
    assert response.status_code == 200, response.text
    assert [f["namespace"] for f in response.json()["functions"]] == [PID2, PID2]


def test_skew_follows_the_server_clock(
    server: SandboxServer, session: requests.Session, clock: Clock
) -> None:
    """A request signed now goes stale when the server's clock moves 16 minutes on."""
    prepared = _prepare(session, _functions_url(server), _signer(clock))
    assert session.send(prepared).status_code == 200
    clock.advance(16 * 60)
    _assert_aksk_401(session.send(prepared), "x-sdk-date is 16 minutes from server time")


def test_auth_seen_records_each_attempt_and_its_date(
    server: SandboxServer, session: requests.Session, clock: Clock
) -> None:
    """Faulted attempts are checked and recorded too, so re-signing on retry is observable."""
    server.faults.inject(path_contains="/fgs/functions", status=429, times=2)
    auth = _signer(clock)
    prepared = _prepare(session, _functions_url(server))
    statuses = []
    for _ in range(3):  # a client re-signing each attempt, a minute apart
        auth.apply(prepared)
        statuses.append(session.send(prepared).status_code)
        clock.advance(60)
    assert statuses == [429, 429, 200]
    assert server.auth_seen == [
        ("access_key", True, "20260314T150926Z", None),
        ("access_key", True, "20260314T151026Z", None),
        ("access_key", True, "20260314T151126Z", None),
    ]
    server.clear_auth_seen()
    assert server.auth_seen == []


# -- temporary AK/SK -----------------------------------------------------------------------------


def _temporary(clock: Clock, **overrides: Any) -> AkSkAuth:
    return _signer(clock, access_key=TEMP_AK, secret_key=TEMP_SK, **overrides)


def test_temporary_key_with_its_token_is_served(
    server: SandboxServer, session: requests.Session, clock: Clock
) -> None:
    auth = _temporary(clock, security_token=TEMP_TOKEN)
    response = session.send(_prepare(session, _functions_url(server), auth))
    assert response.status_code == 200, response.text
    assert response.json()["functions"] == server.estate.functions(PID)
    assert server.auth_seen == [("security_token", True, SDK_NOW, None)]


TEMPORARY_REFUSALS = [
    pytest.param(
        {},
        "header x-security-token is missing for a temporary access key",
        id="without-token",
    ),
    pytest.param(
        {"security_token": STS_TOKEN},  # valid for permanent keys, not bound to this one
        "security token is invalid or expired",
        id="another-valid-token",
    ),
    pytest.param(
        {"security_token": TEMP_TOKEN + "x"},
        "security token is invalid or expired",
        id="wrong-token",
    ),
]


@pytest.mark.parametrize(("overrides", "reason"), TEMPORARY_REFUSALS)
def test_temporary_key_needs_its_own_token(
    overrides: dict[str, str],
    reason: str,
    server: SandboxServer,
    session: requests.Session,
    clock: Clock,
) -> None:
    """The signature is right in every case: only the token is missing or not the bound one."""
    response = session.send(
        _prepare(session, _functions_url(server), _temporary(clock, **overrides))
    )
    _assert_aksk_401(response, reason)
    (attempt,) = server.auth_seen
    assert (attempt.ok, attempt.reason) == (False, reason)


def test_temporary_token_added_after_signing_is_refused(
    server: SandboxServer, session: requests.Session, clock: Clock
) -> None:
    prepared = _prepare(session, _functions_url(server), _temporary(clock))
    prepared.headers["X-Security-Token"] = TEMP_TOKEN
    _assert_aksk_401(session.send(prepared), "header x-security-token is not signed")


def test_official_sdk_temporary_credentials(session: requests.Session) -> None:
    with SandboxServer(
        _estate(), temporary_keys={TEMP_AK: (TEMP_SK, TEMP_TOKEN)}, tokens=()
    ) as srv:
        statuses = []
        for credentials in (
            BasicCredentials(TEMP_AK, TEMP_SK, PID).with_security_token(TEMP_TOKEN),
            BasicCredentials(TEMP_AK, TEMP_SK, PID),
        ):
            request = SdkRequest(
                method="GET",
                schema="http",
                host=urlsplit(srv.url).netloc,
                resource_path=f"/v2/{PID}/fgs/functions",
                query_params=[],
                header_params={"Content-Type": "application/json"},
                body=b"",
            )
            signed = credentials.sign_request(request)
            response = session.get(signed.url, headers=signed.header_params)
            statuses.append(response.status_code)
            for secret in SECRETS:
                assert secret not in response.text
    assert statuses == [200, 401]


def test_temporary_keys_validate() -> None:
    with pytest.raises(ValueError, match="permanent or temporary"):
        SandboxServer(Estate(), access_keys={AK: SK}, temporary_keys={AK: (SK, TEMP_TOKEN)})
    with pytest.raises(ValueError, match="security token"):
        SandboxServer(Estate(), temporary_keys={TEMP_AK: (TEMP_SK, "")})


# -- the sandbox verifies on its own -------------------------------------------------------------


def test_sandbox_never_imports_the_connector() -> None:
    """A verifier sharing the client's signing code would accept the client's bugs."""
    code = (
        "import sys, pipelines.sandbox, pipelines.sandbox.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('pipelines.functiongraph')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


SDK_CASES = [
    pytest.param(
        f"/v2/{PID}/fgs/functions/{quote(_urn(PID, REGION, 'f01') + ':!prod', safe='')}/x",
        [("marker", "0"), ("limit", "50")],
        {"Content-Type": "application/json"},
        b"",
        id="alias-urn",
    ),
    pytest.param(
        f"/v2/{PID}/fgs/functions/{quote('函数-café', safe='')}/aliases",
        [("func_name", "café ☕"), ("package_name", "默认"), ("a", "2"), ("a", "1"), ("e", "")],
        {"Accept": "application/json", "X-Padded": "  padded \t"},
        b"",
        id="unicode-repeated-empty-padded",
    ),
    pytest.param(
        f"/v2/{PID}/fgs/functions",
        [("sp", "a b+c/d&e=f"), ("b~", "~tilde")],
        {"Content-Type": "application/json;charset=UTF-8", "X-Project-Id": PID},
        b'{"name": "\xc3\xbcn\xc3\xaf"}',
        id="json-body",
    ),
    pytest.param(
        f"/v2/{PID}/fgs/functions",
        [],
        {"Content-Type": "text/plain", "X-Security-Token": STS_TOKEN},
        b"not hashed: UNSIGNED-PAYLOAD",
        id="unsigned-payload",
    ),
]


@pytest.mark.parametrize(("path", "query", "headers", "body"), SDK_CASES)
def test_sandbox_signing_matches_the_sdk(
    path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes
) -> None:
    request = SdkRequest(
        method="POST",
        schema="https",
        host="functiongraph.cn-north-4.myhuaweicloud.com",
        resource_path=path,
        query_params=list(query),
        header_params=dict(headers),
        body=body,
    )
    signed = Signer(BasicCredentials(AK, SK)).sign(request)
    access, names, sent = sandbox_signing.parse_authorization(signed.header_params["Authorization"])
    assert access == AK
    canonical = sandbox_signing.canonical_request(
        "POST", path, query, signed.header_params, names, body
    )
    to_sign = sandbox_signing.string_to_sign(canonical, signed.header_params["X-Sdk-Date"])
    assert sandbox_signing.signature(SK, to_sign) == sent


# -- tokens --------------------------------------------------------------------------------------


def test_password_token_is_issued_and_usable(
    server: SandboxServer, session: requests.Session
) -> None:
    response, token = _issue(server, session)
    assert response.status_code == 201, response.text
    assert token and token.startswith("MII")
    body = response.json()["token"]
    assert body["issued_at"] == "2026-03-14T15:09:26.000000Z"
    assert body["expires_at"] == "2026-03-14T16:09:26.000000Z"
    assert body["methods"] == ["password"]
    assert body["project"]["id"] == PID
    assert body["project"]["name"] == REGION
    assert body["user"]["name"] == USER
    assert body["user"]["domain"]["name"] == DOMAIN
    assert token not in response.text
    assert PASSWORD not in response.text
    assert server.tokens_issued == 1

    listed = session.get(_functions_url(server), headers={"X-Auth-Token": token})
    assert listed.status_code == 200, listed.text
    assert listed.json()["functions"] == server.estate.functions(PID)
    assert token not in listed.text
    # Tokens are opaque and distinct.
    _, second = _issue(server, session)
    assert second and second != token
    assert server.tokens_issued == 2
    assert [(a.kind, a.ok) for a in server.auth_seen] == [
        ("password", True),
        ("token", True),
        ("password", True),
    ]


def test_password_token_scoped_by_project_name(
    server: SandboxServer, session: requests.Session
) -> None:
    response, token = _issue(server, session, scope={"name": REGION2})
    assert response.status_code == 201, response.text
    assert response.json()["token"]["project"]["id"] == PID2
    assert token
    ok = session.get(_functions_url(server, PID2), headers={"X-Auth-Token": token})
    assert ok.status_code == 200
    # The token is scoped: another project of the estate is not reachable with it.
    other = session.get(_functions_url(server, PID), headers={"X-Auth-Token": token})
    assert other.status_code == 403
    assert other.json()["error_code"] == "FSS.0403"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"password": "bad-guess-7"},
        {"password": PASSWORD.upper()},
        {"user": "nobody"},
        {"domain": "other-domain"},
    ],
    ids=["wrong-password", "password-case", "unknown-user", "wrong-domain"],
)
def test_wrong_credentials_get_iam_401(
    kwargs: dict[str, str], server: SandboxServer, session: requests.Session
) -> None:
    response, token = _issue(server, session, **kwargs)
    assert response.status_code == 401
    assert response.json() == IAM_WRONG
    assert token is None
    assert server.tokens_issued == 0
    assert PASSWORD not in response.text
    assert "bad-guess-7" not in response.text
    assert server.auth_seen == [("password", False, None, "username or password is wrong")]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (json.dumps({"auth": {}}).encode(), 400),
        (json.dumps(_password_body(scope={})).encode(), 400),
        (
            json.dumps(
                {**_password_body(), "auth": {**_password_body()["auth"], "scope": None}}
            ).encode(),
            400,
        ),
        (json.dumps(_password_body(scope={"id": "f" * 32})).encode(), 404),
        (json.dumps(_password_body(scope={"name": "eu-west-0"})).encode(), 404),
    ],
    ids=["not-json", "no-identity", "empty-scope", "null-scope", "unknown-id", "unknown-name"],
)
def test_bad_token_requests_get_iam_errors(
    body: bytes, status: int, server: SandboxServer, session: requests.Session
) -> None:
    response = session.post(
        f"{server.url}/v3/auth/tokens", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status
    assert error["title"] == {400: "Bad Request", 404: "Not Found"}[status]
    assert "X-Subject-Token" not in response.headers
    assert server.tokens_issued == 0


def test_token_expires_after_its_ttl(
    server: SandboxServer, session: requests.Session, clock: Clock
) -> None:
    _, token = _issue(server, session)
    assert token
    headers = {"X-Auth-Token": token}
    clock.advance(TTL - 1)
    assert session.get(_functions_url(server), headers=headers).status_code == 200
    clock.advance(1)
    expired = session.get(_functions_url(server), headers=headers)
    assert expired.status_code == 401
    assert expired.json() == APIG_0307
    assert token not in expired.text
    # Static tokens never expire.
    static = session.get(_functions_url(server), headers={"X-Auth-Token": STATIC_TOKEN})
    assert static.status_code == 200


def test_expire_tokens_then_reauthenticate(
    server: SandboxServer, session: requests.Session
) -> None:
    _, token = _issue(server, session)
    assert token
    url = _configs_url(server, _urn(PID, REGION, "f02"))
    assert session.get(url, headers={"X-Auth-Token": token}).status_code == 200
    server.expire_tokens()
    stale = session.get(url, headers={"X-Auth-Token": token})
    assert stale.status_code == 401
    assert stale.json() == APIG_0307
    assert session.get(url, headers={"X-Auth-Token": STATIC_TOKEN}).status_code == 200

    _, fresh = _issue(server, session)  # what a client does on 401: get a new token, retry
    assert fresh and fresh != token
    assert session.get(url, headers={"X-Auth-Token": fresh}).status_code == 200
    assert session.get(url, headers={"X-Auth-Token": token}).status_code == 401
    assert server.tokens_issued == 2


@pytest.mark.parametrize("headers", [{}, {"X-Auth-Token": "MIInot-issued"}, {"X-Auth-Token": ""}])
def test_missing_or_unknown_token_is_apig_1002(
    headers: dict[str, str], server: SandboxServer, session: requests.Session
) -> None:
    response = session.get(_functions_url(server), headers=headers)
    assert response.status_code == 401
    assert response.json() == APIG_1002
    assert "not-issued" not in response.text


def test_token_endpoint_is_post_only(server: SandboxServer, session: requests.Session) -> None:
    response = session.get(f"{server.url}/v3/auth/tokens", headers={"X-Auth-Token": STATIC_TOKEN})
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json()["error"]["code"] == 405


# -- projects ------------------------------------------------------------------------------------


def test_projects_with_issued_token(server: SandboxServer, session: requests.Session) -> None:
    _, token = _issue(server, session)
    assert token
    response = session.get(f"{server.url}/v3/auth/projects", headers={"X-Auth-Token": token})
    assert response.status_code == 200, response.text
    assert response.json() == {"projects": ALL_PROJECTS}


@pytest.mark.parametrize("project_id", ["", PID], ids=["no-project-header", "project-header"])
def test_projects_with_aksk(
    project_id: str, server: SandboxServer, session: requests.Session, clock: Clock
) -> None:
    auth = _signer(clock, project_id=project_id)
    response = session.send(_prepare(session, f"{server.url}/v3/auth/projects", auth))
    assert response.status_code == 200, response.text
    assert response.json() == {"projects": ALL_PROJECTS}
    filtered = session.send(
        _prepare(session, f"{server.url}/v3/projects", auth, params={"name": REGION})
    )
    assert filtered.json() == {"projects": [_project(PID, REGION)]}
    assert [(a.kind, a.ok) for a in server.auth_seen] == [("access_key", True)] * 2


def test_projects_need_credentials(
    server: SandboxServer, session: requests.Session, clock: Clock
) -> None:
    url = f"{server.url}/v3/auth/projects"
    anonymous = session.get(url)
    assert anonymous.status_code == 401
    assert anonymous.json() == APIG_1002
    bad = session.send(_prepare(session, url, _signer(clock, secret_key="not-the-key")))
    _assert_aksk_401(bad, "signature does not match")
    server.expire_tokens()  # nothing issued yet: a no-op
    _, token = _issue(server, session)
    assert token
    server.expire_tokens()
    assert session.get(url, headers={"X-Auth-Token": token}).json() == APIG_0307


# -- hygiene -------------------------------------------------------------------------------------


def test_nothing_secret_is_logged(
    capfd: pytest.CaptureFixture[str], session: requests.Session, clock: Clock
) -> None:
    with SandboxServer(
        _estate(),
        tokens=(STATIC_TOKEN,),
        access_keys={AK: SK},
        security_tokens=(STS_TOKEN,),
        users={(DOMAIN, USER): PASSWORD},
        clock=clock,
        verbose=True,
    ) as srv:
        good = _prepare(session, _functions_url(srv), _signer(clock, security_token=STS_TOKEN))
        signatures = [parse_authorization(good.headers["Authorization"])[2]]
        assert session.send(good).status_code == 200
        bad = _prepare(session, _functions_url(srv), _signer(clock, secret_key=SK + "x"))
        signatures.append(parse_authorization(bad.headers["Authorization"])[2])
        assert session.send(bad).status_code == 401
        _, token = _issue(srv, session)
        assert token
        session.get(_functions_url(srv), headers={"X-Auth-Token": token})
        _issue(srv, session, password="guess-" + PASSWORD)
        assert [a.ok for a in srv.auth_seen] == [True, False, True, True, False]
        records = repr(srv.auth_seen) + repr(srv.iam)
    err = capfd.readouterr().err
    assert "POST /v3/auth/tokens" in err  # verbose logging is on
    for text in (err, records):
        for secret in (*SECRETS, token, *signatures):
            assert secret not in text


def test_constructor_validates() -> None:
    with pytest.raises(ValueError):
        SandboxServer(Estate(), token_ttl_s=0)
    with pytest.raises(ValueError):
        SandboxServer(Estate(), max_clock_skew_s=-1)


def test_authenticate_works_on_plain_values(server: SandboxServer, clock: Clock) -> None:
    """`authenticate` needs only the method, raw target, headers and body (no socket)."""
    host = urlsplit(server.url).netloc
    prepared = requests.Request("GET", f"http://{host}/v2/{PID}/fgs/functions?maxitems=5").prepare()
    _signer(clock).apply(prepared)
    target = prepared.path_url or ""
    headers = dict(prepared.headers)
    assert server.authenticate("GET", target, headers)
    assert not server.authenticate("POST", target, headers)  # the method is signed
    assert not server.authenticate("GET", target + "&x=1", headers)
    assert server.authenticate("GET", target, {"X-Auth-Token": STATIC_TOKEN}).kind == "token"
