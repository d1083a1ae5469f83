"""Backoff and Retry-After rules, with a seeded random source and a fixed clock."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from pipelines.functiongraph.http.retries import RetryPolicy, is_retryable_status, parse_retry_after

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-4", 0.0),
        ("Thu, 01 Jan 2026 12:00:10 GMT", 10.0),
        ("Thu, 01 Jan 2026 11:59:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_parse_retry_after(header, expected) -> None:
    assert parse_retry_after(header, now=NOW) == expected


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (599, True),
        (400, False),
        (401, False),
        (404, False),
    ],
)
def test_retryable_statuses(status, retry) -> None:
    assert is_retryable_status(status) is retry


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    policy = RetryPolicy(max_attempts=6, backoff_base=1.0, backoff_max=100.0)
    rng = random.Random(1)
    for retry in range(1, 6):
        step = 2 ** (retry - 1)
        wait = policy.delay(retry, None, rng)
        assert step / 2 <= wait <= step


def test_retry_after_zero_never_means_retry_at_once() -> None:
    policy = RetryPolicy(backoff_base=0.2, backoff_max=10.0)
    waits = [policy.delay(1, 0.0, random.Random(seed)) for seed in range(50)]
    assert min(waits) >= 0.1


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    policy = RetryPolicy(backoff_base=0.1, backoff_max=5.0)
    rng = random.Random(0)
    assert policy.delay(1, 3.0, rng) == 3.0
    assert policy.delay(1, 60.0, rng) == 5.0
    assert policy.delay(10, None, rng) <= 5.0
