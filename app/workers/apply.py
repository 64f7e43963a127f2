"""Turn a vendor snapshot into row changes and transitions (pure), then save and publish.

Only changed fields are written; subscribers hear only about changes a client can see.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from adapters.types import ChargerSnapshot, VehicleSnapshot
from app.db.models import Charger, Observation, Vehicle
from app.domain import vendortime
from app.runtime import Runtime
from app.services import merge, pairing
from app.services.state import charger_data

#: last_seen alone is written at most this often (it changes on every poll).
LAST_SEEN_EVERY = timedelta(seconds=60)
#: Fields whose change is not worth an event on its own.
_QUIET = {"last_seen", "data_age", "session_energy", "state_updated_at", "session_soc", "est_at", "est_energy",
          "polled_at", "clock_ahead_s", "session_key"}
#: Changes no pairing decision reads (a charging session's energy moves with every meter report).
NOT_PAIRING_INPUTS = {"last_seen", "session_energy", "session_key"}
#: A plugged-in charger's poll time is written on every poll while its plug-in is being decided
#: (the confirmation window, the probe, and this much more): pairing compares car data with it.
#: Later it is written with other changes only, and `last_seen` bounds it within LAST_SEEN_EVERY.
DECIDING_EXTRA_S = 120.0


def _diff(row: Any, values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if getattr(row, k) != v}


def _transitions(was_plugged: bool | None, plugged: bool | None, was_charging: bool | None,
                 charging: bool | None) -> set[str]:
    out: set[str] = set()
    if plugged is True and was_plugged is not True:
        out.add("plugged_in")
    if plugged is False and was_plugged is True:
        out.add("unplugged")
    if charging is True and was_charging is not True:
        out.add("charging_started")
    if charging is False and was_charging is True:
        out.add("charging_stopped")
    return out


def _reachability(row: Vehicle | Charger, reachable: bool, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"is_reachable": reachable, "poll_error": None if reachable else row.poll_error,
                              "rate_limited_until": None}  # the vendor answered: no longer limited
    if reachable and (row.last_seen is None or now - row.last_seen >= LAST_SEEN_EVERY):
        values["last_seen"] = now
    return values


def vehicle_changes(row: Vehicle, snap: VehicleSnapshot, now: datetime) -> tuple[dict[str, Any], set[str]]:
    """Changed fields and transitions of a vehicle poll received at `now` (the vendor's data time
    is translated to our clock and clamped to `now`: app.domain.vendortime)."""
    claim = vendortime.received(snap.data_age, now, row.clock_ahead_s or 0.0)
    values: dict[str, Any] = {
        "battery_level": snap.battery_level, "range_km": snap.range_km, "is_plugged_in": snap.is_plugged_in,
        "is_charging": snap.is_charging, "is_fully_charged": snap.is_fully_charged,
        "charge_limit": snap.charge_limit, "charge_rate": snap.charge_rate_kw, "max_current": snap.max_current,
        "latitude": snap.latitude, "longitude": snap.longitude, "data_age": claim.at,
        "clock_ahead_s": claim.ahead_s,
    }
    if snap.battery_capacity_kwh is not None:
        values["battery_capacity"] = snap.battery_capacity_kwh
    changes = _diff(row, values)
    if "latitude" in changes or "longitude" in changes:
        changes["location_updated"] = now
    if set(changes) - _QUIET:
        changes["state_updated_at"] = now
    changes.update(_diff(row, _reachability(row, True, now)))
    trans = _transitions(row.is_plugged_in, snap.is_plugged_in, row.is_charging, snap.is_charging)
    return changes, trans


#: A drop of the session's energy by more than this (kWh) while plugged in is a new session.
SESSION_RESET_KWH = 0.05


def _fell(was: float | None, now: float | None) -> bool:
    """Whether a session meter known before and now fell by more than SESSION_RESET_KWH."""
    return was is not None and now is not None and now < was - SESSION_RESET_KWH


def _differ(before: str | None, after: str | None) -> bool:
    """Whether two names, both known, differ (an unknown one contradicts nothing)."""
    return before is not None and after is not None and before != after


def replugged(row: Charger, snap: ChargerSnapshot) -> bool:
    """Whether the charger's session energy fell, or its session's idTag changed from one card to
    another, while it stayed plugged in: the cable was pulled and put in again (another car, say)
    between two polls, which the plug state alone hides."""
    return bool(row.is_plugged_in and snap.is_plugged_in
                and (_fell(row.session_energy, snap.session_energy_kwh) or _differ(row.session_id_tag, snap.id_tag)))


def _session_open(row: Charger) -> bool:
    """Whether the charger's last known plug session has seen no unplug."""
    return row.plugged_in_at is not None and (row.unplugged_at is None or row.unplugged_at < row.plugged_in_at)


def resumed(row: Charger, snap: ChargerSnapshot) -> bool:
    """Whether a charger back from an unknown cable state (offline, faulted, unavailable) plugged in
    continues the plug session it last showed. Everything the charger says must agree: no unplug
    was seen since that plug-in; the session meter, known before and now, had counted something
    (more than SESSION_RESET_KWH) and did not fall; the session key (OCPP: the transaction) and the
    session's idTag, where known on both sides, are the same. Anything less counts as a new plug-in,
    decided afresh: continuity is never presumed (a car swapped during the outage)."""
    was, now = row.session_energy, snap.session_energy_kwh
    return bool(row.is_plugged_in is None and snap.is_plugged_in and _session_open(row)
                and was is not None and now is not None and was > SESSION_RESET_KWH and not _fell(was, now)
                and not _differ(row.session_key, snap.session_key) and not _differ(row.session_id_tag, snap.id_tag))


def charger_changes(row: Charger, snap: ChargerSnapshot, now: datetime) -> tuple[dict[str, Any], set[str]]:
    """Changed fields and transitions of a charger poll (timestamps of transitions set here)."""
    values: dict[str, Any] = {
        "is_online": snap.is_online, "is_plugged_in": snap.is_plugged_in, "is_charging": snap.is_charging,
        "power_state": snap.power_state.value, "charge_rate": snap.charge_rate_kw,
        "max_current": snap.max_current, "session_energy": snap.session_energy_kwh,
        "schedule_blocking": snap.schedule_blocking, "session_id_tag": snap.id_tag, "session_soc": snap.vehicle_soc,
        "session_key": snap.session_key,
    }
    changes = _diff(row, values)
    trans = _transitions(row.is_plugged_in, snap.is_plugged_in, row.is_charging, snap.is_charging)
    if resumed(row, snap):  # the same plug session, seen again after an outage or a fault
        trans.discard("plugged_in")
    if snap.is_plugged_in is False and row.is_plugged_in is None and _session_open(row):
        trans.add("unplugged")  # back from an outage unplugged: the session it last showed is over
    if replugged(row, snap):  # a car swapped faster than the polls: a new plug session all the same
        trans |= {"unplugged", "plugged_in"}
    if "plugged_in" in trans:
        changes["plugged_in_at"] = now
    if "unplugged" in trans:
        changes["unplugged_at"] = now
    if trans & {"charging_started", "charging_stopped"}:
        changes["charging_changed_at"] = now
    if set(changes) - _QUIET:
        changes["state_updated_at"] = now
    changes.update(_diff(row, _reachability(row, snap.is_online, now)))
    return changes, trans


async def _write(kind: str, row: Vehicle | Charger, changes: dict[str, Any], transitions: set[str],
                 now: datetime) -> None:
    """Save the changed fields and record the observation pairing reads."""
    for key, value in changes.items():
        setattr(row, key, value)
    await row.save(update_fields=list(changes))
    if kind == "vehicle" and ("data_age" in changes or transitions or row.data_age is None):  # type: ignore[union-attr]
        v: Vehicle = row  # type: ignore[assignment]
        await Observation.create(
            asset_type="vehicle", asset_id=v.id, observed_at=now, data_age=v.data_age,
            is_plugged_in=v.is_plugged_in, is_charging=v.is_charging, charge_rate=v.charge_rate,
            battery_level=v.battery_level, latitude=v.latitude, longitude=v.longitude,
        )
    elif kind == "charger" and transitions:
        c: Charger = row  # type: ignore[assignment]
        await Observation.create(
            asset_type="charger", asset_id=c.id, observed_at=now, data_age=now,
            is_plugged_in=c.is_plugged_in, is_charging=c.is_charging, charge_rate=c.charge_rate,
        )


def poll_stamp(kind: str, row: Vehicle | Charger, changes: dict[str, Any], now: datetime, *,
               kicked: bool, deciding_s: float) -> dict[str, Any]:
    """`{"polled_at": now}` when this successful poll's time is a decision input worth a write;
    else {} (a routine poll that changed nothing costs no write).

    Written when other fields are written anyway, for a poll someone asked for (`kicked`: a
    plug-in's confirmation, a probe, an action), for a vehicle during its confirmation window
    ("polled since the plug-in" tells a quiet car), and for a charger while its plug-in is
    being decided (`deciding_s` after it)."""
    if changes or kicked:
        return {"polled_at": now}
    return {"polled_at": now} if deciding(kind, row, now, deciding_s) else {}


def deciding(kind: str, row: Vehicle | Charger, now: datetime, deciding_s: float) -> bool:
    """Whether the asset's plug-in is being decided now: a vehicle in its confirmation window, a
    charger within `deciding_s` of its plug-in (the window, the probe and a margin)."""
    if kind == "vehicle":
        v: Vehicle = row  # type: ignore[assignment]
        return v.confirm_until is not None and v.confirm_until > now
    c: Charger = row  # type: ignore[assignment]
    return bool(c.is_plugged_in) and c.plugged_in_at is not None \
        and now - c.plugged_in_at <= timedelta(seconds=deciding_s)


def visible(changes: dict[str, Any]) -> bool:
    """Whether a client would see these changes."""
    return bool(set(changes) - _QUIET)


async def save(rt: Runtime, kind: str, row: Vehicle | Charger, changes: dict[str, Any],
               transitions: set[str], now: datetime, *, kicked: bool = False) -> None:
    """Write changes (with the vehicle's merged data, and the poll's time: see `poll_stamp`), record
    evidence, publish, and run the pairing hook.

    A vehicle poll also updates the vehicle's SoC estimate; a charger change also moves the vehicle
    it is ACTIVE with (its chargeState follows the charger at once, and `vehicleUpdated` fires).
    """
    s = rt.settings
    deciding_s = s.confirm_window_s + 2 * s.probe_s + DECIDING_EXTRA_S
    stamp = poll_stamp(kind, row, changes, now, kicked=kicked, deciding_s=deciding_s)
    if not changes:
        if stamp:
            row.polled_at = now
            await row.save(update_fields=["polled_at"])
        if pairing.awaited(row.id):  # a decision waited for this poll, though it changed nothing
            await pairing.after_poll(rt, kind, row, set())
        return
    follower: str | None = None
    async with pairing.user_lock(row.user_id):  # pairing sees a poll's data and its time together
        if kind == "vehicle":
            changes.update(await merge.vehicle_reading(row, changes, now))  # type: ignore[arg-type]
            before = None
        else:
            before = charger_data(row)  # type: ignore[arg-type]
        await _write(kind, row, {**changes, **stamp}, transitions, now)
        if before is not None and (transitions or set(changes) - {"last_seen"}):
            follower = await merge.charger_changed(row, before, changes, transitions, now)  # type: ignore[arg-type]
    if visible(changes):
        await rt.publish(kind, row.user_id, row.id)
        from app.orchestrator.runner import device_changed

        device_changed(row.user_id)  # an action waiting for this device's report is judged now
    if follower is not None:
        await rt.publish("vehicle", row.user_id, follower)
    waited = pairing.awaited(row.id)  # a decision waiting for this poll is taken again, whatever it changed
    # a meter tick alone decides nothing new, except while the plug-in is being decided (the
    # window's end and the probe are judged at the polls that follow it)
    if transitions or set(changes) - NOT_PAIRING_INPUTS or waited \
            or (set(changes) - {"last_seen"} and deciding(kind, row, now, deciding_s)):
        await pairing.after_poll(rt, kind, row, transitions)
    if transitions or set(changes) - {"last_seen"}:  # a last_seen tick alone is no evidence
        from app.smart import hooks

        await hooks.after_poll(rt, kind, row, transitions, changes, now)
