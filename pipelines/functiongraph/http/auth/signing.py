"""Huawei API Gateway `SDK-HMAC-SHA256` request signing (AK/SK), as the official SDK signs.

The rules mirror `huaweicloudsdkcore.signer.signer.Signer` byte for byte (the tests compare with
it), without pulling that SDK and its heavy dependencies into the runtime. The building blocks
(`canonical_request`, `string_to_sign`, `signature`, `parse_authorization`) take plain strings
and bytes, never `requests` objects, so the sandbox server verifies requests with the very same
code the client signs them with.

What the SDK does, and so what this module does:

- every header present is signed, except names containing `_` (gateways drop those);
- `X-Sdk-Date` and `Host` are added before signing, so both are always signed;
- a `Content-Type` other than JSON/BSON adds `X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD`, and that
  header then stands in for the body hash (an empty body always hashes as `b""`);
- the query is canonicalised from decoded `(key, value)` pairs sorted on the decoded text, each
  side re-encoded with `quote(..., safe="~")`; an empty value still gives `key=`;
- the canonical URI unquotes the sent path, splits it on `/`, re-encodes each segment the same
  way and always ends in `/` (signed only, never sent).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

import requests
from requests.structures import CaseInsensitiveDict

ALGORITHM = "SDK-HMAC-SHA256"
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

HEADER_DATE = "X-Sdk-Date"
HEADER_HOST = "Host"
HEADER_AUTHORIZATION = "Authorization"
HEADER_CONTENT_SHA256 = "X-Sdk-Content-Sha256"
HEADER_PROJECT_ID = "X-Project-Id"
HEADER_SECURITY_TOKEN = "X-Security-Token"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Content types whose body the SDK hashes; any other declared type is sent as UNSIGNED-PAYLOAD.
_HASHED_CONTENT_TYPES = ("application/json", "application/bson")


def _encode(text: str) -> str:
    """The one percent-encoding the SDK uses for path segments, query keys and query values."""
    return quote(text, safe="~")


def canonical_uri(path: str) -> str:
    """The signed form of a sent (percent-encoded) path.

    Like the SDK, the whole path is unquoted before splitting, so an encoded `%2F` splits a
    segment; the result always ends in `/` even though the sent path does not.
    """
    uri = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query_string(query: Iterable[tuple[str, str]]) -> str:
    """Decoded pairs, sorted on their decoded text (as the SDK sorts), encoded, `&`-joined.

    A repeated key keeps every value (ordered by value); an empty value gives `key=`.
    """
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in sorted(query))


def signed_header_names(headers: Iterable[str]) -> list[str]:
    """Lower-cased, sorted names of the headers to sign: all of them but names containing `_`."""
    return sorted({name.lower() for name in headers if "_" not in name})


def _get_ignore_case(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def payload_hash(headers: Mapping[str, str], body: bytes) -> str:
    """Hex sha256 of the body, or the `X-Sdk-Content-Sha256` value standing in for it."""
    if not body:
        return _EMPTY_SHA256
    declared = _get_ignore_case(headers, HEADER_CONTENT_SHA256)
    if declared:
        return declared
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    body: bytes,
) -> str:
    """The canonical request both sides hash: the SDK's six newline-joined parts.

    `path` is the path as sent (percent-encoded), `query` the decoded pairs, `signed_headers`
    the names in the order the signer listed them (lower-case, sorted). A signed header that is
    missing from `headers` raises ValueError: a verifier must not guess its value.
    """
    values = {name.lower(): str(value).strip() for name, value in headers.items()}
    lines = []
    for name in signed_headers:
        value = values.get(name.lower())
        if value is None:
            raise ValueError(f"signed header {name!r} is not in the request")
        lines.append(f"{name}:{value}\n")
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query_string(query),
            "".join(lines),
            ";".join(signed_headers),
            payload_hash(headers, body),
        ]
    )


def string_to_sign(canonical: str, sdk_date: str) -> str:
    """Algorithm, the `X-Sdk-Date` value, and the hex sha256 of the canonical request."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def signature(secret_key: str, to_sign: str) -> str:
    """Hex HMAC-SHA256 of the string to sign, keyed with the secret key."""
    return hmac.new(secret_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization_value(access_key: str, signed_headers: Sequence[str], sig: str) -> str:
    """The `Authorization` header value, in the SDK's exact spacing."""
    names = ";".join(signed_headers)
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={names}, Signature={sig}"


def parse_authorization(value: str) -> tuple[str, list[str], str]:
    """Split an `Authorization` value into (access key, signed header names, signature).

    Raises ValueError for another scheme or a missing part, so a verifier can answer 401.
    """
    scheme, _, rest = value.strip().partition(" ")
    if scheme != ALGORITHM:
        raise ValueError(f"authorization scheme is not {ALGORITHM}")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, part = item.strip().partition("=")
        if sep:
            parts[key] = part
    missing = [key for key in ("Access", "SignedHeaders", "Signature") if not parts.get(key)]
    if missing:
        raise ValueError(f"authorization lacks {', '.join(missing)}")
    return parts["Access"], parts["SignedHeaders"].split(";"), parts["Signature"]


def host_header(url: str) -> str:
    """`Host` for a URL: its netloc without user info, and without the port if it is the default."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    if parts.port is not None and parts.port == _DEFAULT_PORTS.get(parts.scheme.lower()):
        netloc = netloc.rpartition(":")[0]
    return netloc


def format_sdk_date(now: datetime) -> str:
    """`X-Sdk-Date` for a moment; a naive datetime is taken as UTC (as the SDK's utcnow is)."""
    if now.tzinfo is not None:
        now = now.astimezone(UTC)
    return now.strftime(SDK_DATE_FORMAT)


def _as_bytes(body: bytes | str | None) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    raise TypeError(f"cannot sign a streamed body ({type(body).__name__}); send bytes")


def sign_headers(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | str | None,
    *,
    access_key: str,
    secret_key: str,
    now: datetime,
) -> dict[str, str]:
    """The complete headers to send: the input ones plus `X-Sdk-Date`, `Host`, `Authorization`.

    Any `X-Sdk-Date` or `Authorization` already present (an earlier attempt) is replaced, never
    signed. Values are stripped as the SDK sends them. The query is read from `url` and signed
    decoded (`+` reads as a space), so send it as `canonical_query_string` writes it.
    """
    if not access_key or not secret_key:
        raise ValueError("access key and secret key are both required to sign a request")
    payload = _as_bytes(body)
    replaced = {HEADER_DATE.lower(), HEADER_AUTHORIZATION.lower()}
    out = {
        name: str(value).strip() for name, value in headers.items() if name.lower() not in replaced
    }
    content_type = _get_ignore_case(out, "Content-Type")
    if content_type and not content_type.startswith(_HASHED_CONTENT_TYPES):
        # The SDK does this too: the gateway does not hash bodies it may re-encode.
        existing = [name for name in out if name.lower() == HEADER_CONTENT_SHA256.lower()]
        for name in existing:
            del out[name]
        out[HEADER_CONTENT_SHA256] = UNSIGNED_PAYLOAD
    sdk_date = format_sdk_date(now)
    out[HEADER_DATE] = sdk_date
    if _get_ignore_case(out, HEADER_HOST) is None:
        out[HEADER_HOST] = host_header(url)

    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = signed_header_names(out)
    canonical = canonical_request(method, parts.path or "/", query, out, names, payload)
    sig = signature(secret_key, string_to_sign(canonical, sdk_date))
    out[HEADER_AUTHORIZATION] = authorization_value(access_key, names, sig)
    return out


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AkSkAuth:
    """AK/SK signing of each attempt, with the project (and temporary-credential token) headers.

    Signing happens in `apply`, per attempt, because a gateway rejects an `X-Sdk-Date` more than
    ~15 minutes off: a retry after a long backoff must carry a fresh date and signature.
    """

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        project_id: str,
        security_token: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if not access_key or not secret_key:
            raise ValueError("access key and secret key are both required for AK/SK signing")
        self._access_key = access_key
        self._secret_key = secret_key
        self._project_id = project_id
        self._security_token = security_token or None
        self._clock = clock
        # Temporary credentials are named apart: their expiry explains a 401 that a key can't.
        self.kind = "security_token" if self._security_token else "access_key"

    def __repr__(self) -> str:  # never show keys or tokens, even in a debugger or a traceback
        return f"AkSkAuth(kind={self.kind!r}, project_id={self._project_id!r}, keys=<redacted>)"

    def apply(self, request: requests.PreparedRequest) -> None:
        """Add the project/token headers, then sign; re-applying replaces the earlier signature.

        The query is rewritten in the SDK's canonical form (as the SDK sends it) so the gateway
        decodes exactly the pairs that were signed, whatever encoding built the URL.
        """
        url = request.url or ""
        headers: dict[str, str] = {}
        for name, value in (request.headers or {}).items():
            headers[name] = value.decode("utf-8") if isinstance(value, bytes) else value
        if self._project_id:  # the SDK, too, sends no empty project header
            _set_ignore_case(headers, HEADER_PROJECT_ID, self._project_id)
        if self._security_token is not None:
            _set_ignore_case(headers, HEADER_SECURITY_TOKEN, self._security_token)

        parts = urlsplit(url)
        query = canonical_query_string(parse_qsl(parts.query, keep_blank_values=True))
        url = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))
        signed = sign_headers(
            request.method or "GET",
            url,
            headers,
            request.body,
            access_key=self._access_key,
            secret_key=self._secret_key,
            now=self._clock(),
        )
        request.url = url
        request.headers = CaseInsensitiveDict(signed)


def _set_ignore_case(headers: dict[str, str], name: str, value: str) -> None:
    """Set a header, dropping any spelling of it already there (a dict is case-sensitive)."""
    for key in [key for key in headers if key.lower() == name.lower()]:
        del headers[key]
    headers[name] = value
