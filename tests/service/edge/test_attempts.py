"""Failed credential attempts, per client address: a burst, then a steady pace, then refusal
before any comparison; addresses apart, IPv6 by its /64, and a table that stays bounded."""

from __future__ import annotations

from service.edge.attempts import FailedAttempts
from service.errors import TooManyAttempts


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_may_fail_its_allowance_then_is_refused_until_it_waits() -> None:
    clock = Clock()
    attempts = FailedAttempts(per_minute=30, clock=clock)
    for _ in range(30):
        assert attempts.refusal("10.0.0.1") is None
        attempts.failed("10.0.0.1")
    refusal = attempts.refusal("10.0.0.1")
    assert isinstance(refusal, TooManyAttempts) and refusal.retry_after_s == 2
    assert "retry in 2 s" in refusal.message
    assert attempts.refusal("10.0.0.2") is None  # another address: its own allowance
    clock.now += 2  # 30 a minute: one more every 2 s
    assert attempts.refusal("10.0.0.1") is None
    attempts.failed("10.0.0.1")
    assert attempts.refusal("10.0.0.1") is not None


def test_guessing_runs_at_the_steady_pace_however_fast_it_tries() -> None:
    """Before: 700 guesses a second on one HTTP connection. Here, in a minute of trying
    every millisecond, an address gets 30 + 30 comparisons."""
    clock = Clock()
    attempts = FailedAttempts(per_minute=30, clock=clock)
    compared = 0
    for _ in range(60_000):
        if attempts.refusal("10.0.0.1") is None:
            compared += 1
            attempts.failed("10.0.0.1")
        clock.now += 0.001
    assert compared <= 61


def test_an_ipv6_client_counts_by_its_64_and_a_mapped_ipv4_as_itself() -> None:
    attempts = FailedAttempts(per_minute=1, clock=Clock())
    attempts.failed("2001:db8:1:2::1")
    assert attempts.refusal("2001:db8:1:2::ffff") is not None
    assert attempts.refusal("2001:db8:1:3::1") is None
    attempts.failed("::ffff:10.0.0.7")
    assert attempts.refusal("10.0.0.7") is not None


def test_the_table_forgets_recovered_addresses_then_the_oldest() -> None:
    clock = Clock()
    attempts = FailedAttempts(per_minute=2, max_clients=3, clock=clock)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        attempts.failed(address)
        attempts.failed(address)
    clock.now += 120  # all recovered
    attempts.failed("10.0.0.4")
    attempts.failed("10.0.0.4")
    assert len(attempts._buckets) == 1  # noqa: SLF001 -- the bound is the point here
    for i in range(10):
        attempts.failed(f"10.0.1.{i}")
        attempts.failed(f"10.0.1.{i}")
    assert len(attempts._buckets) == 3  # noqa: SLF001
    assert attempts.refusal("10.0.1.9") is not None
