"""The token bucket that paces IRC output, on a fake clock."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kojibot.adapters.irc.pacing import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_is_free_then_one_per_interval():
    clock = Clock()
    bucket = TokenBucket(rate=1.0, burst=10, clock=clock)
    assert [bucket.take() for _ in range(10)] == [True] * 10
    assert not bucket.take()
    assert bucket.delay() == pytest.approx(1.0)
    clock.now += 0.5
    assert not bucket.take()
    assert bucket.delay() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.take()
    assert not bucket.take()


def test_idle_time_refills_only_up_to_the_burst():
    clock = Clock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    for _ in range(3):
        bucket.take()
    clock.now += 3600
    assert bucket.tokens == 3
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    assert bucket.delay() == pytest.approx(0.5)


def test_delay_is_zero_when_a_token_is_ready():
    bucket = TokenBucket(rate=1.0, burst=1, clock=Clock())
    assert bucket.delay() == 0.0


def test_a_clock_stepping_back_costs_nothing():
    clock = Clock()
    bucket = TokenBucket(rate=1.0, burst=2, clock=clock)
    bucket.take()
    clock.now -= 100
    assert bucket.tokens == pytest.approx(1.0)
    clock.now += 1
    assert bucket.tokens == pytest.approx(2.0)


@pytest.mark.parametrize(("rate", "burst", "message"), [
    (0, 10, "rate must be positive"),
    (-1, 10, "rate must be positive"),
    (1.0, 0, "burst must be at least 1"),
])
def test_bad_settings_are_refused(rate, burst, message):
    with pytest.raises(ValueError, match=message):
        TokenBucket(rate=rate, burst=burst, clock=Clock())


@given(rate=st.floats(0.1, 50), burst=st.integers(1, 30),
       steps=st.lists(st.floats(0, 5), min_size=1, max_size=200))
def test_never_more_than_burst_plus_rate_times_elapsed(rate, burst, steps):
    """Whatever the timing, sends in any span stay within what the server allows."""
    clock = Clock()
    start = clock.now
    bucket = TokenBucket(rate=rate, burst=burst, clock=clock)
    sent = 0
    for step in steps:
        clock.now += step
        while bucket.take():
            sent += 1
        assert sent <= burst + rate * (clock.now - start) + 1e-6
        wait = bucket.delay()
        assert wait > 0
        clock.now += wait
        assert bucket.take()
        sent += 1
