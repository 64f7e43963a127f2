"""Smart charging glue: policies and tariffs in, plans and their execution out.

`tick(rt, vehicle_id)` is the one place a plan is made and carried out: it loads what the
planner needs (the car's SoC and curve, its ACTIVE charger, the location's tariff, the
deadline), plans, stores the plan, and when the plan says to charge (or not) and the car does
the opposite, asks the orchestrator for an ordinary recorded START or STOP action. The worker
calls it every `TANDEM_SMART_CHECK_S` and at once on a plug-in, a new SoC, a price or policy
change; a failed action is simply planned around at the next tick.

Ticks of one vehicle come from the worker (its loop, a poll's hooks) and from mutations in any
web process. In one process they run one at a time; across processes a plan is stored only over
the revision it was made from (`SmartChargingPlan.revision`, also raised by every input a mutation
changes), else it is made again from fresh inputs. So a tick that read a policy, boost or tariff
from before a change never overwrites the plan made after it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from app.db.models import (
    ChargeAction,
    Charger,
    EvSystem,
    Location,
    SmartChargingPlan,
    SmartChargingPolicy,
    Tariff,
    Vehicle,
    new_id,
)
from app.domain import soc as soc_domain
from app.errors import BadInput, NotFoundError
from app.runtime import Runtime
from app.services.state import car_data, charger_data
from app.smart import learning, tariffs
from app.smart.curve import ChargeCurve
from app.smart.planner import NoPrice, PlanInput, plan

log = logging.getLogger("tandem.smart")
HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
DEFAULT_TARGET = 80.0
#: A derate seen now (a cold battery) is planned to last this long (s): a battery warms as it charges.
DERATE_S = 3600.0
#: A tick whose plan was written meanwhile (another process) is made again at most this often.
TICK_TRIES = 5
#: The plan's columns a tick writes (besides `revision` and `updated_at`, which it sets itself).
PLAN_FIELDS = tuple(name for name in SmartChargingPlan._meta.fields_db_projection
                    if name not in ("revision", "updated_at"))
#: One lock per vehicle, kept for the process's life as pairing's user locks are (a small object per car).
_tick_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)


def utcnow() -> datetime:
    """Now, timezone-aware."""
    return datetime.now(UTC)


# -- policy and tariff ----------------------------------------------------------------------------
async def update_policy(user_id: str, vehicle_id: str, *, is_enabled: bool | None = None,
                        deadline: str | None = None, minimum_charge_limit: float | None = None,
                        target_charge_limit: float | None = None) -> SmartChargingPolicy:
    """Change a vehicle's policy (unset arguments keep their value); BadInput changes nothing."""
    vehicle = await Vehicle.filter(id=vehicle_id, user_id=user_id).first()
    if vehicle is None:
        raise NotFoundError("No such vehicle.")
    policy = await SmartChargingPolicy.filter(vehicle_id=vehicle_id).first() or SmartChargingPolicy(
        vehicle_id=vehicle_id, user_id=user_id)
    if deadline is not None and not HHMM.match(deadline):
        raise BadInput("deadline must be a local time HH:MM (00:00-23:59).")
    for name, value in (("minimumChargeLimit", minimum_charge_limit), ("targetChargeLimit", target_charge_limit)):
        if value is not None and not 0 <= value <= 100:
            raise BadInput(f"{name} must be a percentage from 0 to 100.")
    minimum = policy.minimum_charge_limit if minimum_charge_limit is None else minimum_charge_limit
    target = target_of(policy, vehicle) if target_charge_limit is None else target_charge_limit
    if minimum > target:
        raise BadInput(f"minimumChargeLimit ({minimum:g} %) must not be above the target ({target:g} %).")
    if is_enabled is not None:
        policy.is_enabled = is_enabled
    if deadline is not None:
        policy.deadline = deadline
    if minimum_charge_limit is not None:
        policy.minimum_charge_limit = minimum_charge_limit
    if target_charge_limit is not None:
        policy.target_charge_limit = target_charge_limit
    await policy.save()
    await inputs_changed(vehicle_id=vehicle_id)
    return policy


async def inputs_changed(**plans: str) -> None:
    """Raise the revision of the plans named (`vehicle_id=...` or `user_id=...`): a tick in flight
    that read their inputs before the change will not store its plan (see `tick`)."""
    await SmartChargingPlan.filter(**plans).update(revision=F("revision") + 1)


def target_of(policy: SmartChargingPolicy | None, vehicle: Vehicle) -> float:
    """The target: the policy's, else the car's own charge limit, else 80 %."""
    if policy is not None and policy.target_charge_limit is not None:
        return float(policy.target_charge_limit)
    return float(vehicle.charge_limit) if vehicle.charge_limit else DEFAULT_TARGET


async def set_tariff(user_id: str, location_id: str, currency: str, rates: list[tariffs.Rate],
                     repeat_daily: bool) -> Tariff:
    """Replace a location's tariff (BadInput when it cannot be used; nothing changes then)."""
    location = await Location.filter(id=location_id, user_id=user_id).first()
    if location is None:
        raise NotFoundError("No such location.")
    try:
        ordered = tariffs.check(currency, rates, repeat_daily)
    except tariffs.TariffError as exc:
        raise BadInput(str(exc)) from None
    row = await Tariff.filter(location_id=location_id).first() or Tariff(location_id=location_id)
    row.currency = currency
    row.rates = [{"startAt": r.start.isoformat(), "endAt": r.end.isoformat(), "price": r.price} for r in ordered]
    row.repeat_daily = repeat_daily
    await row.save()
    await inputs_changed(user_id=user_id)
    return row


def rates_of(row: Tariff) -> list[tariffs.Rate]:
    """A tariff row's rates."""
    return [tariffs.Rate(datetime.fromisoformat(r["startAt"]), datetime.fromisoformat(r["endAt"]), float(r["price"]))
            for r in row.rates]


def deadline_after(moment: datetime, hhmm: str, timezone: str) -> datetime:
    """The first local HH:MM (in `timezone`) after `moment`."""
    tz = ZoneInfo(timezone)
    local = moment.astimezone(tz)
    h, m = (int(x) for x in hhmm.split(":"))
    candidate = datetime.combine(local.date(), time(h, m), tzinfo=tz)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), time(h, m), tzinfo=tz)
    return candidate.astimezone(UTC)


# -- planning ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    """What a tick decided: the plan row's fields, and whether the car should charge now."""

    state: str
    reason: str | None
    charge: bool | None  # None: leave the car as it is
    fields: dict[str, Any]


def derate_of(charger: Charger, curve: ChargeCurve, soc: float, charger_kw: float) -> float:
    """The share of its curve's power the car takes now, as the charging charger reports it (a cold
    battery; 0.3 to 1); 1 when it is not charging."""
    expected = curve.power_kw(soc, charger_kw)
    if not charger.is_charging or not charger.charge_rate or expected <= 0:
        return 1.0
    return min(1.0, max(0.3, charger.charge_rate / expected))


def _curve(vehicle: Vehicle, charger_kw: float, learned: learning.Learned | None) -> ChargeCurve:
    """The vehicle's learned curve, else defaults from what its cloud says (capacity, charge rate)."""
    if learned is not None:
        return learned.curve
    capacity = vehicle.battery_capacity or 60.0
    return ChargeCurve(max_kw=max(charger_kw, 3.7) if not vehicle.charge_rate else max(vehicle.charge_rate, 3.7),
                       capacity_kwh=capacity, learned=False)


def battery_of(vehicle: Vehicle, charger: Charger, now: datetime) -> tuple[float | None, datetime]:
    """The battery level (%) to plan from and when its last reading was taken: Tandem's estimate
    (app.domain.soc: the newest reading, the car's or the charger's own (OCPP), plus what the
    ACTIVE charger's meter delivered since), so a lagging car cloud does not hide the charging
    already done; the car's raw level where there is no estimate yet."""
    car = car_data(vehicle)
    est = car.soc_estimate()
    level = soc_domain.shown_level(est, charger_data(charger).meter(), vehicle.battery_capacity,
                                   vehicle.charge_limit, now)
    if level is None:
        return vehicle.battery_level, min(now, vehicle.data_age or vehicle.state_updated_at or now)
    return level, min(now, est.at or now)


async def decide(vehicle: Vehicle, policy: SmartChargingPolicy | None, now: datetime,
                 slot_s: float = 900.0) -> Decision:
    """The plan for a vehicle now (reads the database, writes nothing)."""
    if policy is None or not policy.is_enabled:
        return Decision("DISABLED", None, None, {})
    system = await EvSystem.filter(vehicle_id=vehicle.id, status="ACTIVE").first()
    charger = await Charger.filter(id=system.charger_id).first() if system else None
    if charger is None or not charger.plugged_in_at:
        return Decision("CONSIDERING", "The vehicle is not plugged into one of your chargers (no ACTIVE EV system).",
                        None, {"session_plugged_at": None})
    session = {"session_plugged_at": charger.plugged_in_at}
    location = await Location.filter(id=charger.location_id).first() if charger.location_id else None  # type: ignore[attr-defined]
    if location is None:
        return Decision("CONSIDERING", "The charger has no location, so no tariff applies: set its location.",
                        None, session)
    deadline = deadline_after(charger.plugged_in_at, policy.deadline, location.timezone)
    session["deadline_at"] = deadline
    target = target_of(policy, vehicle)
    soc, soc_at = battery_of(vehicle, charger, now)
    if soc is None:
        return Decision("CONSIDERING", "The vehicle's battery level is not known yet.", None, session)
    if policy.boost_session is not None and policy.boost_session == charger.plugged_in_at:
        if soc >= target - 0.5:
            return Decision("PLAN_ENDED_FINISHED", f"Boost reached the target of {target:g} %.", False, session)
        return Decision("PLAN_EXECUTING_CHARGING", f"Boost: charging now until {target:g} %, whatever the price.",
                        True, session)
    if soc >= target - 0.5:
        state = "PLAN_ENDED_FINISHED" if (await _planned(vehicle.id, charger.plugged_in_at)) else "FULLY_CHARGED"
        return Decision(state, None, False, session)
    if now >= deadline:
        return Decision("PLAN_ENDED_DEADLINE",
                        f"The deadline passed at {soc:.0f} %, short of the target of {target:g} %; charging on.",
                        True, session)
    tariff = await Tariff.filter(location_id=location.id).first()
    if tariff is None:
        return Decision("CONSIDERING", f"No tariff at {location.name}: set one with setLocationTariff.", None,
                        session)
    prices = tariffs.prices(rates_of(tariff), tariff.repeat_daily, location.timezone, now, deadline)
    charger_kw = learning.charger_limit_kw(charger)
    learned = await learning.stored(vehicle.id)
    curve = _curve(vehicle, charger_kw, learned)
    try:
        result = plan(PlanInput(now=now, soc=soc, soc_at=soc_at, target=target,
                                minimum=min(policy.minimum_charge_limit, target), deadline=deadline,
                                charger_kw=charger_kw, curve=curve, prices=prices, slot_s=slot_s,
                                derate=derate_of(charger, curve, soc, charger_kw),
                                derate_slots=max(1, math.ceil(DERATE_S / slot_s))))
    except NoPrice as exc:
        return Decision("CONSIDERING", f"No price for the period until the deadline ({exc}).", None, session)
    charging_now = result.charging_at(now) or not result.feasible  # short of time: charge at once
    fields = {
        **session, "start_at": result.start_at, "stop_at": result.stop_at,
        "estimated_finish_at": result.estimated_finish_at, "energy_kwh": result.energy_kwh,
        "smart_cost": result.smart_cost, "non_smart_cost": result.non_smart_cost, "currency": tariff.currency,
        "slots": [{"startAt": s.start.isoformat(), "endAt": s.end.isoformat(), "powerKw": s.power_kw,
                   "price": s.price} for s in result.slots],
        "curve": learning.curve_view(curve, charger_kw, learned.sessions if learned else 0),
        "planned": True,
    }
    state = "PLAN_EXECUTING_CHARGING" if charging_now else "PLAN_EXECUTING_STOPPED"
    return Decision(state, result.reason, charging_now, fields)


async def _planned(vehicle_id: str, plugged_at: datetime) -> bool:
    row = await SmartChargingPlan.filter(vehicle_id=vehicle_id).first()
    return bool(row and row.planned and row.session_plugged_at == plugged_at)


async def tick(rt: Runtime, vehicle_id: str, now: datetime | None = None) -> SmartChargingPlan | None:
    """Plan for one vehicle, store the plan (publishing `vehicleUpdated` when it changed), and
    ask for a START or STOP when the car is not doing what the plan says; the stored plan (None:
    no such vehicle, or the plan was rewritten under every one of TICK_TRIES tries)."""
    async with _tick_locks[vehicle_id]:
        for _ in range(TICK_TRIES):
            done, row = await _tick_once(rt, vehicle_id, now or utcnow())
            if done:
                return row
    log.warning("smart charging plan of vehicle %s was rewritten under %d tries; the next tick plans it",
                vehicle_id[:8], TICK_TRIES)
    return None


async def _tick_once(rt: Runtime, vehicle_id: str, now: datetime) -> tuple[bool, SmartChargingPlan | None]:
    """One try of `tick`: (False, None) when the plan was written since it was read."""
    row = await SmartChargingPlan.filter(vehicle_id=vehicle_id).first()  # first: its revision dates the inputs
    vehicle = await Vehicle.filter(id=vehicle_id).first()
    if vehicle is None:
        return True, None
    policy = await SmartChargingPolicy.filter(vehicle_id=vehicle_id).first()
    d = await decide(vehicle, policy, now, rt.settings.smart_slot_s)
    revision = row.revision if row is not None else None
    if row is None:
        row = SmartChargingPlan(vehicle_id=vehicle_id, user_id=vehicle.user_id)
    before = _visible(row)
    session = d.fields.get("session_plugged_at", row.session_plugged_at)
    if session != row.session_plugged_at:  # a new plug session: a new plan
        row.plan_id, row.planned = new_id(), False
    if "slots" not in d.fields:  # no plan now: nothing planned to show
        for name in ("start_at", "stop_at", "estimated_finish_at", "energy_kwh", "smart_cost", "non_smart_cost",
                     "currency", "curve"):
            setattr(row, name, None)
        row.slots = []
    for name, value in d.fields.items():
        setattr(row, name, value)
    row.state = d.state
    row.reason = d.reason  # type: ignore[assignment]  # a nullable TextField
    if not await _store(row, revision):
        return False, None
    if _visible(row) != before:
        await rt.publish("vehicle", vehicle.user_id, vehicle_id)
    if d.charge is not None:
        await _steer(rt, vehicle, d.charge, row)
    return True, row


async def _store(row: SmartChargingPlan, revision: int | None) -> bool:
    """Write the plan if nobody wrote it (or changed its inputs) since it was read at `revision`
    (None: there was no plan then); whether it was written."""
    if revision is None:
        row.revision = 1
        try:
            await row.save()
        except IntegrityError:  # another process stored the first plan meanwhile
            return False
        return True
    values = {name: getattr(row, name) for name in PLAN_FIELDS}
    stamp = utcnow()
    written = await SmartChargingPlan.filter(vehicle_id=row.vehicle_id, revision=revision).update(
        revision=revision + 1, updated_at=stamp, **values)
    row.revision, row.updated_at = revision + 1, stamp
    return bool(written)


def _visible(row: SmartChargingPlan) -> tuple[Any, ...]:
    return (row.state, row.reason, row.start_at, row.stop_at, row.estimated_finish_at, row.energy_kwh,
            row.smart_cost, row.non_smart_cost, str(row.slots), str(row.curve))


async def _steer(rt: Runtime, vehicle: Vehicle, charge: bool, row: SmartChargingPlan) -> None:
    """One START or STOP action when the car does the opposite and nothing is pending for it."""
    charging = bool(vehicle.is_charging)
    system = await EvSystem.filter(vehicle_id=vehicle.id, status="ACTIVE").first()
    if system is not None:
        charger = await Charger.filter(id=system.charger_id).first()
        if charger is not None and charger.is_charging is not None:
            charging = bool(charger.is_charging)  # the charger knows at once
    if charge == charging:
        return
    if await ChargeAction.filter(user_id=vehicle.user_id, target_id=vehicle.id, state="PENDING").exists():
        return
    from app.orchestrator.api import request_action

    kind = "START" if charge else "STOP"
    minute = utcnow().replace(second=0, microsecond=0).isoformat()
    key = f"smart:{row.plan_id}:{kind}:{minute}"
    action = await request_action(rt, vehicle.user_id, "VEHICLE", vehicle.id, kind, None, key)
    log.info("smart charging asked to %s vehicle %s (action %s, %s)", kind.lower(), vehicle.id[:8], action.id[:8],
             row.state)


async def boost(rt: Runtime, user_id: str, vehicle_id: str) -> None:
    """Charge now until the target for the current plug session, whatever the price."""
    vehicle = await Vehicle.filter(id=vehicle_id, user_id=user_id).first()
    if vehicle is None:
        raise NotFoundError("No such vehicle.")
    system = await EvSystem.filter(vehicle_id=vehicle_id, status="ACTIVE").first()
    charger = await Charger.filter(id=system.charger_id).first() if system else None
    if charger is None or not charger.plugged_in_at:
        raise BadInput("Boost needs the vehicle plugged into one of your chargers (an ACTIVE EV system).")
    policy = await SmartChargingPolicy.filter(vehicle_id=vehicle_id).first() or SmartChargingPolicy(
        vehicle_id=vehicle_id, user_id=user_id)
    policy.boost_session = charger.plugged_in_at
    await policy.save()
    await inputs_changed(vehicle_id=vehicle_id)
    await tick(rt, vehicle_id)
