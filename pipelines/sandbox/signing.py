"""The verifying half of `SDK-HMAC-SHA256` (AK/SK), written apart from the connector's signer.

The sandbox must not import the connector: if both sides shared one canonicalisation, a bug in
it would sign and verify identically and no test would ever see it. So this module re-derives
the rules from Huawei's SDK (`huaweicloudsdkcore.signer.signer.Signer`), and the sandbox's tests
check it against that SDK's own signatures:

- canonical URI: the sent path unquoted, split on `/`, each segment re-encoded with
  `quote(segment, safe="~")`, always ending in `/`;
- canonical query: the decoded (key, value) pairs sorted, each side encoded the same way,
  `key=value` joined by `&` (an empty value still gives `key=`);
- canonical headers: `name:value.strip()` plus a newline for each signed name, in the order the
  Authorization header lists them (lower-case, sorted by the signer);
- payload: the hex sha256 of the body, or the `X-Sdk-Content-Sha256` value standing in for it
  (an empty body always hashes as `b""`);
- string to sign: `SDK-HMAC-SHA256\\n{X-Sdk-Date}\\n{hex sha256 of the canonical request}`, and
  the signature is its hex HMAC-SHA256 keyed with the secret key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote, unquote

__all__ = [
    "ALGORITHM",
    "SDK_DATE_FORMAT",
    "canonical_request",
    "parse_authorization",
    "signature",
    "string_to_sign",
]

ALGORITHM = "SDK-HMAC-SHA256"
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_CONTENT_SHA256 = "x-sdk-content-sha256"


def _encode(text: str) -> str:
    return quote(text, safe="~")


def _canonical_uri(path: str) -> str:
    uri = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def _canonical_query(query: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in sorted(query))


def canonical_request(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    body: bytes,
) -> str:
    """The canonical request of what arrived: sent path, decoded query pairs, received headers.

    A signed header missing from `headers` raises ValueError: a verifier must not guess values.
    """
    values = {name.lower(): str(value).strip() for name, value in headers.items()}
    lines = []
    for name in signed_headers:
        value = values.get(name.lower())
        if value is None:
            raise ValueError(f"signed header {name!r} is not in the request")
        lines.append(f"{name}:{value}\n")
    # The SDK uses the declared value as it is (unstripped), and only for a non-empty body.
    declared = next((v for k, v in headers.items() if k.lower() == _CONTENT_SHA256), None)
    if not body:
        payload = _EMPTY_SHA256
    else:
        payload = str(declared) if declared else hashlib.sha256(body).hexdigest()
    return "\n".join(
        [
            method.upper(),
            _canonical_uri(path),
            _canonical_query(query),
            "".join(lines),
            ";".join(signed_headers),
            payload,
        ]
    )


def string_to_sign(canonical: str, sdk_date: str) -> str:
    """Algorithm, the `X-Sdk-Date` value and the hex sha256 of the canonical request."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def signature(secret_key: str, to_sign: str) -> str:
    """Hex HMAC-SHA256 of the string to sign, keyed with the secret key."""
    return hmac.new(secret_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def parse_authorization(value: str) -> tuple[str, list[str], str]:
    """(access key, signed header names, signature) of an Authorization value.

    Raises ValueError for another scheme or a missing part, so the gateway can answer 401.
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
