"""What a poll hands to pairing (app.workers.apply): vendor times as claims, re-plugs as sessions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from adapters.types import ChargerSnapshot, PowerState, VehicleSnapshot
from app.db.models import Charger, Vehicle
from app.workers import apply

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def vsnap(data_age: datetime | None) -> VehicleSnapshot:
    return VehicleSnapshot(battery_level=50.0, range_km=200.0, is_plugged_in=False, is_charging=False,
                           is_fully_charged=False, charge_limit=80.0, charge_rate_kw=None, battery_capacity_kwh=None,
                           max_current=None, latitude=None, longitude=None, data_age=data_age)


def csnap(plugged: bool, energy: float | None) -> ChargerSnapshot:
    return ChargerSnapshot(is_online=True, is_plugged_in=plugged, is_charging=plugged,
                           power_state=PowerState.PLUGGED_IN_CHARGING if plugged else PowerState.UNPLUGGED,
                           charge_rate_kw=11.0 if plugged else 0.0, max_current=32.0, session_energy_kwh=energy,
                           schedule_blocking=False, data_age=None)


def test_a_vehicle_time_ahead_of_the_receipt_is_clamped_and_its_lead_learnt() -> None:
    row = Vehicle(id="v", vendor="smartcar", vendor_id="x", clock_ahead_s=0.0)
    changes, _ = apply.vehicle_changes(row, vsnap(NOW + timedelta(minutes=10)), NOW)
    assert changes["data_age"] == NOW and changes["clock_ahead_s"] == 600
    row.clock_ahead_s = 600.0
    later = NOW + timedelta(seconds=30)  # the same clock, data 2 min old by it
    changes, _ = apply.vehicle_changes(row, vsnap(later + timedelta(seconds=600 - 120)), later)
    assert changes["data_age"] == later - timedelta(seconds=120)


def test_a_vehicle_time_behind_is_kept() -> None:
    row = Vehicle(id="v", vendor="smartcar", vendor_id="x", clock_ahead_s=0.0)
    changes, _ = apply.vehicle_changes(row, vsnap(NOW - timedelta(seconds=150)), NOW)
    assert changes["data_age"] == NOW - timedelta(seconds=150) and "clock_ahead_s" not in changes


def test_a_session_energy_drop_while_plugged_in_is_a_new_plug_session() -> None:
    row = Charger(id="c", vendor="easee", vendor_id="EH1", is_plugged_in=True, is_charging=True, session_energy=4.2)
    changes, trans = apply.charger_changes(row, csnap(True, 0.03), NOW)
    assert {"unplugged", "plugged_in"} <= trans and changes["plugged_in_at"] == NOW
    _, same = apply.charger_changes(row, csnap(True, 4.25), NOW)
    assert not same & {"unplugged", "plugged_in"}
    _, out = apply.charger_changes(row, csnap(False, None), NOW)
    assert out == {"unplugged", "charging_stopped"}
    # another card on a session that stayed plugged in (OCPP): a new plug session too
    row.session_id_tag = "CARD-X"
    _, swapped = apply.charger_changes(row, replace(csnap(True, 4.3), id_tag="CARD-Y"), NOW)
    assert {"unplugged", "plugged_in"} <= swapped
    for tag in ("CARD-X", None):
        _, kept = apply.charger_changes(row, replace(csnap(True, 4.3), id_tag=tag), NOW)
        assert not kept & {"unplugged", "plugged_in"}, tag


def test_a_charger_back_from_an_outage_plugged_in_continues_its_plug_session_only_when_its_meter_says_so() -> None:
    """Offline or faulted, a charger cannot tell whether a cable is in (None). Back plugged in with
    its session meter still counting, no unplug was seen: the same plug session, no new plug-in.
    A meter that fell, or none to compare, makes it a new plug-in, decided afresh."""
    plugged_at = NOW - timedelta(minutes=30)

    def dark(energy: float | None, unplugged_at: datetime | None = None) -> Charger:
        return Charger(id="c", vendor="ocpp", vendor_id="CP1", is_plugged_in=None, is_charging=None,
                       session_energy=energy, plugged_in_at=plugged_at, unplugged_at=unplugged_at)

    for energy_back in (4.2, 4.21, 4.6):
        changes, trans = apply.charger_changes(dark(4.2), csnap(True, energy_back), NOW)
        assert "plugged_in" not in trans and "plugged_in_at" not in changes, energy_back
        assert "charging_started" in trans  # what the charger does now is still news
    for before, back in ((4.2, 0.0), (4.2, 1.0), (None, 4.2), (4.2, None)):
        changes, trans = apply.charger_changes(dark(before), csnap(True, back), NOW)
        assert "plugged_in" in trans and changes["plugged_in_at"] == NOW, (before, back)
    # an unplug seen before the outage: what comes back plugged in is a new plug-in
    _, trans = apply.charger_changes(dark(4.2, unplugged_at=NOW - timedelta(minutes=5)), csnap(True, 4.2), NOW)
    assert "plugged_in" in trans
    # a car swapped during the outage: another transaction (OCPP), another card, or a session that
    # had counted nothing yet (the meter cannot tell) is a new plug-in
    keyed = dark(4.2)
    keyed.session_key, keyed.session_id_tag = "17", "CARD-X"
    for back in (replace(csnap(True, 4.3), session_key="18"), replace(csnap(True, 4.3), id_tag="CARD-Y"),
                 replace(csnap(True, 4.3), session_key="18", id_tag="CARD-X")):
        _, trans = apply.charger_changes(keyed, back, NOW)
        assert "plugged_in" in trans, back
    _, trans = apply.charger_changes(keyed, replace(csnap(True, 4.3), session_key="17", id_tag="CARD-X"), NOW)
    assert "plugged_in" not in trans
    _, trans = apply.charger_changes(dark(0.03), csnap(True, 0.04), NOW)
    assert "plugged_in" in trans
    # back unplugged: the session it last showed is over (a later outage cannot resume it)
    changes, trans = apply.charger_changes(dark(4.2), csnap(False, None), NOW)
    assert "unplugged" in trans and changes["unplugged_at"] == NOW
    # going dark itself is no transition of the cable
    live = Charger(id="c", vendor="ocpp", vendor_id="CP1", is_plugged_in=True, is_charging=True, session_energy=4.2,
                   plugged_in_at=plugged_at)
    unknown = ChargerSnapshot(is_online=False, is_plugged_in=None, is_charging=None, power_state=PowerState.UNKNOWN,
                              charge_rate_kw=None, max_current=None, session_energy_kwh=4.2, schedule_blocking=False,
                              data_age=None)
    _, trans = apply.charger_changes(live, unknown, NOW)
    assert not trans & {"plugged_in", "unplugged"}


def test_a_decision_waiting_for_several_chargers_is_taken_again_after_the_last_poll(monkeypatch) -> None:
    """Polls that changed nothing re-run pairing only for the last of the chargers a decision
    waits for (each user separately); a wait older than AWAIT_S no longer holds anyone back."""
    from app.services import pairing

    monkeypatch.setattr(pairing, "_awaited", {})
    pairing.wait_for_polls("u1", ["a", "b", "c"])
    pairing.wait_for_polls("u2", ["d"])
    assert [pairing.awaited(x) for x in ("a", "d", "b", "c", "c", "zz")] == [False, True, False, True, False, False]
    pairing.wait_for_polls("u1", ["a", "b"])
    pairing.wait_for_polls("u1", ["b"])  # decided again meanwhile: now waits for b only
    assert [pairing.awaited(x) for x in ("a", "b")] == [False, True]
    monkeypatch.setattr(pairing, "AWAIT_S", 0.0)
    pairing.wait_for_polls("u1", ["a", "b"])
    assert [pairing.awaited(x) for x in ("a", "b")] == [True, True]
