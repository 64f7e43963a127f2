"""The smart charging planner: properties (hypothesis) and worked cases."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.smart.curve import ChargeCurve, SessionSample, learn
from app.smart.planner import NoPrice, PlanInput, PriceRate, cheapest, plan, trajectory

NOW = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)


def hourly(prices: list[float], start: datetime = NOW) -> tuple[PriceRate, ...]:
    return tuple(PriceRate(start + timedelta(hours=i), start + timedelta(hours=i + 1), p) for i, p in enumerate(prices))


def inp(prices: list[float], *, soc: float = 30, target: float = 80, minimum: float = 0, hours: float = 10,
        kw: float = 11, capacity: float = 60, learned: bool = True, taper: float = 80) -> PlanInput:
    return PlanInput(now=NOW, soc=soc, soc_at=NOW, target=target, minimum=minimum,
                     deadline=NOW + timedelta(hours=hours), charger_kw=kw,
                     curve=ChargeCurve(max_kw=kw, capacity_kwh=capacity, learned=learned, taper_start=taper),
                     prices=hourly(prices))


prices_st = st.lists(st.floats(min_value=0.0, max_value=1.0, allow_nan=False), min_size=14, max_size=14)
socs = st.floats(min_value=0, max_value=95)
targets = st.floats(min_value=20, max_value=100)
PROP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROP
@given(prices_st, socs, targets, st.floats(0, 60), st.floats(2, 12), st.floats(3.7, 22), st.booleans())
def test_never_dearer_than_charging_at_once(prices: list[float], soc: float, target: float, minimum: float,
                                            hours: float, kw: float, learned: bool) -> None:
    p = plan(inp(prices, soc=soc, target=target, minimum=minimum, hours=hours, kw=kw, learned=learned))
    assert p.smart_cost <= p.non_smart_cost + 1e-6


@PROP
@given(prices_st, socs, targets, st.floats(2, 12), st.floats(3.7, 22), st.floats(50, 95))
def test_reaches_the_target_by_the_deadline_when_feasible(prices: list[float], soc: float, target: float,
                                                           hours: float, kw: float, taper: float) -> None:
    i = inp(prices, soc=soc, target=target, hours=hours, kw=kw, taper=taper)
    p = plan(i)
    n = int(hours * 4)
    _, socs_at_full = trajectory(soc, max(target, 0), n, 900, kw, i.curve)
    feasible = soc >= target - 1e-6 or (n > 0 and socs_at_full[-1] >= target - 1e-6)
    assert p.feasible == feasible
    if feasible and p.slots:
        # replay the chosen slots with the same physics: the target is reached, all before the deadline
        _, reached = trajectory(soc, target, len(p.slots), 900, kw, i.curve)
        assert reached[-1] >= target - 1e-6
        assert p.slots[-1].end <= i.deadline


@PROP
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=3, max_size=8), st.integers(0, 8), st.integers(0, 3),
       st.lists(st.floats(0, 3, allow_nan=False), min_size=8, max_size=8))
def test_dynamic_programme_matches_brute_force(prices: list[float], k: int, forced: int, energy: list[float]) -> None:
    n = len(prices)
    k = min(k, n)
    forced = min(forced, k)
    energy = sorted(energy, reverse=True)  # a tapering car: later charged slots never take more
    cost, chosen = cheapest(prices, energy, k, forced)
    best = min(
        (sum(prices[i] * (energy[j] + 1e-6) for j, i in enumerate(c)), c)
        for c in itertools.combinations(range(n), k) if set(range(forced)) <= set(c))
    assert cost == pytest.approx(best[0], abs=1e-6)  # up to the earlier-slot tie-break
    assert len(chosen) == k and set(range(forced)) <= set(chosen)


@PROP
@given(prices_st, st.floats(0, 40), st.floats(45, 90), st.floats(50, 100), st.floats(3, 12))
def test_minimum_charge_limit_served_before_any_price(prices: list[float], soc: float, minimum: float,
                                                       target: float, hours: float) -> None:
    i = inp(prices, soc=soc, target=target, minimum=minimum, hours=hours)
    p = plan(i)
    _, socs_at = trajectory(soc, minimum, int(hours * 4), 900, i.curve.max_kw, i.curve)
    needed = next((n + 1 for n, s in enumerate(socs_at) if s >= minimum - 1e-6), len(socs_at))
    starts = [s.start for s in p.slots]
    for n in range(min(needed, len(starts))):
        assert NOW + timedelta(minutes=15 * n) in starts  # the first slots, back to back from now


def test_waits_for_the_cheap_night() -> None:
    day = [0.40, 0.38, 0.35, 0.30, 0.12, 0.08, 0.07, 0.09, 0.2, 0.3, 0.35, 0.4, 0.4, 0.4]
    p = plan(inp(day, soc=40, target=80, hours=13))
    assert p.feasible and p.start_at is not None
    assert p.start_at >= NOW + timedelta(hours=4)  # nothing before the cheap hours
    assert p.smart_cost < p.non_smart_cost * 0.4
    assert p.estimated_finish_at is not None and p.estimated_finish_at <= NOW + timedelta(hours=13)


def test_infeasible_charges_at_once_and_says_so() -> None:
    p = plan(inp([0.3] * 14, soc=10, target=90, hours=2))
    assert not p.feasible
    assert p.start_at == NOW and len(p.slots) == 8
    assert p.reason and "cannot be reached" in p.reason


def test_missing_price_is_refused() -> None:
    with pytest.raises(NoPrice):
        plan(inp([0.3] * 3, hours=5))


def test_margin_sized_by_how_uncertain_the_estimate_is() -> None:
    learned = plan(inp([0.3] * 14, soc=30, target=60, learned=True))  # all on the plateau
    unknown = plan(inp([0.3] * 14, soc=30, target=60, learned=False))
    taper = plan(inp([0.3] * 14, soc=70, target=100, learned=True))  # mostly in the taper
    stale_in = inp([0.3] * 14, soc=30, target=60, learned=True)
    stale = plan(PlanInput(**{**stale_in.__dict__, "soc_at": NOW - timedelta(minutes=30)}))
    assert 0 < learned.margin < unknown.margin
    assert learned.margin < taper.margin
    # plugged in, the SoC only rises: an old reading already makes the plan charge longer
    assert stale.margin == learned.margin


def test_margin_keeps_slots_free_before_the_deadline() -> None:
    falling = [0.40 - 0.02 * i for i in range(14)]  # the last slots are the cheapest
    i = inp(falling, soc=40, target=100, hours=12)
    p = plan(i)
    _, socs_at = trajectory(40, 100, 48, 900, 11, i.curve)
    needed = next(n + 1 for n, s in enumerate(socs_at) if s >= 100 - 1e-6)
    reserve = len(p.slots) - needed
    assert p.feasible and reserve == math.ceil(p.margin * needed) >= 1
    # the slots the estimate needs come first, and end early enough for the reserve to fit after them,
    # though the cheapest slots are the last ones
    assert p.estimated_finish_at == p.slots[needed - 1].end
    assert p.estimated_finish_at <= i.deadline - timedelta(minutes=15 * reserve)
    assert p.stop_at is not None and p.stop_at <= i.deadline


def test_taper_makes_the_top_slower() -> None:
    curve = ChargeCurve(max_kw=11, capacity_kwh=60, taper_start=80)
    energy, socs = trajectory(70, 100, 40, 900, 11, curve)
    assert energy[0] > energy[-1] or socs[-1] >= 100 - 1e-6
    assert curve.power_kw(95, 22) < curve.power_kw(50, 22)
    assert curve.power_kw(50, 7.4) == 7.4  # the charger's limit


def test_learning_the_curve() -> None:
    samples = [SessionSample(s, 7.2) for s in range(20, 75, 5)] + [SessionSample(s, 7.2 - (s - 85) * 0.3)
                                                                    for s in range(86, 99, 2)]
    c = learn(samples, energy_kwh=40.0, soc_gained=50.0)
    assert c.learned and c.max_kw == pytest.approx(7.2, abs=0.1)
    assert c.fraction(70) == pytest.approx(1.0)  # seen flat up to 70 %; unseen buckets stay cautious
    assert c.fraction(96) < 0.8 and c.fraction(96) <= c.fraction(90)
    assert c.capacity_kwh == pytest.approx(40 * 0.9 / 50 * 100)
    assert not learn(samples[:3]).learned


def test_a_charger_that_held_the_car_back_does_not_lower_its_limit() -> None:
    spec = ChargeCurve(max_kw=11, capacity_kwh=60)
    capped = [SessionSample(s, 3.7, charger_kw=3.7) for s in range(20, 60, 4)]
    assert learn(capped, prior=spec).max_kw == pytest.approx(11)  # 3.7 kW was the charger, not the car
    free = [SessionSample(s, 7.2, charger_kw=22) for s in range(20, 60, 4)]
    assert learn(free, prior=spec).max_kw == pytest.approx(7.2)  # seen below the charger's limit: the car's own
