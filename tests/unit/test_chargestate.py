"""Charge-state synchronization (app.domain.chargestate): the car's own state, or merged with its ACTIVE charger."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from adapters.types import PowerState
from app.domain.chargestate import CarData, ChargerData, own_power_state, time_remaining, vehicle_state

NOW = datetime(2024, 6, 1, 20, 0, 0, tzinfo=UTC)


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def car_data(**kw: object) -> CarData:
    base = dict(
        battery_level=50.0,
        range_km=200.0,
        is_plugged_in=False,
        is_charging=False,
        is_fully_charged=False,
        battery_capacity=75.0,
        charge_limit=80.0,
        charge_rate=None,
        max_current=16.0,
        data_age=ago(30),
        updated=ago(29),
    )
    base.update(kw)
    return CarData(**base)  # type: ignore[arg-type]


def charger_data(**kw: object) -> ChargerData:
    base = dict(
        charger_id="c1",
        is_plugged_in=True,
        is_charging=True,
        power_state=PowerState.PLUGGED_IN_CHARGING,
        charge_rate=11.0,
        max_current=32.0,
        charging_since=ago(60),
        updated=ago(1),
    )
    base.update(kw)
    return ChargerData(**base)  # type: ignore[arg-type]


def expected_soc(level: float, rate_kw: float, hours: float, capacity: float) -> float:
    return level + rate_kw * hours / capacity * 100


# --- the car on its own ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "plugged, charging, full, state",
    [
        (None, None, None, PowerState.UNKNOWN),
        (None, True, True, PowerState.UNKNOWN),
        (False, False, False, PowerState.UNPLUGGED),
        (True, True, False, PowerState.PLUGGED_IN_CHARGING),
        (True, False, True, PowerState.PLUGGED_IN_COMPLETE),
        (True, False, False, PowerState.PLUGGED_IN_STOPPED),
        (True, None, None, PowerState.PLUGGED_IN_STOPPED),
    ],
)
def test_own_power_state(plugged: bool | None, charging: bool | None, full: bool | None, state: PowerState) -> None:
    assert own_power_state(car_data(is_plugged_in=plugged, is_charging=charging, is_fully_charged=full)) == state


def test_time_remaining_is_minutes_to_the_limit() -> None:
    capacity, soc, limit, rate = 60.0, 40.0, 80.0, 7.5
    minutes = capacity * (limit - soc) / 100 / rate * 60
    assert time_remaining(capacity, soc, limit, rate, True) == pytest.approx(round(minutes, 1))


@pytest.mark.parametrize(
    "args",
    [
        (60.0, 40.0, 80.0, 7.5, False),  # not charging
        (60.0, 40.0, 80.0, 7.5, None),
        (None, 40.0, 80.0, 7.5, True),  # capacity unknown
        (60.0, None, 80.0, 7.5, True),  # SoC unknown
        (60.0, 40.0, 80.0, None, True),  # rate unknown
        (60.0, 40.0, 80.0, 0.0, True),
        (60.0, 40.0, 80.0, -3.0, True),
    ],
)
def test_time_remaining_unknown(args: tuple) -> None:  # type: ignore[type-arg]
    assert time_remaining(*args) is None


def test_time_remaining_never_negative_above_the_limit() -> None:
    assert time_remaining(60.0, 90.0, 80.0, 7.0, True) == 0.0


def test_standalone_state_is_the_cars_own() -> None:
    car = car_data(is_plugged_in=True, is_charging=True, charge_rate=7.0, battery_level=40.0)
    view = vehicle_state(car, None, NOW)
    assert (view.battery_level, view.range, view.is_plugged_in, view.is_charging) == (40.0, 200.0, True, True)
    assert (view.charge_rate, view.max_current, view.charge_limit) == (7.0, 16.0, 80.0)
    assert view.battery_capacity == 75.0
    assert view.power_delivery_state == PowerState.PLUGGED_IN_CHARGING
    assert view.plugged_in_charger_id is None
    assert view.last_updated == car.updated
    assert view.charge_time_remaining == pytest.approx(round(75.0 * (80.0 - 40.0) / 100 / 7.0 * 60, 1))


def test_standalone_without_a_limit_counts_to_full() -> None:
    car = car_data(is_plugged_in=True, is_charging=True, charge_rate=10.0, battery_level=40.0, charge_limit=None)
    view = vehicle_state(car, None, NOW)
    assert view.charge_limit is None
    assert view.charge_time_remaining == pytest.approx(round(75.0 * 60 / 100 / 10.0 * 60, 1))


def test_standalone_does_not_estimate_soc() -> None:
    car = car_data(is_plugged_in=True, is_charging=True, charge_rate=11.0, data_age=ago(120))
    assert vehicle_state(car, None, NOW).battery_level == car.battery_level


# --- synchronized with the charger --------------------------------------------------------------


@pytest.mark.parametrize("car_plugged", [None, False])
def test_plug_state_from_the_charger_when_the_car_lacks_or_lags_it(car_plugged: bool | None) -> None:
    car = car_data(is_plugged_in=car_plugged, is_charging=False if car_plugged is False else None)
    view = vehicle_state(car, charger_data(), NOW)
    assert view.is_plugged_in is True
    assert view.is_charging is True
    assert view.power_delivery_state == PowerState.PLUGGED_IN_CHARGING
    assert view.plugged_in_charger_id == "c1"


def test_charge_rate_from_the_charger() -> None:
    view = vehicle_state(
        car_data(charge_rate=3.0, is_charging=True, is_plugged_in=True), charger_data(charge_rate=9.5), NOW
    )
    assert view.charge_rate == 9.5


def test_charge_rate_from_the_car_when_the_charger_cannot_tell() -> None:
    view = vehicle_state(car_data(charge_rate=6.6), charger_data(charge_rate=None), NOW)
    assert view.charge_rate == 6.6
    assert view.is_charging is True


def test_charge_rate_zero_while_the_charger_delivers_nothing() -> None:
    ch = charger_data(
        is_charging=False, charge_rate=None, power_state=PowerState.PLUGGED_IN_STOPPED, charging_since=None
    )
    view = vehicle_state(car_data(charge_rate=7.0, is_charging=True, is_plugged_in=True), ch, NOW)
    assert view.is_charging is False
    assert view.charge_rate == 0.0
    assert view.charge_time_remaining is None
    assert view.power_delivery_state == PowerState.PLUGGED_IN_STOPPED


def test_charger_unplugged_wins_over_a_lagging_car() -> None:
    ch = charger_data(is_plugged_in=False, is_charging=False, charge_rate=None, power_state=PowerState.UNPLUGGED)
    view = vehicle_state(car_data(is_plugged_in=True, is_charging=True, charge_rate=7.0), ch, NOW)
    assert (view.is_plugged_in, view.is_charging, view.power_delivery_state) == (False, False, PowerState.UNPLUGGED)


def test_soc_estimated_from_energy_delivered_since_the_cars_data() -> None:
    """Charging for an hour; the car's data is 30 minutes old: 30 minutes of the charger's power is added."""
    car = car_data(battery_level=50.0, range_km=200.0, battery_capacity=75.0, charge_limit=80.0, data_age=ago(30))
    view = vehicle_state(car, charger_data(charge_rate=11.0, charging_since=ago(60)), NOW)
    soc = round(expected_soc(50.0, 11.0, 0.5, 75.0), 1)
    assert view.battery_level == soc
    assert view.range == round(200.0 * soc / 50.0, 1)
    assert view.is_fully_charged is False
    assert view.charge_time_remaining == pytest.approx(round(75.0 * (80.0 - soc) / 100 / 11.0 * 60, 1))


def test_soc_estimate_starts_when_charging_started_if_after_the_cars_data() -> None:
    car = car_data(battery_level=50.0, data_age=ago(30))
    view = vehicle_state(car, charger_data(charge_rate=11.0, charging_since=ago(12)), NOW)
    assert view.battery_level == round(expected_soc(50.0, 11.0, 12 / 60, 75.0), 1)


def test_soc_estimate_grows_with_time() -> None:
    car = car_data(battery_level=30.0, charge_limit=100.0, data_age=ago(5))
    ch = charger_data(charge_rate=7.4, charging_since=ago(10))
    socs = [vehicle_state(car, ch, NOW + timedelta(minutes=m)).battery_level for m in (0, 10, 20, 40)]
    assert socs == sorted(socs) and len(set(socs)) == len(socs)
    for m, soc in zip((0, 10, 20, 40), socs, strict=True):
        assert soc == round(expected_soc(30.0, 7.4, (m + 5) / 60, 75.0), 1)


def test_soc_estimate_capped_at_the_charge_limit() -> None:
    car = car_data(battery_level=78.0, range_km=300.0, charge_limit=80.0, data_age=ago(120))
    view = vehicle_state(car, charger_data(charge_rate=11.0, charging_since=ago(150), is_charging=True), NOW)
    assert view.battery_level == 80.0
    assert view.range == round(300.0 * 80.0 / 78.0, 1)
    assert view.is_fully_charged is True
    assert view.charge_time_remaining == 0.0


def test_soc_estimate_capped_at_100_without_a_limit() -> None:
    car = car_data(battery_level=90.0, charge_limit=None, data_age=ago(240))
    assert vehicle_state(car, charger_data(charging_since=ago(300)), NOW).battery_level == 100.0


def test_soc_above_the_limit_is_never_lowered() -> None:
    car = car_data(battery_level=85.0, charge_limit=80.0, data_age=ago(30))
    assert vehicle_state(car, charger_data(), NOW).battery_level == 85.0


def test_soc_and_range_from_the_car_when_not_charging() -> None:
    car = car_data(battery_level=55.5, range_km=222.0, data_age=ago(90))
    ch = charger_data(
        is_charging=False, charge_rate=None, power_state=PowerState.PLUGGED_IN_STOPPED, charging_since=None
    )
    view = vehicle_state(car, ch, NOW)
    assert (view.battery_level, view.range) == (55.5, 222.0)


@pytest.mark.parametrize("change", [dict(data_age=None, updated=None), dict(battery_capacity=None)])
def test_no_estimate_without_the_data_it_needs(change: dict) -> None:  # type: ignore[type-arg]
    view = vehicle_state(car_data(battery_level=50.0, range_km=200.0, **change), charger_data(), NOW)
    assert (view.battery_level, view.range) == (50.0, 200.0)


def test_without_a_data_age_the_estimate_counts_from_when_the_data_changed() -> None:
    car = car_data(battery_level=50.0, data_age=None, updated=ago(30))
    view = vehicle_state(car, charger_data(charge_rate=11.0, charging_since=ago(60)), NOW)
    assert view.battery_level == round(expected_soc(50.0, 11.0, 0.5, 75.0), 1)


def test_no_estimate_when_the_charger_reports_no_power() -> None:
    car = car_data(battery_level=50.0, range_km=200.0)
    for rate in (None, 0.0):
        view = vehicle_state(car, charger_data(charge_rate=rate), NOW)
        assert (view.battery_level, view.range) == (50.0, 200.0)


def test_unknown_soc_stays_unknown() -> None:
    view = vehicle_state(car_data(battery_level=None, range_km=180.0), charger_data(), NOW)
    assert view.battery_level is None
    assert view.range == 180.0
    assert view.charge_time_remaining is None


def test_estimate_with_data_from_the_future_adds_nothing() -> None:
    car = car_data(battery_level=50.0, data_age=NOW + timedelta(minutes=5))
    assert vehicle_state(car, charger_data(), NOW).battery_level == 50.0


def test_estimate_without_range_keeps_range_unknown() -> None:
    view = vehicle_state(car_data(range_km=None), charger_data(), NOW)
    assert view.range is None
    assert view.battery_level is not None and view.battery_level > 50.0


def test_full_and_stopped_at_the_charger_is_complete() -> None:
    car = car_data(battery_level=79.6, charge_limit=80.0)
    ch = charger_data(
        is_charging=False, charge_rate=None, power_state=PowerState.PLUGGED_IN_STOPPED, charging_since=None
    )
    view = vehicle_state(car, ch, NOW)
    assert view.is_fully_charged is True  # within half a percent of the limit
    assert view.power_delivery_state == PowerState.PLUGGED_IN_COMPLETE


def test_not_full_and_stopped_stays_stopped() -> None:
    car = car_data(battery_level=70.0, charge_limit=80.0)
    ch = charger_data(
        is_charging=False, charge_rate=None, power_state=PowerState.PLUGGED_IN_STOPPED, charging_since=None
    )
    view = vehicle_state(car, ch, NOW)
    assert view.is_fully_charged is False
    assert view.power_delivery_state == PowerState.PLUGGED_IN_STOPPED


def test_max_current_from_the_charger_else_the_car() -> None:
    assert vehicle_state(car_data(max_current=16.0), charger_data(max_current=25.0), NOW).max_current == 25.0
    assert vehicle_state(car_data(max_current=16.0), charger_data(max_current=None), NOW).max_current == 16.0


def test_last_updated_is_the_newer_of_both() -> None:
    car, ch = car_data(updated=ago(10)), charger_data(updated=ago(2))
    assert vehicle_state(car, ch, NOW).last_updated == ago(2)
    assert vehicle_state(replace(car, updated=ago(1)), ch, NOW).last_updated == ago(1)
    assert vehicle_state(replace(car, updated=None), ch, NOW).last_updated == ago(2)
    assert vehicle_state(replace(car, updated=None), replace(ch, updated=None), NOW).last_updated is None


def test_static_car_facts_pass_through() -> None:
    car = car_data(battery_capacity=64.0, charge_limit=90.0)
    view = vehicle_state(car, charger_data(), NOW)
    assert (view.battery_capacity, view.charge_limit, view.plugged_in_charger_id) == (64.0, 90.0, "c1")


def test_fully_charged_from_the_car_when_soc_is_unknown() -> None:
    car = car_data(battery_level=None, is_plugged_in=True, is_fully_charged=True)
    ch = charger_data(
        is_charging=False, charge_rate=None, power_state=PowerState.PLUGGED_IN_COMPLETE, charging_since=None
    )
    view = vehicle_state(car, ch, NOW)
    assert view.power_delivery_state == PowerState.PLUGGED_IN_COMPLETE
    assert view.is_fully_charged is not False


@pytest.mark.parametrize(
    "car_full, charging, state, expected",
    [
        (True, False, PowerState.PLUGGED_IN_STOPPED, True),  # the car says so, nothing charging
        (False, False, PowerState.PLUGGED_IN_COMPLETE, True),  # the charger says complete
        (True, True, PowerState.PLUGGED_IN_CHARGING, False),  # charging again: not full now
        (None, False, PowerState.PLUGGED_IN_STOPPED, None),  # nobody knows
    ],
)
def test_fully_charged_with_unknown_soc_follows_the_devices(
    car_full: bool | None, charging: bool, state: PowerState, expected: bool | None
) -> None:
    car = car_data(battery_level=None, is_plugged_in=True, is_fully_charged=car_full)
    ch = charger_data(is_charging=charging, power_state=state, charge_rate=11.0 if charging else None)
    view = vehicle_state(car, ch, NOW)
    assert view.is_fully_charged is expected
    if expected:
        assert view.power_delivery_state == PowerState.PLUGGED_IN_COMPLETE


def test_known_soc_decides_fully_charged_over_the_cars_flag() -> None:
    car = car_data(battery_level=60.0, charge_limit=80.0, is_plugged_in=True, is_fully_charged=True)
    ch = charger_data(is_charging=False, charge_rate=None, power_state=PowerState.PLUGGED_IN_STOPPED)
    assert vehicle_state(car, ch, NOW).is_fully_charged is False
