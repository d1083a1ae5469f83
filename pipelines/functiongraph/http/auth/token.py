"""A static IAM token, sent as `X-Auth-Token` on every request."""

from __future__ import annotations

import requests


class TokenAuth:
    """A static IAM token in `X-Auth-Token`."""

    kind = "auth_token"

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:  # never show the token, even in a debugger or a traceback
        return "TokenAuth(<redacted>)"

    def apply(self, request: requests.PreparedRequest) -> None:
        request.headers["X-Auth-Token"] = self._token
