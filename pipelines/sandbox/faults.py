"""Latency and fault injection: the ways Huawei Cloud misbehaves, on demand.

The server asks `Faults.pick()` once per request, after sleeping `latency_s`. Precedence is fixed
so tests are predictable: scripted injections (in the order they were added) first, then a
function's persistent or counted failure, then a vanished function, then random errors.
Everything is guarded by one lock because the server handles requests on many threads.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Literal

__all__ = ["FaultKind", "FaultResponse", "Faults"]

FaultKind = Literal["json", "html", "truncated", "drop"]

_DEFAULT_STATUS: dict[str, int] = {"json": 429, "html": 502, "truncated": 200, "drop": 0}


@dataclass(frozen=True)
class FaultResponse:
    """What the server must answer instead of (or, for "truncated", on top of) the real response.

    - "json": `status` with an `{"error_code", "error_msg"}` body (and `Retry-After` if set);
    - "html": `status` with an HTML error page, as a gateway in front of the API would send;
    - "truncated": the real body cut in half, with `status` and a matching Content-Length;
    - "drop": close the socket without answering.
    """

    kind: FaultKind
    status: int
    retry_after: str | None = None
    error_code: str | None = None
    error_msg: str | None = None


@dataclass
class _Rule:
    path_contains: str | None
    response: FaultResponse
    remaining: int


@dataclass
class _FunctionFailure:
    status: int
    remaining: int | None  # None: until cleared


def _error_code(status: int) -> str:
    return f"FSS.{status:04d}"


class Faults:
    """Thread-safe fault knobs consulted by `SandboxServer` on every request."""

    def __init__(
        self, *, latency_s: float = 0.0, random_error_rate: float = 0.0, seed: int = 0
    ) -> None:
        self._lock = threading.Lock()
        self._latency_s = latency_s
        self._random_error_rate = random_error_rate
        self._rng = random.Random(seed)
        self._rules: list[_Rule] = []
        self._failing: dict[str, _FunctionFailure] = {}
        self._vanished: set[str] = set()

    # -- knobs ---------------------------------------------------------------------------------

    @property
    def latency_s(self) -> float:
        """Seconds the server sleeps before answering any request."""
        with self._lock:
            return self._latency_s

    @latency_s.setter
    def latency_s(self, value: float) -> None:
        if value < 0:
            raise ValueError("latency_s must not be negative")
        with self._lock:
            self._latency_s = value

    @property
    def random_error_rate(self) -> float:
        """Share of requests (0..1) answered 429 or 503 at random, from this object's own RNG."""
        with self._lock:
            return self._random_error_rate

    @random_error_rate.setter
    def random_error_rate(self, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError("random_error_rate must be between 0 and 1")
        with self._lock:
            self._random_error_rate = value

    def reseed(self, seed: int) -> None:
        """Restart the random-error sequence, so a benchmark run can be repeated exactly."""
        with self._lock:
            self._rng = random.Random(seed)

    def inject(
        self,
        *,
        path_contains: str | None = None,
        status: int | None = None,
        retry_after: str | None = None,
        body: Literal["json", "html", "truncated"] = "json",
        times: int = 1,
    ) -> None:
        """Script the next `times` responses to requests whose path contains `path_contains`.

        `path_contains` is matched against both the raw request target (percent-encoded path and
        query) and the decoded path; None matches every request. `status` defaults by body:
        429 for "json" (error code FSS.0429), 502 for "html", 200 for "truncated".
        """
        if body not in ("json", "html", "truncated"):
            raise ValueError(f"unknown body kind: {body!r}")
        status = _DEFAULT_STATUS[body] if status is None else status
        response = FaultResponse(
            kind=body,
            status=status,
            retry_after=retry_after,
            error_code=_error_code(status),
            error_msg=_message(status),
        )
        self._add_rule(path_contains, response, times)

    def inject_drop(self, *, path_contains: str | None = None, times: int = 1) -> None:
        """Close the connection without any response for the next `times` matching requests."""
        self._add_rule(path_contains, FaultResponse(kind="drop", status=0), times)

    def fail_function(self, function_urn: str, status: int = 500, times: int | None = None) -> None:
        """Fail config requests of one function: until cleared (times=None) or `times` times."""
        if times is not None and times < 1:
            raise ValueError("times must be positive (or None for a persistent failure)")
        with self._lock:
            self._failing[_unqualified(function_urn)] = _FunctionFailure(status, times)

    def vanish(self, function_urn: str) -> None:
        """Keep listing the function but answer its config requests 404 FSS.1051."""
        with self._lock:
            self._vanished.add(_unqualified(function_urn))

    def clear(self) -> None:
        """Back to a healthy API: no latency, scripts, failures, vanishings or random errors."""
        with self._lock:
            self._latency_s = 0.0
            self._random_error_rate = 0.0
            self._rules.clear()
            self._failing.clear()
            self._vanished.clear()

    @property
    def scripted_remaining(self) -> int:
        """Scripted responses not yet consumed (tests check that an injection was hit)."""
        with self._lock:
            return sum(rule.remaining for rule in self._rules)

    # -- used by the server --------------------------------------------------------------------

    def pick(
        self, targets: tuple[str, ...], function_urn: str | None = None
    ) -> FaultResponse | None:
        """The fault to serve for this request, consuming it; None to serve normally.

        `targets` are the strings `path_contains` is matched against; `function_urn` is set only
        for config requests.
        """
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule.path_contains is None or any(rule.path_contains in t for t in targets):
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        del self._rules[index]
                    return rule.response
            if function_urn is not None:
                urn = _unqualified(function_urn)
                failure = self._failing.get(urn)
                if failure is not None:
                    if failure.remaining is not None:
                        failure.remaining -= 1
                        if failure.remaining <= 0:
                            del self._failing[urn]
                    return FaultResponse(
                        kind="json",
                        status=failure.status,
                        error_code=_error_code(failure.status),
                        error_msg=_message(failure.status),
                    )
                if urn in self._vanished:
                    return FaultResponse(
                        kind="json",
                        status=404,
                        error_code="FSS.1051",
                        error_msg=f"function not found: {urn}",
                    )
            if self._random_error_rate and self._rng.random() < self._random_error_rate:
                status = self._rng.choice((429, 503))
                return FaultResponse(
                    kind="json",
                    status=status,
                    error_code=_error_code(status),
                    error_msg=_message(status),
                )
        return None

    def _add_rule(self, path_contains: str | None, response: FaultResponse, times: int) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._rules.append(_Rule(path_contains, response, times))


def _unqualified(urn: str) -> str:
    parts = urn.split(":")
    return ":".join(parts[:7]) if len(parts) == 8 else urn


def _message(status: int) -> str:
    return {
        429: "Too many requests, please try again later",
        500: "Internal server error",
        502: "Bad gateway",
        503: "Service temporarily unavailable",
        504: "Gateway timeout",
    }.get(status, f"Request failed with status {status}")
