"""When and how long to wait before retrying a request.

Kept pure (the clock and the random source are parameters) so the backoff rules are unit-tested
without sleeping, and the client stays a thin loop around them.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from pipelines.functiongraph.errors import RetriesExhausted

logger = logging.getLogger(__name__)
T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def is_retryable_status(status: int) -> bool:
    """Throttling and server-side failures are worth another attempt; other 4xx never are."""
    return status in RETRYABLE_STATUSES or 500 <= status <= 599


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date); None if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(seconds, 0.0) if seconds == seconds else None  # NaN is unusable


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, honouring `Retry-After` up to `backoff_max` seconds."""

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0

    def delay(self, retry_number: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry_number` (1 for the first retry).

        Half of the exponential step is fixed and half random ("equal jitter"), so the wait is
        never zero: a `Retry-After: 0` storm cannot turn into a tight loop.
        """
        step = min(self.backoff_max, self.backoff_base * 2 ** (retry_number - 1))
        wait = step / 2 + rng.uniform(0, step / 2)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(wait, self.backoff_max)


class Transient(Exception):
    """One failed attempt that another attempt may fix (throttling, 5xx, network, bad body)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def retrying(
    attempt: Callable[[], T],
    policy: RetryPolicy,
    subject: str,
    *,
    sleep: Callable[[float], None],
    rng: random.Random,
) -> T:
    """`attempt()` until it returns, retrying each `Transient` it raises, within `policy`.

    The one retry loop of the connector: API and IAM calls alike. `attempt` builds and
    authenticates its request anew every time, so a signed request is re-signed on retry.
    Raises `RetriesExhausted` naming `subject` and the last reason.
    """
    last_reason = ""
    for number in range(1, policy.max_attempts + 1):
        try:
            return attempt()
        except Transient as transient:
            last_reason = str(transient)
            if number == policy.max_attempts:
                break
            wait = policy.delay(number, transient.retry_after, rng)
            logger.warning(
                "%s: %s; retry %d of %d in %.3fs",
                subject,
                last_reason,
                number,
                policy.max_attempts - 1,
                wait,
            )
            sleep(wait)
    raise RetriesExhausted(
        f"{subject}: gave up after {policy.max_attempts} attempts; last error: {last_reason}"
    )
