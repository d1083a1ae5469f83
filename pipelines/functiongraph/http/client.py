"""HTTP access to the FunctionGraph API: one request with retries, and marker-paged listings.

The client knows URLs, status codes and error bodies; it knows nothing about tables. Every attempt
builds and authenticates a fresh request, so signed requests are re-signed on retry. Each thread
gets its own `requests.Session`, because sessions are not documented as thread-safe.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from pipelines.functiongraph.errors import (
    ApiError,
    AuthError,
    FunctionNotFound,
    PagingError,
)
from pipelines.functiongraph.http.auth import AUTH_HINTS, RequestAuth
from pipelines.functiongraph.http.paging import MarkerPaginator
from pipelines.functiongraph.http.ratelimit import RateLimiter
from pipelines.functiongraph.http.retries import (
    RetryPolicy,
    Transient,
    is_retryable_status,
    parse_retry_after,
    retrying,
)

logger = logging.getLogger(__name__)

TRANSIENT_NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
THROTTLE_CODES = frozenset({"APIG.0308", "FSS.0429"})
"""Error codes of a throttled answer (the gateway's flow control, the service's own)."""
AUTH_ERROR_CODES = frozenset({"FSS.0401", "FSS.0403", "FSS.1310", "APIG.1002", "APIG.0301"})


def _error_fields(response: requests.Response) -> tuple[str | None, str | None]:
    """`error_code` and `error_msg` from an error body; gateways sometimes send HTML instead."""
    try:
        body = response.json()
    except ValueError:
        text = " ".join(response.text.split())[:120]
        return None, f"non-JSON body: {text}" if text else None
    if not isinstance(body, Mapping):
        return None, None
    code, msg = body.get("error_code"), body.get("error_msg")
    return (str(code) if code is not None else None, str(msg) if msg is not None else None)


class FunctionGraphClient:
    """GET requests against one FunctionGraph endpoint with one authentication."""

    def __init__(
        self,
        endpoint: str,
        auth: RequestAuth,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._limiter = rate_limiter or RateLimiter(0)
        self.auth = auth
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def get_json(self, path: str, params: Mapping[str, str], subject: str) -> Any:
        """GET `path` and return its JSON body, retrying transient failures.

        `subject` names what is fetched ("configs of urn:..."), so a failure says what could not
        be fetched. A rejected token that can be renewed is renewed once, then the request
        is tried again; any other auth failure stops at once.
        """
        try:
            return self._with_retries(path, params, subject)
        except AuthError:
            refresh = getattr(self.auth, "refresh", None)
            if refresh is None:
                raise
            logger.info("%s: token rejected, fetching a new one", subject)
            refresh()
            return self._with_retries(path, params, subject)

    def _with_retries(self, path: str, params: Mapping[str, str], subject: str) -> Any:
        return retrying(
            lambda: self._attempt(path, params, subject),
            self.retry,
            subject,
            sleep=self._sleep,
            rng=self._rng,
        )

    def _attempt(self, path: str, params: Mapping[str, str], subject: str) -> Any:
        session = self._session()
        request = session.prepare_request(
            requests.Request("GET", self.endpoint + path, params=dict(params))
        )
        request.headers["Accept"] = "application/json"
        self._limiter.acquire()
        sent_at = self._limiter.now()
        self.auth.apply(request)
        try:
            response = session.send(request, timeout=self.timeout, allow_redirects=False)
        except TRANSIENT_NETWORK_ERRORS as exc:
            host = urlsplit(self.endpoint).netloc
            raise Transient(f"network error reaching {host} ({type(exc).__name__})") from None
        with response:
            return self._read(response, subject, sent_at)

    def _read(self, response: requests.Response, subject: str, sent_at: float) -> Any:
        status = response.status_code
        request_id = response.headers.get("X-Request-Id")
        code, msg = (None, None) if 200 <= status < 300 else _error_fields(response)
        if status == 429 or code in THROTTLE_CODES:
            self._limiter.throttled(sent_at)
        else:
            self._limiter.succeeded()
        if 200 <= status < 300:
            try:
                return response.json()
            except ValueError:
                raise Transient(f"HTTP {status} with an unreadable JSON body") from None
            except RecursionError:  # retrying would get the same document
                raise PagingError(
                    f"{subject}: the response body is nested too deeply to read"
                    + (f" (X-Request-Id {request_id})" if request_id else "")
                ) from None
        if is_retryable_status(status):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise Transient(f"HTTP {status} {code or ''}".rstrip(), retry_after)
        if status in (401, 403) or code in AUTH_ERROR_CODES:
            kind = self.auth.kind
            raise AuthError(
                f"{subject}: {kind} rejected ({AUTH_HINTS[kind]})", status, code, msg, request_id
            )
        if status == 404 and code == "FSS.1051":
            raise FunctionNotFound(subject, status, code, msg, request_id)
        raise ApiError(subject, status, code, msg, request_id)

    def pages(self, path: str, paginator: MarkerPaginator, subject: str) -> Iterator[list[Any]]:
        """Yield the items of each page until the paginator stops.

        Afterwards `paginator.complete` says whether the listing ended by a documented rule.
        """
        while not paginator.done:
            body = self.get_json(path, paginator.params(), subject)
            try:
                items = paginator.advance(body)
            except PagingError as exc:
                raise PagingError(f"{subject}: {exc}") from None
            if items:
                yield items
        if not paginator.complete:
            logger.warning(
                "%s: %s; treating the listing as incomplete", subject, paginator.incompleteness
            )
