"""One step of an action's state machine: verify, troubleshoot, send, schedule the next check.

The action's `plan` is its durable memory: which paths were excluded, tries per path, the
command in flight ("sending" is written before a command goes out, "sent" after), wake-ups and
schedule overrides. A worker resuming after a crash therefore verifies before it re-sends.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from adapters import errors as ve
from adapters.types import Session
from app.db.models import ActionAttempt, ChargeAction, Charger, Vehicle, VendorLink
from app.errors import NotFoundError
from app.orchestrator import holds, routing
from app.orchestrator.api import finish, utcnow
from app.orchestrator.context import Target, achieved, target_of
from app.runtime import Runtime

log = logging.getLogger("tandem.orchestrator")
#: While a sent command is being verified the charger is polled at every check, the vehicle only
#: this many seconds after sending (a fixed, short schedule keeps vehicle polls few).
VERIFY_POLLS_S = (2.0, 5.0, 10.0, 20.0, 30.0, 45.0)
COMMAND = {"START": "start_charging", "STOP": "stop_charging", "SET_MAX_CURRENT": "set_max_current"}


async def step(rt: Runtime, action: ChargeAction) -> None:
    """Advance one PENDING action by one decision."""
    now = utcnow()
    try:
        target = await target_of(action)
    except NotFoundError:
        await finish(rt, action, "FAILED", "NOT_FOUND", "The target was unlinked.")
        return
    plan: dict[str, Any] = dict(action.plan or {})
    current = plan.get("current")
    if action.origin == "USER" and now < action.deadline:  # Tandem's own probe first: its pause proves nothing
        held = await holds.hold(action.user_id, target, now,  # type: ignore[attr-defined]
                                rt.settings.action_check_s, rt.settings.verify_vehicle_s)
        if held is not None:
            if held.refresh:
                await _kick(rt, target)
            return await _later(action, plan, held.until)
    if achieved(action, target):
        if current:
            await _score(target, current["via"], True)
        await finish(rt, action, "CONFIRMED")
        return
    if target.plugged is False and action.kind != "SET_MAX_CURRENT":
        await finish(rt, action, "CANCELLED", "FAILED_PRECONDITION", "Unplugged before the action completed.")
        return
    if now >= action.deadline:
        await finish(rt, action, "FAILED", "NO_RESPONSE", _timeout_detail(action))
        return
    check = rt.settings.action_check_s
    if current and now < _at(current["at"]) + timedelta(seconds=_verify_s(rt, current["via"])):
        polls = int(current.get("polls", 0))
        vehicle_due = polls < len(VERIFY_POLLS_S) and now >= _at(current["at"]) + timedelta(
            seconds=VERIFY_POLLS_S[polls])
        if vehicle_due:
            current["polls"] = polls + 1
        await _kick(rt, target, vehicle=vehicle_due)  # chargers are cheap to poll: every check
        return await _later(action, plan, now + timedelta(seconds=check))
    if current:  # sent, but the state did not follow in time: count it against that path
        await _score(target, current["via"], False)
    await _send_next(rt, action, target, plan, now)


async def _score(target: Target, via: str, ok: bool) -> None:
    row = target.vehicle if via == "VEHICLE" else target.charger
    if row is not None:
        await routing.record(row.id, row.vendor, via, ok)


def _verify_s(rt: Runtime, via: str) -> float:
    return rt.settings.verify_charger_s if via == "CHARGER" else rt.settings.verify_vehicle_s


def _at(raw: str) -> datetime:
    return datetime.fromisoformat(raw)


def _timeout_detail(action: ChargeAction) -> str:
    tries = action.plan.get("tries", {}) if action.plan else {}
    if not tries:
        return "No path could take the command before the deadline."
    sent = ", ".join(f"{n} via {via.lower()}" for via, n in tries.items())
    return f"Commands were sent ({sent}) but the device state never followed."


async def _later(action: ChargeAction, plan: dict[str, Any], when: datetime) -> None:
    action.plan, action.next_step_at = plan, min(when, action.deadline)
    await action.save(update_fields=["plan", "next_step_at", "updated_at"])


async def _send_next(rt: Runtime, action: ChargeAction, target: Target, plan: dict[str, Any], now: datetime) -> None:
    excluded: set[str] = set(plan.get("excluded", []))
    tries: dict[str, int] = dict(plan.get("tries", {}))
    paths = target.paths(action.kind)
    asset_of = {"VEHICLE": target.vehicle.id if target.vehicle else "",
                "CHARGER": target.charger.id if target.charger else ""}
    # A charger schedule holding the car blocks a start through either path: only the charger
    # path can override it, so it goes first.
    blocked = action.kind == "START" and target.charger is not None and bool(target.charger.schedule_blocking)
    ordered = routing.order(paths, asset_of, tries, excluded, first="CHARGER" if blocked else None,
                            rates=await routing.scores(asset_of.values()))
    if not ordered:
        if paths or excluded:
            await finish(rt, action, "FAILED", "NO_RESPONSE" if tries else "NOT_CAPABLE",
                         "Every path refused the command: " + ", ".join(sorted(excluded)).lower())
        else:
            await finish(rt, action, "FAILED", "NOT_CAPABLE", "No capable path is left.")
        return
    path = ordered[0]
    row: Vehicle | Charger = target.vehicle if path.via == "VEHICLE" else target.charger  # type: ignore[assignment]
    if path.via == "CHARGER" and target.charger is None:
        return await _later(action, plan, now + timedelta(seconds=rt.settings.action_check_s))
    plan["current"] = {"via": path.via, "at": now.isoformat(), "state": "sending"}
    tries[path.via] = tries.get(path.via, 0) + 1
    plan["tries"] = tries
    await _later(action, plan, now + timedelta(seconds=rt.settings.action_check_s))
    retry_in = await _command(rt, action, target, path.via, row, plan, excluded)
    if retry_in is None and _both(action, target, blocked) and len(ordered) > 1:
        await _also(rt, action, target, ordered[1].via, plan, tries, excluded)
    plan["excluded"] = sorted(excluded)
    if retry_in is None:
        plan["current"]["state"] = "sent"
        await _kick(rt, target)
        retry_in = rt.settings.action_check_s
    else:
        plan["current"] = None
    await _later(action, plan, utcnow() + timedelta(seconds=retry_in))
    await rt.publish("action", action.user_id, action.id)  # type: ignore[attr-defined]


def _both(action: ChargeAction, target: Target, blocked: bool) -> bool:
    """Whether a start goes through both paths at once: the charger is stopped (paused by someone,
    or the car stopped asking), and either side alone may not get power flowing again."""
    charger = target.charger
    return (action.kind == "START" and not blocked and charger is not None and target.vehicle is not None
            and charger.power_state == "PLUGGED_IN_STOPPED")


async def _also(rt: Runtime, action: ChargeAction, target: Target, via: str, plan: dict[str, Any],
                tries: dict[str, int], excluded: set[str]) -> None:
    """Send the same command through the second path too (recorded in the plan first)."""
    row: Vehicle | Charger | None = target.vehicle if via == "VEHICLE" else target.charger
    if row is None:
        return
    plan["current"]["also"] = via
    tries[via] = tries.get(via, 0) + 1
    await _later(action, plan, utcnow() + timedelta(seconds=rt.settings.action_check_s))
    await _command(rt, action, target, via, row, plan, excluded)


async def _command(rt: Runtime, action: ChargeAction, target: Target, via: str, row: Vehicle | Charger,
                   plan: dict[str, Any], excluded: set[str]) -> float | None:
    """Send the command through one path, troubleshooting first. None when sent; else seconds
    until the next attempt."""
    link = await VendorLink.get(id=row.link_id)
    adapter = rt.adapter(row.vendor)
    session = Session(vendor=row.vendor, access_token=link.access_token)
    try:
        if via == "CHARGER" and action.kind == "START" and target.charger and target.charger.schedule_blocking \
                and not plan.get("overrode"):
            await adapter.override_schedule(session, row.vendor_id)
            plan["overrode"] = True
            await _attempt(action, via, "override_schedule", "ok", "the charger's schedule held the car waiting")
        name = COMMAND[action.kind]
        if action.kind == "SET_MAX_CURRENT":
            await adapter.set_max_current(session, row.vendor_id, action.max_current)
        else:
            await getattr(adapter, name)(session, row.vendor_id)
    except ve.Asleep:
        await _attempt(action, via, COMMAND[action.kind], "ASLEEP", "the vehicle is asleep")
        await routing.record(row.id, row.vendor, via, False)
        if plan.get("wakes", 0) < 3 and hasattr(adapter, "wake_up"):
            plan["wakes"] = plan.get("wakes", 0) + 1
            try:
                await adapter.wake_up(session, row.vendor_id)
                await _attempt(action, via, "wake_up", "ok", "woke the vehicle, retrying shortly")
            except ve.VendorError as exc:
                await _attempt(action, via, "wake_up", exc.code, exc.detail)
            return rt.settings.wake_wait_s
        excluded.add(via)
        return 0.0
    except ve.RateLimited as exc:
        await _attempt(action, via, COMMAND[action.kind], exc.code, f"retry after {exc.retry_after:g} s")
        return exc.retry_after
    except (ve.NotCapable, ve.PreconditionFailed, ve.AuthRevoked, ve.NotFound) as exc:
        await _attempt(action, via, COMMAND[action.kind], exc.code, exc.detail)
        await routing.record(row.id, row.vendor, via, False)
        excluded.add(via)
        return 0.0
    except ve.VendorError as exc:
        await _attempt(action, via, COMMAND[action.kind], exc.code, exc.detail)
        await routing.record(row.id, row.vendor, via, False)
        return 0.0 if len(target.paths(action.kind)) > 1 else rt.settings.action_check_s
    await _attempt(action, via, COMMAND[action.kind], "ok", "accepted; waiting for the device to follow")
    return None


async def _attempt(action: ChargeAction, via: str, command: str, outcome: str, detail: str) -> None:
    await ActionAttempt.create(action=action, via=via, command=command, outcome=outcome, detail=detail, at=utcnow())


async def _kick(rt: Runtime, target: Target, *, vehicle: bool = True) -> None:
    """Poll the target's devices now (the poller debounces repeated kicks)."""
    from app.workers.kick import request_poll

    if target.charger is not None:
        await request_poll(rt, "charger", target.charger.id)
    if vehicle and target.vehicle is not None:
        await request_poll(rt, "vehicle", target.vehicle.id)
