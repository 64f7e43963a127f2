"""The probe's state is in the database: one probe per plug session, its pause window, and its
internal actions holding the user's actions on the same devices (SQLite, and PostgreSQL with
`TANDEM_TEST_DATABASE_URL`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from app.db.models import ChargeAction, Charger, ChargerProbe, Vehicle
from app.domain import pairing as dp
from app.orchestrator import api, holds
from app.orchestrator.context import load_target
from app.orchestrator.engine import step
from app.runtime import Runtime
from app.services import probe, probe_readings, probe_steps
from app.settings import Settings
from tests.unit.fixtures import Household, household, now, runtime


@pytest.fixture
async def rt(database: Settings) -> AsyncIterator[Runtime]:
    from dataclasses import replace

    running = await runtime(replace(database, allow_probe=True, probe_s=20.0))
    yield running
    await running.bus.disconnect()


def _decision(h: Household) -> dp.Decision:
    return dp.Decision(charger_id=h.chargers["c1"].id, vehicle_id=None, ambiguous=True, needs_probe=True,
                       candidates=tuple(v.id for v in h.vehicles.values()), evidence=())


async def _internal(h: Household, kind: str, state: str = "PENDING", completed_ago_s: float | None = None
                    ) -> ChargeAction:
    """A probe's action on c1 holding the charger and both cars."""
    t = now()
    return await ChargeAction.create(
        user=h.user, target_id=h.chargers["c1"].id, target_type="CHARGER", kind=kind, origin="PROBE", state=state,
        plan={"holds": [h.chargers["c1"].id, *(v.id for v in h.vehicles.values())]}, deadline=t + timedelta(minutes=1),
        next_step_at=t + timedelta(minutes=1),
        completed_at=t - timedelta(seconds=completed_ago_s) if completed_ago_s is not None else None)


async def _paused(h: Household) -> None:
    """The charger as the probe's pause left it."""
    await Charger.filter(id=h.chargers["c1"].id).update(is_charging=False, power_state="PLUGGED_IN_STOPPED",
                                                        charge_rate=0)
    await Vehicle.filter(id__in=[v.id for v in h.vehicles.values()]).update(is_charging=False, is_plugged_in=True)


async def test_one_probe_per_plug_session_whichever_process_asks(rt: Runtime) -> None:
    h = await household(2, 1, plugged_in_at=now())
    charger = h.chargers["c1"]
    assert await probe.maybe_start(rt, h.user.id, charger, _decision(h))
    assert not await probe.maybe_start(rt, h.user.id, charger, _decision(h)), "the database remembers"
    assert await ChargerProbe.filter(charger_id=charger.id).count() == 1
    charger.plugged_in_at = now() + timedelta(seconds=1)  # unplugged and plugged in again: a new session
    await charger.save()
    assert await probe.maybe_start(rt, h.user.id, charger, _decision(h))


async def test_no_probe_while_a_users_action_on_the_charger_or_a_candidate_is_pending(rt: Runtime) -> None:
    h = await household(2, 1, plugged_in_at=now())
    await ChargeAction.create(user=h.user, target_id=h.vehicles["v2"].id, target_type="VEHICLE", kind="START",
                              deadline=now() + timedelta(minutes=5))
    assert not await probe.maybe_start(rt, h.user.id, h.chargers["c1"], _decision(h))
    assert not await ChargerProbe.exists()


async def test_no_probe_unless_allowed_needed_and_charging(rt: Runtime, database: Settings) -> None:
    h = await household(2, 1, plugged_in_at=now())
    charger = h.chargers["c1"]
    plain = await runtime(database)  # allow_probe false by default
    try:
        assert not await probe.maybe_start(plain, h.user.id, charger, _decision(h))
    finally:
        await plain.bus.disconnect()
    charger.is_charging = False
    assert not await probe.maybe_start(rt, h.user.id, charger, _decision(h))
    assert not await ChargerProbe.exists()


async def test_the_pause_window_is_read_from_the_database_for_the_current_session(rt: Runtime) -> None:
    plugged = now()
    h = await household(2, 1, plugged_in_at=plugged)
    charger = h.chargers["c1"]
    paused = plugged + timedelta(minutes=10)
    await ChargerProbe.create(user=h.user, charger=charger, plugged_in_at=plugged, paused_at=paused, phase="WATCHING")
    assert probe.pause_of(await probe.pauses([charger]), charger) == (paused, None)
    charger.plugged_in_at = plugged + timedelta(hours=1)
    assert await probe.pauses([charger]) == {}, "another plug session"
    assert probe.pause_of({charger.id: (plugged, paused, None)}, charger) is None


async def test_a_users_stop_during_the_probes_pause_is_not_confirmed_by_it(rt: Runtime) -> None:
    h = await household(2, 1, plugged_in_at=now())
    pause = await _internal(h, "STOP", "CONFIRMED", completed_ago_s=2)
    resume = await _internal(h, "START")
    await _paused(h)
    for target_type, target_id in (("CHARGER", h.chargers["c1"].id), ("VEHICLE", h.vehicles["v1"].id)):
        action = await api.request_action(rt, h.user.id, target_type, target_id, "STOP", None, None)
        assert action.state == "PENDING", "not UNNECESSARY: the charger stopped because the probe paused it"
        assert action.id not in (pause.id, resume.id) and action.origin == "USER"
        await step(rt, action)
        held = await ChargeAction.get(id=action.id).prefetch_related("attempts")
        assert held.state == "PENDING" and list(held.attempts) == [], "neither confirmed nor sent while held"
        assert held.next_step_at is not None and held.next_step_at > now()


async def test_a_users_start_is_not_merged_into_or_cancelled_by_the_probes_actions(rt: Runtime) -> None:
    h = await household(2, 1, plugged_in_at=now())
    await _paused(h)
    resume = await _internal(h, "START")
    action = await api.request_action(rt, h.user.id, "CHARGER", h.chargers["c1"].id, "START", None, None)
    assert action.id != resume.id and action.state == "PENDING"
    stop = await api.request_action(rt, h.user.id, "CHARGER", h.chargers["c1"].id, "STOP", None, None)
    assert (await ChargeAction.get(id=resume.id)).state == "PENDING", "a user's action never cancels the probe's"
    assert (await ChargeAction.get(id=action.id)).state == "CANCELLED" and stop.origin == "USER"


async def test_internal_actions_are_not_the_users_to_cancel(rt: Runtime) -> None:
    h = await household(1, 1, plugged_in_at=now())
    resume = await _internal(h, "START")
    with pytest.raises(Exception, match="No such action"):
        await api.cancel_action(rt, h.user.id, resume.id)


async def test_after_the_probe_a_vehicle_judged_by_its_own_data_waits_for_data_from_after_it(rt: Runtime) -> None:
    h = await household(2, 1, plugged_in_at=now())
    await _internal(h, "START", "CONFIRMED", completed_ago_s=1)
    v1 = h.vehicles["v1"]
    await Vehicle.filter(id=v1.id).update(data_age=now() - timedelta(seconds=30), is_charging=False)
    target = await load_target(h.user.id, "VEHICLE", v1.id)
    held = await holds.hold(h.user.id, target, now(), 1.0, rt.settings.verify_vehicle_s)
    assert held is not None and held.refresh, "its data is from the pause"
    await Vehicle.filter(id=v1.id).update(data_age=now(), is_charging=True)
    target = await load_target(h.user.id, "VEHICLE", v1.id)
    assert await holds.hold(h.user.id, target, now(), 1.0, rt.settings.verify_vehicle_s) is None


async def test_the_hold_ends_with_the_probe_and_covers_only_held_assets(rt: Runtime) -> None:
    h = await household(2, 2, plugged_in_at=now())
    resume = await _internal(h, "START")
    other = await load_target(h.user.id, "CHARGER", h.chargers["c2"].id)
    assert await holds.hold(h.user.id, other, now(), 1.0, 5.0) is None, "another charger is not held"
    mine = await load_target(h.user.id, "CHARGER", h.chargers["c1"].id)
    assert await holds.hold(h.user.id, mine, now(), 1.0, 5.0) is not None
    await ChargeAction.filter(id=resume.id).update(state="CONFIRMED", completed_at=now())
    assert await holds.hold(h.user.id, mine, now(), 1.0, 5.0) is None, "the charger's own data confirmed the resume"


async def test_readings_survive_the_database_round_trip(rt: Runtime) -> None:
    h = await household(2, 1, plugged_in_at=now())
    t = now()
    await Vehicle.filter(id=h.vehicles["v1"].id).update(polled_at=t, data_age=t - timedelta(seconds=5),
                                                         is_plugged_in=True, is_charging=True, charge_rate=7.2)
    await Vehicle.filter(id=h.vehicles["v2"].id).update(polled_at=t, poll_error="ASLEEP")  # its read failed
    got = await probe_readings.current([v.id for v in h.vehicles.values()])
    assert set(got) == {h.vehicles["v1"].id}
    assert got[h.vehicles["v1"].id].taken_at == t - timedelta(seconds=5)
    assert await probe_readings.current([h.vehicles["v1"].id], since=t) == {}, "nothing taken after `since`"
    row = await ChargerProbe.create(user=h.user, charger=h.chargers["c1"], plugged_in_at=t,
                                    readings=probe_readings.Readings(got, {}, got).dump())
    again = probe_readings.Readings.of(await ChargerProbe.get(id=row.id))
    assert again.before == got and again.resumed == got and again.paused == {}


async def _step(rt: Runtime, probe_id: str, recorder: probe.Recorder) -> ChargerProbe:
    """One step, from the database alone (as any worker would take it)."""
    await probe_steps.step(rt, await ChargerProbe.get(id=probe_id), recorder)
    return await ChargerProbe.get(id=probe_id)


async def _report(v: Vehicle, charging: bool) -> None:
    await Vehicle.filter(id=v.id).update(polled_at=now(), data_age=now(), is_plugged_in=True, is_charging=charging,
                                         charge_rate=7.0 if charging else 0.0)


async def test_the_probe_steps_from_the_database_alone(rt: Runtime) -> None:
    h = await household(2, 1, plugged_in_at=now() - timedelta(minutes=5))
    v1, v2 = h.vehicles["v1"], h.vehicles["v2"]
    for v in (v1, v2):
        await _report(v, True)
    recorded: list[tuple[str, str | None]] = []

    async def recorder(user_id: str, charger_id: str, plugged_in_at: object, line: str, chosen: str | None) -> None:
        recorded.append((line, chosen))

    assert await probe.maybe_start(rt, h.user.id, h.chargers["c1"], _decision(h))
    p = await ChargerProbe.get(charger_id=h.chargers["c1"].id)
    for v in (v1, v2):
        await _report(v, True)  # polled since the probe opened
    p = await _step(rt, p.id, recorder)
    assert p.phase == "WATCHING" and p.paused_at is not None
    pause, resume = await ChargeAction.get(id=p.pause_action_id), await ChargeAction.get(id=p.resume_action_id)
    assert (pause.kind, pause.origin, pause.state) == ("STOP", "PROBE", "PENDING")
    assert (resume.kind, resume.origin) == ("START", "PROBE")
    assert resume.next_step_at is not None and resume.next_step_at >= p.paused_at + timedelta(seconds=20)
    assert holds.held_assets(resume) == {h.chargers["c1"].id, v1.id, v2.id}
    assert probe.pause_of(await probe.pauses([h.chargers["c1"]]), h.chargers["c1"]) == (p.paused_at, None)

    await _report(v1, False)  # v1 follows the pause, v2 charges on elsewhere
    await _report(v2, True)
    p = await _step(rt, p.id, recorder)
    assert p.phase == "RESUMING" and p.resumed_at is not None
    resume = await ChargeAction.get(id=p.resume_action_id)
    assert resume.next_step_at is not None and resume.next_step_at <= now(), "the resume is brought forward"

    await _report(v1, True)  # and charges again once resumed
    p = await _step(rt, p.id, recorder)
    assert p.phase == "DECIDED" and p.chosen_vehicle_id == v1.id
    p = await _step(rt, p.id, recorder)
    assert p.phase == "DECIDED" and recorded == [], "recorded only once the charger is restored"
    await ChargeAction.filter(id=p.resume_action_id).update(state="CONFIRMED", completed_at=now())
    p = await _step(rt, p.id, recorder)
    assert p.phase == "DONE" and p.ended_at is not None
    assert len(recorded) == 1 and recorded[0][1] == v1.id and "only" in recorded[0][0]
    assert recorded[0][0].endswith(probe.session_tag(p.plugged_in_at))


async def test_a_probe_that_cannot_start_says_why(rt: Runtime) -> None:
    h = await household(2, 1, plugged_in_at=now())
    recorded: list[str] = []

    async def recorder(user_id: str, charger_id: str, plugged_in_at: object, line: str, chosen: str | None) -> None:
        recorded.append(line)

    assert await probe.maybe_start(rt, h.user.id, h.chargers["c1"], _decision(h))
    p = await ChargerProbe.get(charger_id=h.chargers["c1"].id)
    await ChargeAction.create(user=h.user, target_id=h.vehicles["v1"].id, target_type="VEHICLE", kind="STOP",
                              deadline=now() + timedelta(minutes=5))  # the user acts meanwhile
    p = await _step(rt, p.id, recorder)
    p = await _step(rt, p.id, recorder)
    assert p.phase == "DONE" and p.paused_at is None and p.pause_action_id is None
    assert recorded and "an action on the charger or a candidate is pending" in recorded[0]
    assert not await ChargeAction.filter(origin="PROBE").exists(), "nothing paused"
