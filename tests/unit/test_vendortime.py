"""A vendor's time is a claim (app.domain.vendortime): clamped to its receipt, corrected for a
clock that runs ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.vendortime import received

R = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return R + timedelta(seconds=seconds)


def test_a_time_before_the_receipt_is_kept() -> None:
    claim = received(s(-90), R)
    assert claim.at == s(-90) and claim.ahead_s == 0


def test_a_time_after_the_receipt_is_clamped_and_teaches_the_lead() -> None:
    claim = received(s(600), R)
    assert claim.at == R and claim.ahead_s == 600


def test_a_learnt_lead_is_taken_off_later_claims() -> None:
    """The clock runs 10 min ahead; the next answer is stale data (2 min old) stamped +8 min."""
    claim = received(s(480), R, ahead_s=600)
    assert claim.at == s(-120) and claim.ahead_s == 600


def test_the_lead_only_grows_and_never_from_old_data() -> None:
    assert received(s(-30), R, ahead_s=20).ahead_s == 20
    assert received(s(45), R, ahead_s=20).ahead_s == 45


def test_no_time_stays_none() -> None:
    claim = received(None, R, ahead_s=7)
    assert claim.at is None and claim.ahead_s == 7
