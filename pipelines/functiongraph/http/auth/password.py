"""IAM tokens fetched with a user's password, cached and renewed.

A token lives 24 hours. It is reused until 90% of its lifetime has passed, and fetched again at
once when the API answers 401 (revoked or rotated), at most once per request.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

import requests

from pipelines.functiongraph.errors import ApiError, AuthError
from pipelines.functiongraph.http.api import IAM_TOKENS_PATH
from pipelines.functiongraph.http.retries import (
    RetryPolicy,
    Transient,
    is_retryable_status,
    retrying,
)

logger = logging.getLogger(__name__)


def token_request_body(
    username: str, password: str, domain_name: str, project_id: str
) -> dict[str, object]:
    """The password-method, project-scoped body of `POST /v3/auth/tokens`."""
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": username,
                        "password": password,
                        "domain": {"name": domain_name},
                    }
                },
            },
            "scope": {"project": {"id": project_id}},
        }
    }


def _lifetime(body: object, fallback: float) -> float:
    """Seconds the token is valid for, from `token.issued_at`/`expires_at` when readable."""
    try:
        token = body["token"]  # type: ignore[index]
        issued = datetime.fromisoformat(token["issued_at"].replace("Z", "+00:00"))
        expires = datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00"))
        return max((expires - issued).total_seconds(), 0.0)
    except (KeyError, TypeError, ValueError, AttributeError):
        return fallback


class IamPasswordAuth:
    """`X-Auth-Token` from IAM, fetched on first use and renewed before it expires."""

    kind = "password"

    def __init__(
        self,
        iam_endpoint: str,
        username: str,
        password: str,
        domain_name: str,
        project_id: str,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = iam_endpoint.rstrip("/") + IAM_TOKENS_PATH
        self._body = token_request_body(username, password, domain_name, project_id)
        self._who = f"IAM user {username!r} of domain {domain_name!r}"
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self.tokens_fetched = 0

    def __repr__(self) -> str:  # never show the password or the token
        return f"IamPasswordAuth({self._who})"

    def apply(self, request: requests.PreparedRequest) -> None:
        request.headers["X-Auth-Token"] = self._current()

    def refresh(self) -> None:
        """Forget the cached token, so the next request fetches a new one."""
        with self._lock:
            self._token = None

    def _current(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                started = self._clock()
                self._token, lifetime = self._fetch()
                self._renew_at = started + 0.9 * lifetime
                self.tokens_fetched += 1
            return self._token

    def _fetch(self) -> tuple[str, float]:
        subject = f"fetching an IAM token for {self._who}"
        return retrying(self._attempt, self._retry, subject, sleep=self._sleep, rng=self._rng)

    def _attempt(self) -> tuple[str, float]:
        subject = f"fetching an IAM token for {self._who}"
        try:
            response = requests.post(self._url, json=self._body, timeout=self._timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            host = urlsplit(self._url).netloc
            raise Transient(f"network error reaching {host} ({type(exc).__name__})") from None
        with response:
            token = response.headers.get("X-Subject-Token")
            if response.status_code in (200, 201) and token:
                try:
                    body = response.json()
                except ValueError:
                    body = None
                return token, _lifetime(body, fallback=86400.0)
            if is_retryable_status(response.status_code):
                raise Transient(f"HTTP {response.status_code}")
            error = _iam_error(response)
            if response.status_code in (401, 403):
                raise AuthError(f"{subject}: password rejected", response.status_code, None, error)
            raise ApiError(subject, response.status_code, None, error)


def _iam_error(response: requests.Response) -> str | None:
    """IAM's own error shape is `{"error": {"code", "message", "title"}}`."""
    try:
        error = response.json().get("error", {})
        return str(error.get("message")) if error.get("message") else None
    except (ValueError, AttributeError):
        return None
