"""AK/SK signing, compared byte for byte with the official SDK's `Signer` (the reference).

The SDK's clock is frozen by swapping the `datetime` its signer module reads `utcnow()` from, so
it produces `X-Sdk-Date` itself and that value is compared too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
import requests
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer import signer as sdk_signer_module
from huaweicloudsdkcore.signer.signer import Signer

from pipelines.functiongraph.http.auth.signing import (
    SDK_DATE_FORMAT,
    AkSkAuth,
    canonical_query_string,
    canonical_request,
    parse_authorization,
    sign_headers,
    signature,
    string_to_sign,
)

AK = "HPUAEXAMPLEAK0000001"
SK = "sEcReT+kEy/ExAmPlE0000000000000000000000"
TOKEN = "gQpjbi1ub3J0aC00TEMPORARYTOKEN=="
PROJECT = "0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
HOST = "functiongraph.cn-north-4.myhuaweicloud.com"
URN = "urn:fss:cn-north-4:0123abcd:function:default:my-func"
URN_PATH = quote(URN, safe="")  # ':' -> %3A
ALIAS_PATH = quote(f"{URN}:!prod", safe="")  # '!' -> %21


@pytest.fixture
def frozen_sdk_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the SDK's `datetime.utcnow()` (naive UTC, as it reads it) return NOW."""

    class FrozenDatetime(datetime):
        @classmethod
        def utcnow(cls) -> datetime:  # type: ignore[override]
            return NOW.replace(tzinfo=None)

    monkeypatch.setattr(sdk_signer_module, "datetime", FrozenDatetime)


def sdk_sign(
    method: str,
    host: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    credentials: BasicCredentials | None = None,
) -> SdkRequest:
    request = SdkRequest(
        method=method,
        schema="https",
        host=host,
        resource_path=path,
        query_params=list(query),
        header_params=dict(headers),
        body=body,
    )
    if credentials is None:
        return Signer(BasicCredentials(AK, SK)).sign(request)
    return credentials.sign_request(request)  # adds X-Project-Id / X-Security-Token, then signs


CASES = [
    pytest.param(
        "GET",
        HOST,
        f"/v2/{PROJECT}/fgs/functions/{URN_PATH}/async-invoke-configs",
        [("marker", "0"), ("limit", "50")],
        {"Content-Type": "application/json"},
        b"",
        id="get-unqualified-urn",
    ),
    pytest.param(
        "GET",
        HOST,
        f"/v2/{PROJECT}/fgs/functions/{ALIAS_PATH}/async-invoke-configs",
        [],
        {},
        b"",
        id="get-alias-urn-no-query",
    ),
    pytest.param(
        "GET",
        HOST,
        f"/v2/{PROJECT}/fgs/functions/{quote('函数-café', safe='')}/aliases",
        [("func_name", "café ☕"), ("package_name", "默认")],
        {"Accept": "application/json"},
        b"",
        id="unicode-path-and-query",
    ),
    pytest.param(
        "GET",
        HOST,
        f"/v2/{PROJECT}/fgs/functions",
        [
            ("maxitems", "400"),
            ("marker", ""),
            ("a", "2"),
            ("Z", "last?"),
            ("a", "1"),
            ("a", "10"),
            ("b~", "~tilde"),
            ("sp", "a b+c/d&e=f"),
            ("é", "accent-key"),
        ],
        {},
        b"",
        id="odd-query-repeated-and-empty",
    ),
    pytest.param(
        "POST",
        HOST,
        f"/v2/{PROJECT}/fgs/functions/{URN_PATH}/async-invoke-config",
        [],
        {"Content-Type": "application/json;charset=UTF-8"},
        json.dumps({"max_async_event_age_in_seconds": 3600, "name": "ünï"}).encode(),
        id="post-json-body",
    ),
    pytest.param(
        "POST",
        HOST,
        f"/v2/{PROJECT}/fgs/functions/{URN_PATH}/async-invoke-config",
        [],
        {"Content-Type": "application/json", "Content-Length": "0"},
        b"",
        id="post-empty-body",
    ),
    pytest.param(
        "PUT",
        HOST,
        f"/v2/{PROJECT}/fgs/functions/{URN_PATH}/code",
        [],
        {"Content-Type": "text/plain"},
        b"not hashed: the SDK sends UNSIGNED-PAYLOAD",
        id="non-json-content-type",
    ),
    pytest.param(
        "GET",
        HOST,
        f"/v2/{PROJECT}/fgs/functions",
        [("limit", "5")],
        {"X-Custom-Padded": "  padded value \t", "User-Agent": " fgs-async-configs/0.1 "},
        b"",
        id="header-whitespace",
    ),
    pytest.param(
        "GET",
        HOST,
        f"/v2/{PROJECT}/fgs/functions/{URN_PATH}/versions",
        [],
        {"X-Project-Id": PROJECT, "x-security-TOKEN": TOKEN, "X_Not_Signed": "1"},
        b"",
        id="project-and-token-headers",
    ),
    pytest.param(
        "DELETE",
        "sandbox.local:8443",
        f"/v2/{PROJECT}/fgs/functions/{ALIAS_PATH}/async-invoke-config",
        [],
        {"Host": "sandbox.local:8443"},
        b"",
        id="explicit-host-with-port",
    ),
]


@pytest.mark.parametrize(("method", "host", "path", "query", "headers", "body"), CASES)
def test_sign_headers_matches_sdk(
    frozen_sdk_clock: None,
    method: str,
    host: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
) -> None:
    url = f"https://{host}{path}"
    if query:
        url += "?" + urlencode(query, quote_via=quote)
    ours = sign_headers(method, url, headers, body, access_key=AK, secret_key=SK, now=NOW)
    theirs = sdk_sign(method, host, path, query, headers, body)

    assert ours["X-Sdk-Date"] == theirs.header_params["X-Sdk-Date"] == "20260314T150926Z"
    assert ours["Authorization"] == theirs.header_params["Authorization"]
    assert ours == theirs.header_params  # every header, sent value and name spelling included
    # The SDK sends the canonical query; signing that URL gives the same result.
    assert canonical_query_string(query) == urlsplit(theirs.url).query


@pytest.mark.parametrize(("method", "host", "path", "query", "headers", "body"), CASES)
def test_building_blocks_match_sdk(
    frozen_sdk_clock: None,
    method: str,
    host: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
) -> None:
    """The pieces a verifier uses rebuild the SDK's canonical request and signature."""
    theirs = sdk_sign(method, host, path, query, headers, body)
    access, signed, sig = parse_authorization(theirs.header_params["Authorization"])
    assert access == AK

    canonical = canonical_request(method, path, query, theirs.header_params, signed, body)
    reference = Signer(BasicCredentials(AK, SK))
    sdk_request = SdkRequest(
        method=method,
        schema="https",
        host=host,
        resource_path=path,
        query_params=list(query),
        header_params=dict(theirs.header_params),
        body=body,
    )
    assert canonical == reference._process_canonical_request(sdk_request, signed)
    to_sign = string_to_sign(canonical, theirs.header_params["X-Sdk-Date"])
    assert signature(SK, to_sign) == sig


def test_url_query_encoding_does_not_change_signature() -> None:
    """`+`, `%20` and reordered pairs decode to the same pairs, so they sign the same."""
    base = f"https://{HOST}/v2/{PROJECT}/fgs/functions"
    a = sign_headers("GET", f"{base}?b=x+y&a=1", {}, None, access_key=AK, secret_key=SK, now=NOW)
    b = sign_headers("GET", f"{base}?a=1&b=x%20y", {}, None, access_key=AK, secret_key=SK, now=NOW)
    assert a["Authorization"] == b["Authorization"]


def test_naive_and_aware_now_agree() -> None:
    url = f"https://{HOST}/v2/{PROJECT}/fgs/functions"
    cet = timezone(timedelta(hours=1))
    signed = [
        sign_headers("GET", url, {}, b"", access_key=AK, secret_key=SK, now=moment)
        for moment in (NOW, NOW.replace(tzinfo=None), NOW.astimezone(cet))
    ]
    assert signed[0] == signed[1] == signed[2]
    assert signed[0]["X-Sdk-Date"] == NOW.strftime(SDK_DATE_FORMAT)


def test_host_drops_default_port_and_keeps_others() -> None:
    path = f"/v2/{PROJECT}/fgs/functions"
    for url, host in [
        (f"https://{HOST}:443{path}", HOST),
        (f"http://{HOST}:80{path}", HOST),
        (f"https://{HOST}:8443{path}", f"{HOST}:8443"),
        (f"http://[::1]:8080{path}", "[::1]:8080"),
    ]:
        out = sign_headers("GET", url, {}, b"", access_key=AK, secret_key=SK, now=NOW)
        assert out["Host"] == host


def test_wrong_secret_gives_different_signature() -> None:
    url = f"https://{HOST}/v2/{PROJECT}/fgs/functions/{URN_PATH}/async-invoke-configs"
    good = sign_headers("GET", url, {}, b"", access_key=AK, secret_key=SK, now=NOW)
    bad = sign_headers("GET", url, {}, b"", access_key=AK, secret_key=SK + "x", now=NOW)
    assert (
        parse_authorization(good["Authorization"])[2]
        != parse_authorization(bad["Authorization"])[2]
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Bearer abc",
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host",
        "SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature=00",
    ],
)
def test_parse_authorization_rejects_malformed(value: str) -> None:
    with pytest.raises(ValueError):
        parse_authorization(value)


def test_canonical_request_rejects_missing_signed_header() -> None:
    with pytest.raises(ValueError, match="x-project-id"):
        canonical_request("GET", "/v2", [], {"Host": HOST}, ["host", "x-project-id"], b"")


class Clock:
    def __init__(self, *moments: datetime) -> None:
        self._moments = list(moments)

    def __call__(self) -> datetime:
        return self._moments.pop(0)


def sdk_reference_for(prepared: requests.PreparedRequest) -> str:
    """What the SDK's credentials would put in Authorization for the request as it is sent."""
    parts = urlsplit(prepared.url)
    headers = {
        name: value
        for name, value in prepared.headers.items()
        if name.lower() not in {"authorization", "x-project-id", "x-security-token"}
    }
    credentials = BasicCredentials(AK, SK, PROJECT).with_security_token(TOKEN)
    signed = sdk_sign(
        prepared.method,
        parts.netloc,
        parts.path,
        parse_qsl(parts.query, keep_blank_values=True),
        headers,  # X-Sdk-Date is kept: the SDK signs with a date header it finds
        prepared.body or b"",
        credentials=credentials,
    )
    assert signed.url == prepared.url  # the SDK would send this very URL
    return signed.header_params["Authorization"]


def test_apply_signs_project_and_token_like_the_sdk() -> None:
    auth = AkSkAuth(AK, SK, PROJECT, security_token=TOKEN, clock=Clock(NOW))
    prepared = requests.Request(
        "GET",
        f"https://{HOST}/v2/{PROJECT}/fgs/functions/{URN_PATH}/async-invoke-configs",
        params={"marker": "", "limit": 50, "q": "a b"},
    ).prepare()
    auth.apply(prepared)

    assert auth.kind == "security_token"
    assert prepared.headers["X-Project-Id"] == PROJECT
    assert prepared.headers["X-Security-Token"] == TOKEN
    assert prepared.headers["X-Sdk-Date"] == "20260314T150926Z"
    assert prepared.headers["Host"] == HOST
    _, signed, _ = parse_authorization(prepared.headers["Authorization"])
    assert signed == ["host", "x-project-id", "x-sdk-date", "x-security-token"]
    assert urlsplit(prepared.url).query == "limit=50&marker=&q=a%20b"
    assert prepared.headers["Authorization"] == sdk_reference_for(prepared)


def test_apply_with_json_body_through_a_session_matches_sdk() -> None:
    """Session defaults (User-Agent, Accept, ...) are present at apply time, so they are signed."""
    auth = AkSkAuth(AK, SK, PROJECT, security_token=TOKEN, clock=Clock(NOW))
    with requests.Session() as session:
        prepared = session.prepare_request(
            requests.Request(
                "PUT",
                f"https://{HOST}/v2/{PROJECT}/fgs/functions/{ALIAS_PATH}/async-invoke-config",
                json={"max_retry_attempts": 2},
            )
        )
    auth.apply(prepared)
    _, signed, _ = parse_authorization(prepared.headers["Authorization"])
    assert {"content-type", "content-length", "user-agent"} <= set(signed)
    assert prepared.headers["Authorization"] == sdk_reference_for(prepared)


def test_reapply_replaces_date_and_signature() -> None:
    later = NOW + timedelta(minutes=20)
    auth = AkSkAuth(AK, SK, PROJECT, clock=Clock(NOW, later))
    prepared = requests.Request(
        "GET", f"https://{HOST}/v2/{PROJECT}/fgs/functions", params={"maxitems": 400}
    ).prepare()

    auth.apply(prepared)
    first_date = prepared.headers["X-Sdk-Date"]
    first_sig = parse_authorization(prepared.headers["Authorization"])[2]
    first_url = prepared.url
    auth.apply(prepared)

    assert auth.kind == "access_key"
    assert first_date == "20260314T150926Z"
    assert prepared.headers["X-Sdk-Date"] == "20260314T152926Z"
    assert parse_authorization(prepared.headers["Authorization"])[2] != first_sig
    assert [k for k in prepared.headers if k.lower() == "authorization"] == ["Authorization"]
    assert prepared.headers["Authorization"].count("SDK-HMAC-SHA256") == 1
    _, signed, _ = parse_authorization(prepared.headers["Authorization"])
    assert "authorization" not in signed
    assert signed == ["host", "x-project-id", "x-sdk-date"]
    assert prepared.url == first_url


def test_repr_hides_secrets() -> None:
    auth = AkSkAuth(AK, SK, PROJECT, security_token=TOKEN)
    text = repr(auth)
    assert SK not in text
    assert TOKEN not in text
    assert AK not in text
    assert PROJECT in text


def test_missing_keys_are_refused() -> None:
    with pytest.raises(ValueError):
        AkSkAuth("", SK, PROJECT)
    with pytest.raises(ValueError):
        sign_headers("GET", f"https://{HOST}/", {}, b"", access_key=AK, secret_key="", now=NOW)
