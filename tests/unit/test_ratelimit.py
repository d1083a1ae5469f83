"""The client-side rate: evenly spaced request starts, on a fake clock."""

from __future__ import annotations

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
    limiter = RateLimiter(4, clock=time.clock, sleep=time.sleep)
    waits = [limiter.acquire() for _ in range(5)]
    assert waits == [0.0, 0.25, 0.25, 0.25, 0.25]
    assert time.now == 101.0


def test_idle_time_is_not_saved_up_as_a_burst() -> None:
    time = FakeTime()
    limiter = RateLimiter(2, clock=time.clock, sleep=time.sleep)
    limiter.acquire()
    time.now += 10
    assert [limiter.acquire(), limiter.acquire()] == [0.0, 0.5]


def test_zero_disables_the_limit() -> None:
    time = FakeTime()
    limiter = RateLimiter(0, clock=time.clock, sleep=time.sleep)
    assert [limiter.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert time.slept == []
