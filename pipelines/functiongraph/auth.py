"""Request authentication, applied to every attempt of every request.

Auth objects see the prepared request just before it is sent, so a retry is authenticated anew
(signatures carry a timestamp that a gateway rejects when stale).
"""

from __future__ import annotations

from typing import Protocol

import requests

from pipelines.functiongraph.credentials import FunctionGraphCredentials
from pipelines.functiongraph.errors import ConfigError


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


def auth_from_credentials(credentials: FunctionGraphCredentials | None) -> RequestAuth:
    """Pick the one configured credential kind, or say what to configure."""
    kinds = credentials.kinds() if credentials is not None else []
    if not kinds:
        raise ConfigError(
            "no credentials configured: set SOURCES__FUNCTIONGRAPH__CREDENTIALS__AUTH_TOKEN "
            "(or auth_token under [sources.functiongraph.credentials] in .dlt/secrets.toml)"
        )
    if len(kinds) > 1:
        raise ConfigError(
            f"more than one credential kind configured ({', '.join(kinds)}): keep one"
        )
    assert credentials is not None
    return TokenAuth(str(credentials.auth_token))
