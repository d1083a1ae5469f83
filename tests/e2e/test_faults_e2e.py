"""Throttling, server errors, broken bodies, dropped connections: the data still comes out exact."""

from __future__ import annotations

import logging

import pytest

from tests.support.estates import DELTA
from tests.support.expected import CURRENT, EXPECTED
from tests.support.loader import Loader

# (path fragment, fault) pairs: every kind of transient failure the sandbox can inject
FAULTS = {
    "429 storm, Retry-After 0": dict(path_contains="async-invoke-configs", status=429,
                                     retry_after="0", times=6),
    "429 storm, Retry-After 1": dict(path_contains="fgs/functions?", status=429,
                                     retry_after="1", times=3),
    "5xx burst": dict(path_contains="async-invoke-configs", status=503, times=5),
    "HTML 502 page": dict(path_contains="fgs/functions?", body="html", times=2),
    "truncated JSON": dict(path_contains=DELTA.split(":")[-1], body="truncated", times=2),
}  # fmt: skip


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_transient_faults_leave_exact_data(
    loader: Loader, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    loader.server.faults.inject(**FAULTS[fault])
    with caplog.at_level(logging.WARNING, logger="pipelines.functiongraph.http.client"):
        summary = loader.run(max_attempts=8)
    assert summary.ok, summary.failures
    assert loader.query(CURRENT) == EXPECTED
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert retries, "the fault was never hit"
    assert loader.server.faults.scripted_remaining == 0


def test_retry_after_zero_never_retries_at_once(
    loader: Loader, caplog: pytest.LogCaptureFixture
) -> None:
    loader.server.faults.inject(path_contains="fgs/functions?", status=429, retry_after="0")
    with caplog.at_level(logging.WARNING, logger="pipelines.functiongraph.http.client"):
        loader.run(backoff_base=0.02, backoff_max=1)
    (message,) = [r.getMessage() for r in caplog.records if "retry 1 of" in r.getMessage()]
    assert "HTTP 429 FSS.0429" in message
    assert float(message.rsplit(" in ", 1)[1].rstrip("s")) >= 0.01  # half the base at least


def test_dropped_connections_are_retried(loader: Loader) -> None:
    loader.server.faults.inject_drop(path_contains="async-invoke-configs", times=3)
    summary = loader.run(max_attempts=5)
    assert summary.ok
    assert loader.query(CURRENT) == EXPECTED


def test_latency_changes_nothing(loader: Loader) -> None:
    loader.server.faults.latency_s = 0.02
    loader.run(max_workers=4)
    assert loader.query(CURRENT) == EXPECTED


def test_random_errors_with_many_workers(loader: Loader) -> None:
    loader.server.faults.random_error_rate = 0.3
    summary = loader.run(max_attempts=20, max_workers=6)
    assert summary.ok
    assert loader.query(CURRENT) == EXPECTED


def test_exhausted_retries_name_what_could_not_be_fetched(loader: Loader) -> None:
    loader.server.faults.inject(path_contains="async-invoke-configs", status=500, times=100)
    summary = loader.run(max_attempts=3, max_workers=1)
    assert not summary.ok
    assert len(summary.failures) == 4  # every function's configs
    assert all("gave up after 3 attempts; last error: HTTP 500" in f for f in summary.failures)


def test_read_timeouts_are_retried_then_reported(loader: Loader) -> None:
    loader.server.faults.latency_s = 0.3
    summary = loader.run(request_timeout=0.05, max_attempts=2)
    (failure,) = summary.failures
    host = loader.server.url.removeprefix("http://")
    assert f"gave up after 2 attempts; last error: network error reaching {host} (ReadTimeout)" in (
        failure
    )
    assert failure.startswith("listing functions of project")


def test_a_throttling_gateway_slows_the_run_down_and_loses_nothing(loader: Loader) -> None:
    """The gateway's 429 APIG.0308 (no Retry-After) halves the adaptive rate; all data arrives."""
    loader.server.gateway.per_second = 4  # a burst of 4, then 4 a second
    summary = loader.run(max_workers=4)
    assert summary.ok, summary.failures
    assert loader.query(CURRENT) == EXPECTED
    statuses = [r.status for r in loader.server.requests_seen]
    assert 429 in statuses  # the limit was really hit
    assert statuses.count(429) < len(statuses) / 2  # and the client backed off
