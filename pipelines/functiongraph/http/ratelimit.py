"""A client-side request rate shared by all worker threads, adapting to the API's answers.

FunctionGraph documents no numeric limit: its gateway answers 429 (`APIG.0308`, or `FSS.0429`)
when a tenant's flow control trips, often without `Retry-After`. A fixed rate is either too slow
for a healthy API or too fast for a throttled one, so the rate adapts the way TCP's congestion
control and the AWS SDKs' "adaptive" retry mode do (AIMD):

- it starts at `start` requests per second;
- while requests queue for it and answers are fine, it grows: by 10% per answer at first ("slow
  start"), then, after the first throttling, by about four requests per second each second;
- a throttled answer cuts it to 70% (never below `floor`), and ends the slow start. As in TCP, only
  a request sent after the last cut can cut again: the answers already in flight report the
  same congestion.

`ceiling` (`requests_per_second`) is a hard upper bound for those who want one; 0 means none.
The rate only grows while it is what holds requests back, so a run bound by latency and
`max_workers` does not inflate it, and one halving takes effect at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

SLOW_START_GROWTH = 1.10
"""Per answer while nothing was throttled yet: a few dozen answers multiply the rate by ten."""
ADDITIVE_GROWTH = 4.0
"""Requests per second gained each second after the first throttling."""
DECREASE = 0.7
"""The rate a throttled answer leaves (TCP CUBIC and the AWS SDKs' adaptive mode use 0.7 too)."""


class RateLimiter:
    """Evenly spaced request starts at the current rate; see the module docstring."""

    def __init__(
        self,
        ceiling: float,
        *,
        start: float = 20.0,
        floor: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ceiling = ceiling
        self.floor = floor
        self.rate = min(start, ceiling) if ceiling > 0 else start
        """Requests per second now."""
        self.throttles = 0
        self._slow_start = True
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._binding = False
        self._last_cut = float("-inf")
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for this caller's slot; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + 1.0 / self.rate
            self._binding = slot > now
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return wait

    def succeeded(self) -> None:
        """An answer that was not throttled: grow, if the rate is what holds requests back."""
        with self._lock:
            if not self._binding:
                return
            if self._slow_start:
                grown = self.rate * SLOW_START_GROWTH
            else:
                grown = self.rate + ADDITIVE_GROWTH / self.rate
            self.rate = min(grown, self.ceiling) if self.ceiling > 0 else grown

    def now(self) -> float:
        """The limiter's clock: when a request is sent, for `throttled`."""
        return self._clock()

    def throttled(self, sent_at: float) -> None:
        """A throttled answer (429) to a request sent at `sent_at`: cut the rate, once per
        congestion, and end the slow start."""
        with self._lock:
            self.throttles += 1
            self._slow_start = False
            if sent_at < self._last_cut:
                return
            now = self._clock()
            self._last_cut = now
            self.rate = max(self.rate * DECREASE, self.floor)
            self._next = max(self._next, now + 1.0 / self.rate)
