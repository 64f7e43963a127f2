"""Active probe (opt-in, `TANDEM_ALLOW_PROBE`): tell ambiguous cars apart by pausing the charger.

When a plugged-in, charging charger still cannot be paired after the confirmation window, the
charger is paused for at most `probe_s` while the candidate cars are read until each reports
data from after the pause, and charging is resumed. The one car that stopped, and charged
again after the resume, is the one on the cable; anything else leaves the systems ESTABLISHED.
Either way the outcome is written to the systems' `evidence`, tagged with the plug session so
it is kept until unplug. While the probe runs (and shortly after), pairing reads no charging
evidence from that charger's span: the pause would look like a car contradicting the charger.
Only the worker that polls the charger starts a probe, at most once per plug session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from adapters import errors as ve
from adapters.types import Session
from app.db.models import Charger, EvSystem, Vehicle, VendorLink
from app.domain import pairing as dp
from app.domain import vendortime
from app.runtime import Runtime

log = logging.getLogger("tandem.probe")
READ_EVERY_S = 5.0
_started: set[tuple[str, datetime]] = set()  # (charger id, plug session) probed by this process
_tasks: set[asyncio.Task[None]] = set()
#: charger id -> (plug session, paused at, resumed at or None): this process's probes.
_pauses: dict[str, tuple[datetime, datetime, datetime | None]] = {}


def pause_of(charger_id: str, plugged_in_at: datetime | None) -> tuple[datetime, datetime | None] | None:
    """When a probe paused this charger in this plug session, and when it resumed it (None: not yet).
    Pairing reads no charging evidence from that span: it is the probe's to judge."""
    entry = _pauses.get(charger_id)
    if entry is None or entry[0] != plugged_in_at:
        return None
    return entry[1], entry[2]


def session_tag(plugged_in_at: datetime) -> str:
    """What marks a probe's evidence line as belonging to one plug session."""
    return f"(plug-in {plugged_in_at.strftime('%H:%M:%S')})"


def maybe_start(rt: Runtime, user_id: str, charger: Charger, decision: dp.Decision) -> bool:
    """Start a probe for `decision` when allowed and not done yet for this plug session."""
    if not (rt.settings.allow_probe and decision.needs_probe and charger.is_charging and charger.plugged_in_at):
        return False
    key = (charger.id, charger.plugged_in_at)
    if key in _started:
        return False
    _started.add(key)
    task = asyncio.create_task(run(rt, user_id, charger.id, decision.candidates, charger.plugged_in_at))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return True


async def _session(row: Vehicle | Charger) -> Session:
    link = await VendorLink.get(id=row.link_id)
    return Session(vendor=row.vendor, access_token=link.access_token)


async def _read(rt: Runtime, cars: list[Vehicle]) -> dict[str, dp.VehicleObs]:
    """The candidates' charge state now (cars whose read fails are left out)."""
    out: dict[str, dp.VehicleObs] = {}
    for car in cars:
        try:
            snap = await rt.adapter(car.vendor).read_vehicle(await _session(car), car.vendor_id)
        except ve.VendorError:
            continue
        at = datetime.now(UTC)
        claim = vendortime.received(snap.data_age, at, car.clock_ahead_s or 0.0)
        out[car.id] = dp.VehicleObs(at, claim.at, snap.is_plugged_in, snap.is_charging, snap.charge_rate_kw)
    return out


async def _watch(rt: Runtime, cars: list[Vehicle], since: datetime,
                 enough: Callable[[dict[str, dp.VehicleObs]], bool]) -> dict[str, dp.VehicleObs]:
    """Read `cars` every few seconds, for at most `probe_s`, until `enough` of them reported data
    taken after `since`; returns each one's latest such reading."""
    got: dict[str, dp.VehicleObs] = {}
    if not cars:
        return got
    loop = asyncio.get_running_loop()
    end = loop.time() + rt.settings.probe_s
    while loop.time() < end and not enough(got):
        await asyncio.sleep(min(READ_EVERY_S, max(0.0, end - loop.time())))
        got.update({vid: o for vid, o in (await _read(rt, cars)).items() if o.taken_at > since})
    return got


async def run(rt: Runtime, user_id: str, charger_id: str, candidates: tuple[str, ...],
              plugged_in_at: datetime) -> None:
    """Pause, watch, resume, decide; record the outcome."""
    chosen: str | None = None
    try:
        chosen, line = await _probe(rt, charger_id, list(candidates), plugged_in_at)
    except Exception:
        log.exception("probe of charger %s failed", charger_id)
        line = "probe failed unexpectedly: not activating"
    await record(rt, user_id, charger_id, plugged_in_at, f"{line} {session_tag(plugged_in_at)}", chosen)


async def _probe(rt: Runtime, charger_id: str, candidates: list[str],
                 plugged_in_at: datetime) -> tuple[str | None, str]:
    charger = await Charger.get(id=charger_id)
    cars = await Vehicle.filter(id__in=candidates)
    before = await _read(rt, cars)
    adapter, session = rt.adapter(charger.vendor), await _session(charger)
    paused_at = datetime.now(UTC)  # before the command: a car may stop as soon as the charger does
    _pauses[charger_id] = (plugged_in_at, paused_at, None)
    try:
        await adapter.stop_charging(session, charger.vendor_id)
    except ve.VendorError as exc:
        _pauses[charger_id] = (plugged_in_at, paused_at, datetime.now(UTC))
        return None, f"probe could not pause the charger ({exc.code}): not activating"
    log.info("probing charger %s: paused, watching %d vehicles", charger_id, len(cars))
    watch_ids = set(dp.probe_watch(candidates, before))
    watched = [car for car in cars if car.id in watch_ids]
    try:  # until every watched car reported from the pause and one of them stopped (or time is up)
        paused = await _watch(rt, watched, paused_at,
                              lambda got: len(got) == len(watched) and not all(o.is_charging for o in got.values()))
    finally:
        try:
            await adapter.start_charging(session, charger.vendor_id)
        except ve.VendorError as exc:
            log.warning("probe could not resume charger %s: %s", charger_id, exc.code)
        resumed_at = datetime.now(UTC)
        _pauses[charger_id] = (plugged_in_at, paused_at, resumed_at)
    follower_ids = set(dp.probe_followers(watch_ids, paused, paused_at))
    followers = [car for car in watched if car.id in follower_ids]
    resumed = await _watch(rt, followers, resumed_at, lambda got: any(o.is_charging for o in got.values())) \
        if len(followers) == 1 else {}
    names = {car.id: " ".join(p for p in (car.brand, car.model) if p) + f" ({car.id[:6]})" for car in cars}
    chosen, line = dp.interpret_probe(candidates, before, paused, resumed, paused_at, resumed_at)
    for vid, name in names.items():
        line = line.replace(vid, name)
    return chosen, line


async def record(rt: Runtime, user_id: str, charger_id: str, plugged_in_at: datetime, line: str,
                 chosen: str | None) -> None:
    """Write the probe's line to the charger's systems; activate the one it singled out."""
    from app.services.pairing import MAX_EVIDENCE, activate_if_still_open

    for system in await EvSystem.filter(charger_id=charger_id, status="ESTABLISHED"):
        system.evidence = [*system.evidence, line][-MAX_EVIDENCE:]
        await system.save(update_fields=["evidence", "updated_at"])
        await rt.publish("evSystem", user_id, system.id)
    if chosen:
        await activate_if_still_open(rt, user_id, charger_id, chosen, plugged_in_at)


async def stop() -> None:
    """Cancel running probes (process shutdown)."""
    for task in list(_tasks):
        task.cancel()
    await asyncio.gather(*_tasks, return_exceptions=True)
