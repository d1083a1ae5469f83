"""Request authentication, applied to every attempt of every request: one registry of kinds.

Auth objects see the prepared request just before it is sent, so a retry is authenticated anew
(signatures carry a timestamp that a gateway rejects when stale). The kinds, chosen by which
credentials are configured (`FunctionGraphCredentials.kind()`), each live in a module of their
own: a static token (`token`), an IAM token fetched with a password (`password`), and an AK/SK
pair, temporary or not (`signing`). Adding a kind is one builder in `BUILDERS` and its hint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import requests

from pipelines.functiongraph.config.credentials import FunctionGraphCredentials
from pipelines.functiongraph.http.auth.password import IamPasswordAuth
from pipelines.functiongraph.http.auth.signing import AkSkAuth
from pipelines.functiongraph.http.auth.token import TokenAuth
from pipelines.functiongraph.http.retries import RetryPolicy

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


Builder = Callable[[FunctionGraphCredentials, str | None, str, float, RetryPolicy], RequestAuth]


def _token(credentials: FunctionGraphCredentials, *_: object) -> RequestAuth:
    return TokenAuth(str(credentials.auth_token))


def _password(
    credentials: FunctionGraphCredentials,
    project_id: str | None,
    iam_endpoint: str,
    timeout: float,
    retry: RetryPolicy,
) -> RequestAuth:
    return IamPasswordAuth(
        iam_endpoint,
        str(credentials.username),
        str(credentials.password),
        str(credentials.domain_name),
        str(project_id),
        timeout=timeout,
        retry=retry,
    )


def _access_key(
    credentials: FunctionGraphCredentials, project_id: str | None, *_: object
) -> RequestAuth:
    token = credentials.security_token
    return AkSkAuth(
        str(credentials.access_key),
        str(credentials.secret_key),
        project_id or "",
        security_token=str(token) if token else None,
    )


BUILDERS: dict[str, Builder] = {
    "auth_token": _token,
    "password": _password,
    "access_key": _access_key,
}
"""Credential kind (`FunctionGraphCredentials.kind()`) → its authentication."""


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
    return BUILDERS[credentials.kind()](credentials, project_id, iam_endpoint, timeout, retry)
