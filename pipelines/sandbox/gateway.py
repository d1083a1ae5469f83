"""The API gateway's flow control: beyond a request rate, `429 APIG.0308` without Retry-After.

Huawei's API gateway throttles per tenant and API, and answers at once (no latency) without
saying when to come back, so a client has to find a sustainable rate by itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class GatewayLimit:
    """A token bucket: `per_second` requests a second, bursts up to one second's worth.

    0 disables it. Thread-safe; settable between requests through `per_second`.
    """

    def __init__(self, per_second: float = 0.0, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._per_second = 0.0
        self._tokens = 0.0
        self._at = clock()
        self.per_second = per_second

    @property
    def per_second(self) -> float:
        return self._per_second

    @per_second.setter
    def per_second(self, value: float) -> None:
        if value < 0:
            raise ValueError("per_second must not be negative")
        with self._lock:
            self._per_second = value
            self._tokens = value
            self._at = self._clock()

    def admit(self) -> bool:
        """Whether one more request fits now (and take its token)."""
        with self._lock:
            if not self._per_second:
                return True
            now = self._clock()
            self._tokens = min(self._per_second, self._tokens + (now - self._at) * self._per_second)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True
