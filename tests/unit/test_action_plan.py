"""The action plan (app.orchestrator.plan): JSON round trip, readiness, backoff schedule."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from app.orchestrator.plan import InFlight, Plan, backoff_s

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_backoff_doubles_from_the_base_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    rng = random.Random(7)
    for failures, full in [(1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0), (5, 80.0), (6, 120.0), (40, 120.0)]:
        waits = [backoff_s(failures, 5.0, 120.0, rng) for _ in range(200)]
        assert all(full / 2 <= w <= full for w in waits), (failures, min(waits), max(waits))
        assert max(waits) - min(waits) > full / 4  # jitter spreads retries of many actions


def test_no_failure_no_wait() -> None:
    assert backoff_s(0, 5.0, 120.0) == 0.0


@pytest.mark.parametrize(("timeout_s", "most"), [(900.0, 15), (90.0, 5)])
def test_an_always_failing_single_path_sends_few_commands_before_the_deadline(timeout_s: float, most: int) -> None:
    """The kind of fault: an offline charger used to get a command at every 5 s check (~180 in
    900 s). Backoff alone keeps it to a handful; TANDEM_ACTION_MAX_COMMANDS caps it further."""
    rng, t, failures, sent = random.Random(1), 0.0, 0, 0
    while t < timeout_s:
        sent += 1
        failures += 1
        t += 1.0 + backoff_s(failures, 5.0, 120.0, rng)  # ~1 s for the vendor to answer
    assert sent <= most


def test_plan_round_trips_through_json() -> None:
    plan = Plan(wakes=1, overrode=True, commands=3, sending=[41])
    plan.path("VEHICLE").tries = 2
    plan.path("VEHICLE").wait_until = NOW + timedelta(seconds=30)
    plan.path("VEHICLE").why = "rate limited until ..."
    plan.path("CHARGER").refused = "FAILED_PRECONDITION"
    plan.current = InFlight(via="CHARGER", at=NOW, state="sent", attempt_ids=[40, 41], polls=2, also="VEHICLE")
    raw = plan.to_json()
    import json

    assert Plan.from_json(json.loads(json.dumps(raw))) == plan


def test_a_legacy_or_empty_plan_reads_as_fresh() -> None:
    assert Plan.from_json({}) == Plan()
    assert Plan.from_json(None) == Plan()
    legacy = Plan.from_json({"tries": {"VEHICLE": 2}, "excluded": ["CHARGER"], "current": {"via": "VEHICLE"}})
    assert legacy.current is None and legacy.commands == 0


def test_a_path_is_ready_unless_refused_or_waiting() -> None:
    plan = Plan()
    assert plan.path("VEHICLE").ready(NOW)
    plan.path("VEHICLE").wait_until = NOW + timedelta(seconds=5)
    assert not plan.path("VEHICLE").ready(NOW)
    assert plan.path("VEHICLE").ready(NOW + timedelta(seconds=5))
    plan.path("CHARGER").refused = "NOT_CAPABLE"
    assert not plan.path("CHARGER").ready(NOW + timedelta(days=1))


def test_next_ready_is_the_earliest_wait_of_the_paths_still_open() -> None:
    plan = Plan()
    plan.path("VEHICLE").wait_until = NOW + timedelta(hours=10)  # a long Retry-After
    plan.path("CHARGER").wait_until = NOW + timedelta(seconds=20)
    assert plan.next_ready(["VEHICLE", "CHARGER"]) == NOW + timedelta(seconds=20)
    plan.path("CHARGER").refused = "FAILED_PRECONDITION"
    assert plan.next_ready(["VEHICLE", "CHARGER"]) == NOW + timedelta(hours=10)
    plan.path("VEHICLE").wait_until = None
    assert plan.next_ready(["VEHICLE", "CHARGER"]) is None
