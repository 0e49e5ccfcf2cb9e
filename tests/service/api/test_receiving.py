"""Bodies arriving: a total of places, each client address's share of them, and the pace a
body must keep once its grace is over."""

from __future__ import annotations

from service.api.receiving import Receiving


def test_places_are_taken_up_to_the_total_and_freed_on_release() -> None:
    receiving = Receiving(max_receiving=2, max_per_client=0)
    a, b, c = object(), object(), object()
    assert receiving.admit(a, "10.0.0.1") is None
    assert receiving.admit(b, "10.0.0.2") is None
    assert receiving.admit(c, "10.0.0.3") == (
        503,
        "too many requests are sending their bodies; retry shortly",
    )
    receiving.release(a)
    assert receiving.admit(c, "10.0.0.3") is None and len(receiving) == 2


def test_one_client_address_takes_at_most_its_share_once_places_run_short() -> None:
    receiving = Receiving(max_receiving=8, max_per_client=2)
    mine = [object() for _ in range(5)]
    for sender in mine[:4]:  # past its share, borrowed while half the places are free
        assert receiving.admit(sender, "10.0.0.9") is None
    status, reason = receiving.admit(mine[4], "10.0.0.9") or (0, "")
    assert status == 429 and "already has 4 request bodies arriving (its share is 2)" in reason
    others = [object() for _ in range(4)]
    for sender in others:  # the other half is left to everyone else
        assert receiving.admit(sender, f"10.0.1.{len(receiving)}") is None
    receiving.release(mine[0])
    assert receiving.admit(mine[4], "10.0.0.9") == (
        429,
        "this client already has 3 request bodies arriving (its share is 2); "
        "retry when one has arrived",
    )  # still past its share, and places are short: no borrowing
    receiving.release(mine[1])
    receiving.release(mine[2])
    assert receiving.admit(mine[4], "10.0.0.9") is None  # within its share again


def test_a_client_alone_on_an_idle_server_may_borrow_up_to_half_the_places() -> None:
    receiving = Receiving(max_receiving=64, max_per_client=16)
    admitted = sum(receiving.admit(object(), "10.0.0.9") is None for _ in range(50))
    assert admitted == 32


def test_releasing_what_was_never_admitted_changes_nothing() -> None:
    receiving = Receiving(max_receiving=1)
    receiving.release(object())
    assert receiving.admit(object(), None) is None and len(receiving) == 1


def test_a_body_is_too_slow_only_once_its_grace_is_over() -> None:
    receiving = Receiving(min_rate=240, grace_s=5)
    assert receiving.too_slow(0, 4.9) is None
    assert receiving.too_slow(1200, 5.0) is None
    assert receiving.too_slow(1199, 5.0) == (
        "the request body arrived slower than 240 bytes/s (1199 bytes in 5 s)"
    )
    assert Receiving(min_rate=0).too_slow(0, 60) is None
