"""Up-front checks of actions (app.orchestrator.preconditions): what retrying cannot change."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.orchestrator.preconditions import Facts, current_range, range_problem, refusal

PLUGGED = Facts(kind="START", has_path=True, capable_when_plugged=False, plugged=True, charging=False, full=False,
                charge_limit=80.0, max_current=16.0)


def ask(f: Facts, amps: float | None = None) -> tuple[str, str, str] | None:
    return refusal(f, amps, "NOT CAPABLE WORDS", "PLUG IN WORDS")


def test_a_start_on_a_full_battery_ends_at_once_naming_the_limit() -> None:
    state, kind, detail = ask(replace(PLUGGED, full=True)) or ("", "", "")
    assert (state, kind) == ("CANCELLED", "FAILED_PRECONDITION")
    assert "at its charge limit (80 %)" in detail and "Raise the vehicle's charge limit" in detail


def test_a_charger_reporting_the_car_full_says_so() -> None:
    f = replace(PLUGGED, full=True, charge_limit=None, charger_target=True)
    _, _, detail = ask(f) or ("", "", "")
    assert detail.startswith("The charger reports the car full")


def test_full_does_not_refuse_a_stop_or_a_current() -> None:
    assert ask(replace(PLUGGED, kind="STOP", full=True, charging=True)) is None
    assert ask(replace(PLUGGED, kind="SET_MAX_CURRENT", full=True), 10.0) is None


def test_capable_once_plugged_is_a_precondition_not_a_capability() -> None:
    f = replace(PLUGGED, kind="SET_MAX_CURRENT", has_path=False, capable_when_plugged=True)
    assert ask(f, 10.0) == ("CANCELLED", "FAILED_PRECONDITION", "PLUG IN WORDS")
    assert ask(replace(f, capable_when_plugged=False), 10.0) == ("FAILED", "NOT_CAPABLE", "NOT CAPABLE WORDS")


@pytest.mark.parametrize(("kind", "plugged", "charging", "want"), [
    ("START", False, None, ("CANCELLED", "FAILED_PRECONDITION")),
    ("STOP", False, None, ("CANCELLED", "UNNECESSARY")),
    ("START", True, True, ("CANCELLED", "UNNECESSARY")),
    ("STOP", True, False, ("CANCELLED", "UNNECESSARY")),
    ("STOP", True, True, None),
    ("START", None, None, None),  # unknown: try
])
def test_plug_and_charge_state(kind: str, plugged: bool | None, charging: bool | None,
                               want: tuple[str, str] | None) -> None:
    got = ask(replace(PLUGGED, kind=kind, plugged=plugged, charging=charging))
    assert (got[:2] if got else None) == want


def test_the_same_current_is_unnecessary_within_half_an_ampere() -> None:
    f = replace(PLUGGED, kind="SET_MAX_CURRENT", max_current=16.0)
    assert ask(f, 16.4) is not None and ask(f, 16.4)[1] == "UNNECESSARY"  # type: ignore[index]
    assert ask(f, 17.0) is None


def test_the_range_comes_from_the_device_when_known() -> None:
    assert current_range(32.0) == (6.0, 32.0)
    assert current_range(None) == (6.0, 80.0)
    assert current_range(200.0) == (6.0, 80.0)


def test_out_of_range_names_the_asset_and_its_range() -> None:
    assert range_problem(32.0, (6.0, 32.0), "charger EH1") is None
    assert range_problem(6.0, (6.0, 32.0), "charger EH1") is None
    msg = range_problem(40.0, (6.0, 32.0), "charger EH1")
    assert msg == "maxCurrent 40 A is outside the range of charger EH1: 6–32 A."
    low = range_problem(3.0, (6.0, 32.0), "charger EH1") or ""
    assert "6–32 A" in low and "stopCharging" in low
