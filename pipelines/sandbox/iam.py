"""Credentials the sandbox accepts, checked the way Huawei's API gateway (APIG) and IAM check them.

`Iam` holds the keys, users and tokens of one sandbox and answers two questions:

- is this request authenticated? (`verify`): an `X-Auth-Token` (a static one, or one IAM issued
  and not yet expired) or an `SDK-HMAC-SHA256` signature, recomputed from what arrived on the wire
  (method, raw path, raw query, received header values, body bytes) with the sandbox's own
  `signing` module (never the connector's signer, which it is there to test), checked against
  Huawei's SDK;
- may this user have a token? (`issue_token`): the password method of `POST /v3/auth/tokens`.

Failures carry the gateway's error codes: APIG.1002 (no or unknown token), APIG.0307 (expired
token), APIG.0301 (AK/SK: unknown key, bad signature, unsigned header, clock skew, bad security
token, a temporary key sent without the security token it was issued with, project mismatch) with
the specific reason after the comma. No body, reason or record ever holds a secret key, a
signature, a password or a token; issued tokens are even kept only as hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple
from urllib.parse import parse_qsl

from .signing import (
    ALGORITHM,
    SDK_DATE_FORMAT,
    canonical_request,
    parse_authorization,
    signature,
    string_to_sign,
)

__all__ = [
    "AuthAttempt",
    "AuthKind",
    "AuthResult",
    "Iam",
    "IamReply",
    "ProjectInfo",
]

AuthKind = Literal["none", "token", "access_key", "security_token", "password"]

TOKEN_INVALID = ("APIG.1002", "Incorrect token or token resolution failed")
TOKEN_EXPIRED = ("APIG.0307", "The token must be updated")
AKSK_INVALID = "APIG.0301"
_AKSK_PREFIX = "Incorrect IAM authentication information: verify aksk signature fail, "
_IAM_WRONG_PASSWORD = "The username or password is wrong."

_SDK_DATE_RE = re.compile(r"\d{8}T\d{6}Z")
_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")
_UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# Headers that, when present, must be covered by the signature (host and the date always are).
_SIGNED_IF_PRESENT = ("x-project-id", "x-security-token")


class AuthAttempt(NamedTuple):
    """One authentication check as `SandboxServer.auth_seen` records it (never a secret).

    `kind` is "none" (no credentials), "token" (X-Auth-Token), "access_key" / "security_token"
    (signed, without / with X-Security-Token) or "password" (POST /v3/auth/tokens). `sdk_date`
    is the X-Sdk-Date a signed request carried (None otherwise, or when it had none); `reason`
    says why a check failed.
    """

    kind: AuthKind
    ok: bool
    sdk_date: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class AuthResult:
    """The outcome of `Iam.verify`; truthy when the request may proceed.

    `project_id` is the project an IAM-issued token is scoped to (None: any project).
    """

    ok: bool
    kind: AuthKind
    status: int = 200
    error_code: str | None = None
    error_msg: str | None = None
    project_id: str | None = None
    sdk_date: str | None = None
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.ok


class ProjectInfo(NamedTuple):
    """A project as IAM describes it: the sandbox names each project after its region."""

    project_id: str
    region: str
    domain_id: str


@dataclass(frozen=True)
class IamReply:
    """What an IAM endpoint answers: status, JSON payload and extra response headers."""

    status: int
    payload: Any
    headers: Mapping[str, str]


@dataclass
class _Issued:
    project_id: str
    issued_at: datetime
    expires_at: datetime


class _IamError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_TITLES = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}


def iam_error(status: int, message: str) -> dict[str, Any]:
    """IAM's own error shape (not the gateway's `error_code`/`error_msg`)."""
    return {"error": {"code": status, "message": message, "title": _TITLES.get(status, "Error")}}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _rfc3339(moment: datetime) -> str:
    """IAM's timestamp format: UTC with microseconds and a `Z`."""
    return _aware(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _received(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased header names to the first value received under that name."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        out.setdefault(name.lower(), value)
    return out


def _describe(seconds: float) -> str:
    if seconds >= 60:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    whole = int(seconds)
    return f"{whole} second{'s' if whole != 1 else ''}"


class Iam:
    """Access keys, security tokens, users and issued tokens of one sandbox; thread-safe."""

    def __init__(
        self,
        *,
        access_keys: Mapping[str, str] | None = None,
        security_tokens: Iterable[str] = (),
        temporary_keys: Mapping[str, tuple[str, str]] | None = None,
        users: Mapping[tuple[str, str], str] | None = None,
        token_ttl_s: float = 86400,
        clock: Callable[[], datetime] = _utc_now,
        max_clock_skew_s: float = 900,
    ) -> None:
        """`access_keys` maps a permanent AK to its SK; such a key may also send any of
        `security_tokens` (checked when present). `temporary_keys` maps a temporary AK to
        (SK, security token): like the gateway, it accepts that AK only with exactly that
        `X-Security-Token`, signed, so a client that drops or swaps the token is refused.
        """
        if token_ttl_s <= 0:
            raise ValueError("token_ttl_s must be positive")
        if max_clock_skew_s < 0:
            raise ValueError("max_clock_skew_s must not be negative")
        self._access_keys = dict(access_keys or {})
        self._temporary_keys: dict[str, tuple[str, str]] = {}
        for access_key, pair in (temporary_keys or {}).items():
            secret_key, token = pair
            if not access_key or not secret_key or not token:
                raise ValueError("a temporary key needs an AK, an SK and a security token")
            if access_key in self._access_keys:
                raise ValueError("an access key is either permanent or temporary, not both")
            self._temporary_keys[access_key] = (secret_key, token)
        self._security_tokens = tuple(security_tokens)
        self._users = dict(users or {})
        self.token_ttl_s = token_ttl_s
        self.clock = clock
        self.max_clock_skew_s = max_clock_skew_s
        self._lock = threading.Lock()
        self._issued: dict[str, _Issued] = {}  # sha256(token) -> scope and expiry
        self._tokens_issued = 0
        self._seen: list[AuthAttempt] = []

    def __repr__(self) -> str:  # keys, passwords and tokens stay out of reprs and tracebacks
        return (
            f"Iam(access_keys={len(self._access_keys)}, "
            f"temporary_keys={len(self._temporary_keys)}, users={len(self._users)}, "
            f"tokens_issued={self.tokens_issued})"
        )

    def now(self) -> datetime:
        return _aware(self.clock())

    # -- observation ---------------------------------------------------------------------------

    @property
    def auth_seen(self) -> list[AuthAttempt]:
        with self._lock:
            return list(self._seen)

    def clear_auth_seen(self) -> None:
        with self._lock:
            self._seen.clear()

    @property
    def tokens_issued(self) -> int:
        with self._lock:
            return self._tokens_issued

    def expire_tokens(self) -> None:
        """Make every token issued so far expire now (static tokens never expire)."""
        now = self.now()
        with self._lock:
            for issued in self._issued.values():
                issued.expires_at = min(issued.expires_at, now)

    def _note(self, attempt: AuthAttempt) -> None:
        with self._lock:
            self._seen.append(attempt)

    # -- verification --------------------------------------------------------------------------

    def verify(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        path_project: str | None,
        static_tokens: Iterable[str],
    ) -> AuthResult:
        """Check one request's credentials, from its raw target, received headers and body.

        A `SDK-HMAC-SHA256` Authorization header selects signature checking; otherwise the
        `X-Auth-Token` is checked. `path_project` is the project id in the path (None for
        project-less paths), which a signed `X-Project-Id` must equal.
        """
        received = _received(headers)
        authorization = received.get("authorization", "").strip()
        if authorization.split(" ", 1)[0] == ALGORITHM:
            result = self._verify_signed(
                method, target, received, body, authorization, path_project
            )
        else:
            result = self._verify_token(received.get("x-auth-token", ""), static_tokens)
        self._note(AuthAttempt(result.kind, result.ok, result.sdk_date, result.reason))
        return result

    def _verify_token(self, token: str, static_tokens: Iterable[str]) -> AuthResult:
        if not token:
            return AuthResult(False, "none", 401, *TOKEN_INVALID, reason="no credentials")
        if any(hmac.compare_digest(token.encode(), t.encode()) for t in static_tokens):
            return AuthResult(True, "token")
        now = self.now()
        with self._lock:
            issued = self._issued.get(_digest(token))
            scope = None if issued is None else (issued.project_id, now >= issued.expires_at)
        if scope is None:
            return AuthResult(False, "token", 401, *TOKEN_INVALID, reason="unknown token")
        project_id, expired = scope
        if expired:
            return AuthResult(False, "token", 401, *TOKEN_EXPIRED, reason="token expired")
        return AuthResult(True, "token", project_id=project_id)

    def _verify_signed(
        self,
        method: str,
        target: str,
        received: Mapping[str, str],
        body: bytes,
        authorization: str,
        path_project: str | None,
    ) -> AuthResult:
        kind: AuthKind = "security_token" if "x-security-token" in received else "access_key"
        sdk_date = received.get("x-sdk-date")

        def fail(reason: str) -> AuthResult:
            return AuthResult(
                False,
                kind,
                401,
                AKSK_INVALID,
                _AKSK_PREFIX + reason,
                sdk_date=sdk_date,
                reason=reason,
            )

        try:
            access_key, signed_headers, sent_signature = parse_authorization(authorization)
        except ValueError:
            return fail("authorization header is malformed")
        secret_key = self._access_keys.get(access_key)
        bound_token: str | None = None
        if secret_key is None and access_key in self._temporary_keys:
            secret_key, bound_token = self._temporary_keys[access_key]
        if secret_key is None:
            return fail("access key not found")

        if sdk_date is None:
            return fail("header x-sdk-date is missing")
        sdk_date = sdk_date.strip()
        try:
            if not _SDK_DATE_RE.fullmatch(sdk_date):
                raise ValueError
            signed_at = datetime.strptime(sdk_date, SDK_DATE_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            return fail("x-sdk-date is not in the format YYYYMMDDTHHMMSSZ")
        skew = abs((self.now() - signed_at).total_seconds())
        if skew > self.max_clock_skew_s:
            return fail(f"x-sdk-date is {_describe(skew)} from server time")

        names = {name.lower() for name in signed_headers}
        required = ["host", "x-sdk-date"] + [h for h in _SIGNED_IF_PRESENT if h in received]
        for name in required:
            if name not in names:
                return fail(f"header {name} is not signed")
        for name in signed_headers:
            if name.lower() not in received:
                return fail(f"signed header {name.lower()} is not in the request")

        declared = received.get("x-sdk-content-sha256", "").strip()
        if body and declared and declared != _UNSIGNED_PAYLOAD:
            actual = hashlib.sha256(body).hexdigest()
            if not _SHA256_RE.fullmatch(declared) or declared.lower() != actual:
                return fail("x-sdk-content-sha256 does not match the body")

        raw_path, _, raw_query = target.partition("?")
        query = parse_qsl(raw_query, keep_blank_values=True)
        canonical = canonical_request(method, raw_path, query, received, signed_headers, body)
        expected = signature(secret_key, string_to_sign(canonical, sdk_date))
        if not hmac.compare_digest(expected.encode(), sent_signature.strip().encode()):
            return fail("signature does not match")

        if bound_token is not None:
            # A temporary AK/SK is only half a credential: the gateway wants its own token too.
            if kind != "security_token":
                return fail("header x-security-token is missing for a temporary access key")
            token = received["x-security-token"].strip().encode()
            if not hmac.compare_digest(token, bound_token.encode()):
                return fail("security token is invalid or expired")
        elif kind == "security_token":
            token = received["x-security-token"].strip().encode()
            if not any(hmac.compare_digest(token, t.encode()) for t in self._security_tokens):
                return fail("security token is invalid or expired")
        project_header = received.get("x-project-id")
        if (
            project_header is not None
            and path_project is not None
            and project_header.strip() != path_project
        ):
            return fail("x-project-id does not match the project in the path")
        return AuthResult(True, kind, sdk_date=sdk_date)

    # -- POST /v3/auth/tokens ------------------------------------------------------------------

    def issue_token(self, body: bytes, projects: Iterable[ProjectInfo]) -> IamReply:
        """Answer a password-method token request, scoped to a project by id or by name."""
        try:
            domain, user, password, scope = _password_request(body)
        except _IamError as exc:
            self._note(AuthAttempt("password", False, reason="malformed request"))
            return IamReply(exc.status, iam_error(exc.status, exc.message), {})

        expected = self._users.get((domain, user))
        # Compare even for an unknown user, so timing does not tell users apart.
        matches = hmac.compare_digest(
            password.encode("utf-8"), (expected if expected is not None else "\0").encode("utf-8")
        )
        if expected is None or not matches:
            self._note(AuthAttempt("password", False, reason="username or password is wrong"))
            return IamReply(401, iam_error(401, _IAM_WRONG_PASSWORD), {})

        key, value = scope
        candidates = [p for p in projects if (p.project_id if key == "id" else p.region) == value]
        if not candidates:
            self._note(AuthAttempt("password", False, reason="scope project not found"))
            return IamReply(404, iam_error(404, f"Could not find project: {value}."), {})
        if len(candidates) > 1:
            self._note(AuthAttempt("password", False, reason="scope project name is ambiguous"))
            message = f"Project name {value} matches several projects; scope by id."
            return IamReply(400, iam_error(400, message), {})
        project = candidates[0]

        token = "MII" + secrets.token_urlsafe(48)
        issued_at = self.now()
        expires_at = issued_at + timedelta(seconds=self.token_ttl_s)
        with self._lock:
            self._issued[_digest(token)] = _Issued(project.project_id, issued_at, expires_at)
            self._tokens_issued += 1
            self._seen.append(AuthAttempt("password", True))
        domain_ref = {"id": project.domain_id, "name": domain}
        payload = {
            "token": {
                "expires_at": _rfc3339(expires_at),
                "issued_at": _rfc3339(issued_at),
                "methods": ["password"],
                "project": {"id": project.project_id, "name": project.region, "domain": domain_ref},
                "user": {
                    "id": hashlib.sha256(f"{domain}/{user}".encode()).hexdigest()[:32],
                    "name": user,
                    "domain": domain_ref,
                    "password_expires_at": "",
                },
                "catalog": [],
                "roles": [{"id": "0", "name": "op_service"}],
            }
        }
        return IamReply(201, payload, {"X-Subject-Token": token})


def project_payload(project: ProjectInfo) -> dict[str, Any]:
    """One entry of `GET /v3/auth/projects` (and `/v3/projects`)."""
    return {
        "id": project.project_id,
        "name": project.region,
        "domain_id": project.domain_id,
        "enabled": True,
        "is_domain": False,
        "parent_id": project.domain_id,
        "description": "",
    }


def _field(doc: Any, path: str, kind: type) -> Any:
    """`doc` followed along a dotted path, checked to be of `kind`; a 400 otherwise."""
    value = doc
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            raise _IamError(400, f"The request body is invalid: {path} is required.")
        value = value[key]
    if not isinstance(value, kind) or (kind is str and not value):
        raise _IamError(400, f"The request body is invalid: {path} is invalid.")
    return value


def _password_request(body: bytes) -> tuple[str, str, str, tuple[str, str]]:
    """(domain name, user name, password, ("id" | "name", value)) from a token request body."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _IamError(400, "The request body is not valid JSON.") from None
    methods = _field(doc, "auth.identity.methods", list)
    if methods != ["password"]:
        raise _IamError(400, "The sandbox supports only the password method.")
    name = _field(doc, "auth.identity.password.user.name", str)
    password = _field(doc, "auth.identity.password.user.password", str)
    domain = _field(doc, "auth.identity.password.user.domain.name", str)
    project = _field(doc, "auth.scope.project", dict)
    if isinstance(project.get("id"), str) and project["id"]:
        return domain, name, password, ("id", project["id"])
    if isinstance(project.get("name"), str) and project["name"]:
        return domain, name, password, ("name", project["name"])
    raise _IamError(400, "The request body is invalid: auth.scope.project needs an id or a name.")
