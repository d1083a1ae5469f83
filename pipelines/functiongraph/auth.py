"""Request authentication, applied to every attempt of every request.

Auth objects see the prepared request just before it is sent, so a retry is authenticated anew
(signatures carry a timestamp that a gateway rejects when stale). Four kinds, chosen by which
credentials are configured: a static token, an IAM token fetched with a password, an AK/SK pair,
and a temporary AK/SK pair with a security token.
"""

from __future__ import annotations

from typing import Protocol

import requests

from pipelines.functiongraph.credentials import FunctionGraphCredentials
from pipelines.functiongraph.iam import IamPasswordAuth
from pipelines.functiongraph.retries import RetryPolicy
from pipelines.functiongraph.signing import AkSkAuth

# What to check when the API rejects a credential kind (shown in the one-line error).
AUTH_HINTS = {
    "auth_token": "check CREDENTIALS__AUTH_TOKEN: expired, or issued for another project?",
    "password": "check CREDENTIALS__USERNAME/PASSWORD/DOMAIN_NAME and the user's permissions",
    "access_key": "check CREDENTIALS__ACCESS_KEY/SECRET_KEY, the key's permissions and the clock",
    "security_token": "check the temporary AK/SK and CREDENTIALS__SECURITY_TOKEN: expired?",
}


class RequestAuth(Protocol):
    """Adds credentials to a prepared request; `kind` names them in error messages."""

    kind: str

    def apply(self, request: requests.PreparedRequest) -> None: ...


class TokenAuth:
    """A static IAM token in `X-Auth-Token`."""

    kind = "auth_token"

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:  # never show the token, even in a debugger or a traceback
        return "TokenAuth(<redacted>)"

    def apply(self, request: requests.PreparedRequest) -> None:
        request.headers["X-Auth-Token"] = self._token


def auth_from_credentials(
    credentials: FunctionGraphCredentials,
    project_id: str | None,
    iam_endpoint: str,
    *,
    timeout: float,
    retry: RetryPolicy,
) -> RequestAuth:
    """The authentication for the one configured credential kind (`ConfigError` otherwise).

    `project_id` None means an account-level call (project discovery, AK/SK only): the request
    is then signed without `X-Project-Id`.
    """
    kind = credentials.kind()
    if kind == "auth_token":
        return TokenAuth(str(credentials.auth_token))
    if kind == "password":
        return IamPasswordAuth(
            iam_endpoint,
            str(credentials.username),
            str(credentials.password),
            str(credentials.domain_name),
            str(project_id),
            timeout=timeout,
            retry=retry,
        )
    return AkSkAuth(
        str(credentials.access_key),
        str(credentials.secret_key),
        project_id or "",
        security_token=str(credentials.security_token) if credentials.security_token else None,
    )
