"""Charging sessions: one per plug-in of a charger, with the vehicle once it is known, its energy
from the charger's meter, and what it cost at the location's tariff against charging at once.

Fed by the coordinator after every saved charger poll (`on_charger`); a vehicle's SoC at the
start and end comes from the vehicle of the charger's ACTIVE EV system.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.db.models import Charger, ChargingSession, EvSystem, Location, SmartChargingPlan, Tariff, Vehicle
from app.domain import soc
from app.smart import tariffs
from app.smart.planner import PriceRate
from app.smart.service import battery_of, rates_of


async def _prices(charger: Charger, start: datetime, end: datetime) -> tuple[tuple[PriceRate, ...], str | None]:
    location = await Location.filter(id=charger.location_id).first() if charger.location_id else None  # type: ignore[attr-defined]
    tariff = await Tariff.filter(location_id=location.id).first() if location else None
    if location is None or tariff is None:
        return (), None
    return tariffs.prices(rates_of(tariff), tariff.repeat_daily, location.timezone, start, end), tariff.currency


async def on_charger(charger: Charger, system: EvSystem | None, transitions: set[str],
                     now: datetime) -> ChargingSession | None:
    """Open, update or close the charger's session after a poll (`system`: the charger's ACTIVE EV
    system, if any); the session touched, if any."""
    session = await ChargingSession.filter(charger_id=charger.id, ended_at=None).order_by("-started_at").first()
    if "plugged_in" in transitions or (session is None and charger.is_plugged_in):
        if session is not None:
            await _close(session, charger, now)
        session = await ChargingSession.create(user_id=charger.user_id, charger_id=charger.id,
                                               started_at=charger.plugged_in_at or now,
                                               meter_kwh=charger.session_energy)
    if session is None:
        return None
    await _count(session, charger, now)
    await _identify(session, charger, system, now)
    # unplugged and plugged in again between two polls: the session just opened is the new plug-in's
    if ("unplugged" in transitions and "plugged_in" not in transitions) or charger.is_plugged_in is False:
        await _close(session, charger, now)
    await session.save()
    return session


async def _count(session: ChargingSession, charger: Charger, now: datetime) -> None:
    """Add what the meter gained since the last poll, at the price in force now."""
    meter = charger.session_energy
    if meter is None:
        return
    gained = meter - session.meter_kwh if session.meter_kwh is not None and meter >= session.meter_kwh else meter
    session.meter_kwh = meter
    if charger.charge_rate:
        session.max_power_kw = max(session.max_power_kw, charger.charge_rate)
    if gained <= 0:
        return
    session.energy_kwh = round(session.energy_kwh + gained, 4)
    prices, currency = await _prices(charger, now - timedelta(minutes=1), now + timedelta(minutes=1))
    price = tariffs.price_at(prices, now)
    if price is not None:
        session.cost = round((session.cost or 0.0) + gained * price, 4)
        session.currency = currency


async def _identify(session: ChargingSession, charger: Charger, system: EvSystem | None, now: datetime) -> None:
    """The vehicle of the charger's ACTIVE EV system, its SoC at the session's start, and whether
    a plan steers.

    The start level is Tandem's estimate (as `Vehicle.batteryLevel` shows it: the charger's own SoC
    readings count) less what the session has delivered so far. Taken from a reading older than the
    session (a lagging cloud's), it is taken again from each newer reading until one from the
    session itself (an OCPP charger's SoC, the cloud catching up) has been used: then it stays.
    """
    if system is None:
        return
    vehicle = await Vehicle.filter(id=system.vehicle_id).first()
    if vehicle is None:
        return
    if session.vehicle_id != vehicle.id:
        session.vehicle_id, session.start_level_at = vehicle.id, None
    level, reading_at = battery_of(vehicle, charger, now)
    known = session.start_level_at
    if level is not None and (known is None or (known < session.started_at and reading_at > known)):
        session.start_battery_level = soc.level_before(level, session.energy_kwh, vehicle.battery_capacity)
        session.start_level_at = reading_at
    plan = await SmartChargingPlan.filter(vehicle_id=vehicle.id).first()
    if plan is not None and plan.planned and plan.session_plugged_at == charger.plugged_in_at:
        session.is_smart = True


async def _close(session: ChargingSession, charger: Charger, now: datetime) -> None:
    """End the session: the vehicle's SoC now (Tandem's estimate, as for the start), and the cost
    of the same energy charged at once."""
    session.ended_at = now
    if session.vehicle_id:
        vehicle = await Vehicle.filter(id=session.vehicle_id).first()
        session.end_battery_level = battery_of(vehicle, charger, now)[0] if vehicle else None
    power = session.max_power_kw or 11.0
    if session.energy_kwh > 0:
        hours = session.energy_kwh / power
        end = session.started_at + timedelta(hours=hours)
        prices, currency = await _prices(charger, session.started_at, end + timedelta(minutes=1))
        cost = 0.0
        step = timedelta(minutes=1)
        t = session.started_at
        covered = True
        while t < end:
            dt = min(step, end - t)
            price = tariffs.price_at(prices, t)
            if price is None:
                covered = False
                break
            cost += power * dt.total_seconds() / 3600 * price
            t += dt
        if covered and prices:
            session.non_smart_cost = round(cost, 4)
            session.currency = session.currency or currency
    await session.save()
