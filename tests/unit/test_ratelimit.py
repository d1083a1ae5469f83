"""The client-side rate: evenly spaced request starts, on a fake clock."""

from __future__ import annotations

import pytest

from pipelines.functiongraph.http.ratelimit import RateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_requests_are_spaced_by_the_rate() -> None:
    time = FakeTime()
    limiter = RateLimiter(4, start=4, clock=time.clock, sleep=time.sleep)
    waits = [limiter.acquire() for _ in range(5)]
    assert waits == [0.0, 0.25, 0.25, 0.25, 0.25]
    assert time.now == 101.0


def test_idle_time_is_not_saved_up_as_a_burst() -> None:
    time = FakeTime()
    limiter = RateLimiter(2, start=2, clock=time.clock, sleep=time.sleep)
    limiter.acquire()
    time.now += 10
    assert [limiter.acquire(), limiter.acquire()] == [0.0, 0.5]


def test_a_zero_ceiling_bounds_nothing() -> None:
    time = FakeTime()
    limiter = RateLimiter(0, start=10, clock=time.clock, sleep=time.sleep)
    for _ in range(200):
        limiter.acquire()
        limiter.succeeded()
    assert limiter.rate > 1000


def adaptive(time: FakeTime, ceiling: float = 0.0, start: float = 10.0) -> RateLimiter:
    return RateLimiter(ceiling, start=start, clock=time.clock, sleep=time.sleep)


def test_the_rate_grows_only_while_requests_queue_for_it() -> None:
    time = FakeTime()
    limiter = adaptive(time)
    limiter.acquire()  # the first request never waits: nothing to grow for
    limiter.succeeded()
    assert limiter.rate == 10.0
    limiter.acquire()  # this one waited its 0.1 s slot
    limiter.succeeded()
    assert limiter.rate == 11.0  # slow start: +10% per answer


def test_a_throttle_cuts_the_rate_once_per_congestion_and_ends_slow_start() -> None:
    time = FakeTime()
    limiter = adaptive(time, start=40.0)
    sent = time.now
    time.now += 0.01
    for _ in range(16):  # 16 requests sent before the cut come back throttled
        limiter.throttled(sent)
    assert limiter.rate == 28.0 and limiter.throttles == 16  # 70% of 40, once
    limiter.acquire()
    limiter.acquire()
    limiter.succeeded()
    assert limiter.rate == 28.0 + 4 / 28.0  # additive increase now: ~4 per second
    time.now += 2
    limiter.throttled(time.now - 1)  # sent after the last cut
    assert limiter.rate == (28.0 + 4 / 28.0) * 0.7


def test_the_ceiling_is_a_hard_bound_and_the_floor_holds() -> None:
    time = FakeTime()
    limiter = adaptive(time, ceiling=12.0, start=50.0)
    assert limiter.rate == 12.0  # never starts above the ceiling
    for _ in range(50):
        limiter.acquire()
        limiter.succeeded()
    assert limiter.rate == 12.0
    for _ in range(20):
        time.now += 2
        limiter.throttled(time.now)
    assert limiter.rate == 0.5


def test_a_throttled_limiter_spaces_the_next_request() -> None:
    time = FakeTime()
    limiter = adaptive(time, start=5.0)
    limiter.acquire()
    limiter.throttled(time.now)  # rate 3.5: the next slot is 1/3.5 s away
    assert limiter.acquire() == pytest.approx(1 / 3.5)
