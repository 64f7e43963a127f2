"""Re-login backoff of one vendor account (app/workers/relogin.py)."""

from __future__ import annotations

from app.workers.relogin import Relogin


def test_refusals_back_off_doubling_and_give_up_after_the_last_attempt() -> None:
    r = Relogin(attempts=4, backoff_s=2.0)
    now, waits = 100.0, []
    while True:
        assert r.wait(now) == 0.0  # a login is due
        r.refused(now)
        if r.exhausted:
            break
        waits.append(r.wait(now))
        now += r.wait(now)
    assert waits == [2.0, 4.0, 8.0] and r.refusals == 4


def test_a_successful_login_starts_over() -> None:
    r = Relogin(attempts=3, backoff_s=1.0)
    r.refused(0.0)
    r.refused(1.0)
    r.succeeded()
    assert (r.refusals, r.wait(1.5), r.exhausted) == (0, 0.0, False)
    r.refused(2.0)
    assert r.wait(2.0) == 1.0


def test_a_login_that_could_not_be_tried_waits_without_counting() -> None:
    r = Relogin(attempts=2, backoff_s=5.0)
    r.failed(0.0)
    assert (r.refusals, r.wait(0.0), r.exhausted) == (0, 5.0, False)
    r.refused(5.0)
    r.failed(5.0)
    assert (r.refusals, r.wait(5.0)) == (1, 5.0)


def test_zero_attempts_gives_up_at_once() -> None:
    assert Relogin(attempts=0, backoff_s=1.0).exhausted
