"""The per-person rate limit: its memory follows who spoke in the last window."""

from kojibot.chat.ratelimit import RateLimit


def test_ten_thousand_senders_are_forgotten_once_quiet():
    now = [0.0]
    limit = RateLimit(3, clock=lambda: now[0])
    for n in range(10_000):
        now[0] = n * 0.001  # ten seconds of one command each from 10,000 people
        assert limit.allow(f"person{n}")
        if n % 10 == 0:
            assert not limit.allow("flooder") or n < 30
            limit.should_warn("flooder")
    assert limit.tracked == 10_001
    now[0] = 75.0  # a minute after the last of them; two people keep talking
    for who in ("alice", "bob"):
        assert limit.allow(who)
    assert limit.tracked == 2


def test_the_limit_itself_is_unchanged_by_forgetting():
    now = [0.0]
    limit = RateLimit(2, clock=lambda: now[0])
    assert limit.allow("alice") and limit.allow("alice")
    assert not limit.allow("alice")
    assert limit.should_warn("alice") and not limit.should_warn("alice")
    now[0] = 59.0
    assert not limit.allow("alice")
    now[0] = 60.5  # a sweep happens here; alice's window has just moved on
    assert limit.allow("alice")
