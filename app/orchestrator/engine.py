"""One step of an action's state machine: verify, end what retrying cannot change, send, back off.

The action's `plan` (app.orchestrator.plan.Plan) is its durable memory. A command's attempt row
is written together with the plan, in one transaction, before the command leaves (outcome
SENDING) and is updated with the vendor's answer. A worker that dies in between leaves it
SENDING; the next step marks it UNKNOWN and verifies from device data before re-sending.

Paths never wait for each other: a path that is rate limited (until the vendor's Retry-After),
backing off after transient failures, or refused for good is skipped and the other path is
tried in the same step. Every adapter call is bounded in time, so no vendor holds a step, and
an action past its deadline always ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from adapters import errors as ve
from adapters.types import Session
from app.db.models import ActionAttempt, ChargeAction, Charger, Vehicle, VendorLink
from app.errors import NotFoundError
from app.orchestrator import holds, routing
from app.orchestrator.api import finish, utcnow
from app.orchestrator.context import Target, achieved, target_of
from app.orchestrator.plan import InFlight, Plan, Refusal, backoff_s
from app.orchestrator.preconditions import Outcome, full_detail, refusal
from app.runtime import Runtime

log = logging.getLogger("tandem.orchestrator")
#: While a sent command is being verified the charger is polled at every check, the vehicle only
#: at these fractions of its verification window after sending (2, 5, 10, 20, 30 and 45 s of the
#: default 45 s: a fixed, short schedule keeps vehicle polls few).
VERIFY_POLLS = (2 / 45, 5 / 45, 10 / 45, 20 / 45, 30 / 45, 1.0)
COMMAND = {"START": "start_charging", "STOP": "stop_charging", "SET_MAX_CURRENT": "set_max_current"}
#: Vendor errors that retrying cannot change, and the failure type each ends a path with.
PERMANENT: dict[type[ve.VendorError], Refusal] = {
    ve.NotCapable: "NOT_CAPABLE", ve.PreconditionFailed: "FAILED_PRECONDITION",
    ve.AuthRevoked: "FAILED_PRECONDITION", ve.NotFound: "NOT_FOUND",
}
#: Which refusal an action ends with when every path refused (the most actionable first).
REFUSAL_ORDER: tuple[Refusal, ...] = ("FAILED_PRECONDITION", "NOT_FOUND", "NOT_CAPABLE")


@dataclass
class Step:
    """One decision about one action: what it reads and the plan it updates."""

    rt: Runtime
    action: ChargeAction
    target: Target
    plan: Plan
    now: datetime


async def step(rt: Runtime, action: ChargeAction) -> None:
    """Advance one PENDING action by one decision."""
    plan = Plan.from_json(action.plan)
    try:
        target = await target_of(action)
    except NotFoundError:
        await finish(rt, action, "FAILED", "NOT_FOUND", "The target was unlinked.")
        return
    s = Step(rt, action, target, plan, utcnow())
    if action.origin == "USER" and s.now < action.deadline:  # Tandem's own probe first: its pause proves nothing
        held = await holds.hold(action.user_id, target, s.now,  # type: ignore[attr-defined]
                                rt.settings.action_check_s, rt.settings.verify_vehicle_s)
        if held is not None:
            if held.refresh:
                await _kick(rt, target)
            await _save(s, held.until)
            return
    if plan.sending:
        await _orphaned(s)
    if achieved(action, target):
        if plan.current:
            await _score(target, plan.current.via, True)
        await _note_unknown(action, "device data then showed the requested state")
        await finish(rt, action, "CONFIRMED")
        return
    ended = _ended_by_data(action, target)
    if ended is not None:
        await finish(rt, action, *ended)
        return
    if s.now >= action.deadline:
        await finish(rt, action, "FAILED", "NO_RESPONSE", timeout_detail(plan, rt.settings.action_timeout_s))
        return
    cur = plan.current
    if cur is not None and s.now < cur.at + timedelta(seconds=_verify_s(rt, cur.via)):
        due_s = VERIFY_POLLS[min(cur.polls, len(VERIFY_POLLS) - 1)] * rt.settings.verify_vehicle_s
        vehicle_due = cur.polls < len(VERIFY_POLLS) and s.now >= cur.at + timedelta(seconds=due_s)
        if vehicle_due:
            cur.polls += 1
        blocked = action.kind == "START" and target.charger is not None and bool(target.charger.schedule_blocking)
        if cur.state == "sent" and cur.also is None and _both(action, target, blocked):
            await _also(s, cur.via, blocked)  # the other path was not ready when this start was sent
        await _kick(rt, target, vehicle=vehicle_due)  # chargers are cheap to poll: every check
        await _save(s, s.now + timedelta(seconds=rt.settings.action_check_s))
        return
    if cur is not None:
        await _did_not_follow(s, cur)
    await _send_next(s)


def _ended_by_data(action: ChargeAction, target: Target) -> Outcome | None:
    """A state of the devices that ends the action whatever is sent."""
    if action.kind != "SET_MAX_CURRENT" and target.plugged is False:
        return "CANCELLED", "FAILED_PRECONDITION", "Unplugged before the action completed."
    if action.kind == "START" and target.full():
        return "CANCELLED", "FAILED_PRECONDITION", full_detail(target.facts("START"))
    return None


def timeout_detail(plan: Plan, timeout_s: float) -> str:
    """Why an action reached its deadline, per path (commands sent, latest reason, waits)."""
    parts = [f"{via.lower()} path: {p.tries} command{'s' if p.tries != 1 else ''}" + (f", {p.why}" if p.why else "")
             for via, p in sorted(plan.paths.items()) if p.tries or p.why]
    if not parts:
        return f"No path could take the command within {timeout_s:g} s."
    return f"Device data did not confirm it within {timeout_s:g} s. " + "; ".join(parts) + "."


# Every use of the success rates goes through these two (the rest of the engine never reads them).
async def _score(target: Target, via: str, ok: bool) -> None:
    """Count a command's result for its path's success rate."""
    row = target.vehicle if via == "VEHICLE" else target.charger
    if row is not None:
        await routing.record(row.id, row.vendor, via, ok)


async def _rates(target: Target) -> dict[str, float]:
    """Recent success rate per via for this target's assets (from the database, so every worker
    agrees and a restart forgets nothing)."""
    rows = [(via, row) for via, row in (("VEHICLE", target.vehicle), ("CHARGER", target.charger)) if row is not None]
    known = await routing.scores(row.id for _, row in rows)
    return {via: known.get((row.id, via), routing.PRIOR) for via, row in rows}


def _verify_s(rt: Runtime, via: str) -> float:
    return rt.settings.verify_charger_s if via == "CHARGER" else rt.settings.verify_vehicle_s


async def _save(s: Step, when: datetime) -> None:
    """Store the plan and the next check (never after the deadline); renews this worker's lease."""
    s.action.plan = s.plan.to_json()
    s.action.next_step_at = min(when, s.action.deadline)
    s.action.lease_until = utcnow() + timedelta(seconds=s.rt.settings.lease_s)
    await s.action.save(update_fields=["plan", "next_step_at", "lease_until", "updated_at"])


async def _orphaned(s: Step) -> None:
    """Commands a stopped worker was sending: their outcome is unknown; verify from device data."""
    await ActionAttempt.filter(id__in=s.plan.sending, outcome="SENDING").update(
        outcome="UNKNOWN", detail="no answer recorded: the worker stopped while sending; verifying from device data")
    s.plan.sending = []
    if s.plan.current is not None:  # verify afresh: the device gets a whole window from now
        s.plan.current.state, s.plan.current.at, s.plan.current.polls = "sent", s.now, 0


async def _note_unknown(action: ChargeAction, what: str) -> None:
    for attempt in await ActionAttempt.filter(action_id=action.id, outcome="UNKNOWN"):
        attempt.detail = f"{attempt.detail}; {what}"
        await attempt.save(update_fields=["detail"])


async def _did_not_follow(s: Step, cur: InFlight) -> None:
    """A sent command whose state never showed: count it against its path(s) and back off."""
    verify = _verify_s(s.rt, cur.via)
    for via in filter(None, (cur.via, cur.also)):
        await _score(s.target, via, False)
        _back_off(s, via, f"accepted, but device data did not show it within {verify:g} s")
    for attempt in await ActionAttempt.filter(id__in=cur.attempt_ids, outcome="ok"):
        attempt.detail = f"accepted, but device data did not show it within {verify:g} s"
        await attempt.save(update_fields=["detail"])
    s.plan.current = None


def _back_off(s: Step, via: str, why: str) -> str:
    """Hold a path back after a transient failure; returns why and for how long, in words."""
    p = s.plan.path(via)
    p.failures += 1
    wait = backoff_s(p.failures, s.rt.settings.action_backoff_s, s.rt.settings.action_backoff_max_s)
    p.wait_until = utcnow() + timedelta(seconds=wait)
    p.why = why
    return f"{why}; next try through this path in {wait:.1f} s" if wait < 10 else \
        f"{why}; next try through this path in {wait:.0f} s"


def lead(kind: str, blocked: bool, vehicle_ok: bool | None, charger_ok: bool | None, vehicle_score: float,
         charger_score: float) -> str | None:
    """Which path leads (None: the capability order, native vehicle first). `*_ok`: whether the
    device answered its last poll (None: no such path).

    A charger schedule holding the car blocks a start through either path and only the charger
    can override it. A device that did not answer its last poll (offline, asleep, rate limited)
    goes after one that did. A stop then leads with the charger: its pause leaves either path able
    to resume, where a car stopped through its own API refuses power until told to start. Otherwise
    the charger leads unless its recent success rate is worse: it acts within seconds and its next
    poll confirms (while plugged together its current is the one read back), where a car's cloud
    may sleep, lag or be out of coverage."""
    if blocked:
        return "CHARGER"
    if vehicle_ok is None or charger_ok is None:
        return None
    if vehicle_ok != charger_ok:
        return "VEHICLE" if vehicle_ok else "CHARGER"
    if kind == "STOP":  # the charger's pause leaves either path able to resume (see _waits_for_charger)
        return "CHARGER"
    return "CHARGER" if charger_score >= vehicle_score else None


def _first(s: Step, blocked: bool, rates: dict[str, float]) -> str | None:
    t, vias = s.target, {p.via for p in s.target.paths(s.action.kind)}
    v_ok = t.vehicle.poll_error is None if t.vehicle is not None and "VEHICLE" in vias else None
    c_ok = t.charger.poll_error is None and t.charger.is_online if t.charger is not None and "CHARGER" in vias \
        else None
    return lead(s.action.kind, blocked, v_ok, c_ok, rates.get("VEHICLE", 0.0), rates.get("CHARGER", 0.0))


async def _send_next(s: Step) -> None:
    """Send through the best ready path; the others at once when it cannot take the command."""
    action, target, plan, settings = s.action, s.target, s.plan, s.rt.settings
    paths = target.paths(action.kind)
    open_vias = [p.via for p in paths if plan.path(p.via).refused is None]
    if not open_vias:
        await _end_refused(s, bool(paths))
        return
    blocked = action.kind == "START" and target.charger is not None and bool(target.charger.schedule_blocking)
    tries = {via: p.tries for via, p in plan.paths.items()}
    rates = await _rates(target)
    first = _first(s, blocked, rates)
    asset_of = {"VEHICLE": target.vehicle.id if target.vehicle else "",
                "CHARGER": target.charger.id if target.charger else ""}
    scored = {(asset_of[via], via): rate for via, rate in rates.items()}
    for path in routing.order(paths, asset_of, tries, set(), first=first, rates=scored):
        if plan.commands >= settings.action_max_commands:
            break
        if not plan.path(path.via).ready(utcnow()) or _waits_for_charger(s, path.via):
            continue
        if await _send(s, path.via, blocked):
            if _both(action, target, blocked):
                await _also(s, path.via, blocked)
            await _kick(s.rt, target)
            await _save(s, utcnow() + timedelta(seconds=settings.action_check_s))
            await s.rt.publish("action", action.user_id, action.id)  # type: ignore[attr-defined]
            return
    open_vias = [v for v in open_vias if plan.path(v).refused is None]
    if not open_vias:
        await _end_refused(s, True)
        return
    if plan.commands >= settings.action_max_commands:
        await finish(s.rt, action, "FAILED", "NO_RESPONSE",
                     f"Gave up after {plan.commands} commands. " + timeout_detail(plan, settings.action_timeout_s))
        return
    when = plan.next_ready(open_vias) or utcnow() + timedelta(seconds=settings.action_check_s)
    await _save(s, when)
    await s.rt.publish("action", action.user_id, action.id)  # type: ignore[attr-defined]


async def _end_refused(s: Step, had_paths: bool) -> None:
    """Every path refused for good (or none is left): end with the most actionable reason."""
    refused = {via: p for via, p in s.plan.paths.items() if p.refused is not None}
    if not refused:
        ended = refusal(s.target.facts(s.action.kind), s.action.max_current, "No capable path is left.",
                        "No capable path is left: plug the vehicle into your linked charger.")
        state, kind, detail = ended or ("FAILED", "NOT_CAPABLE", "No capable path is left.")
        await finish(s.rt, s.action, state, kind, detail)
        return
    kind = next(k for k in REFUSAL_ORDER if any(p.refused == k for p in refused.values()))
    detail = "; ".join(f"{via.lower()} path: {p.why}" for via, p in sorted(refused.items()))
    state = "CANCELLED" if kind == "FAILED_PRECONDITION" else "FAILED"
    await finish(s.rt, s.action, state, kind, detail[0].upper() + detail[1:] + ".")


def _waits_for_charger(s: Step, via: str) -> bool:
    """Whether a stop holds back from the car to retry the charger first. Stopped through its own
    API a car refuses power until it is told to start again, so a later start would need the car
    (which may be asleep, out of coverage or rate limited then); a charger's pause leaves either
    path able to resume. So a charger that answers its polls and failed once is retried after its
    short backoff before the car is told; otherwise (refused, offline, rate limited, failed
    twice) the car is told at once."""
    charger, path = s.target.charger, s.plan.path("CHARGER")
    if s.action.kind != "STOP" or via != "VEHICLE" or charger is None or path.refused is not None:
        return False
    if not any(p.via == "CHARGER" for p in s.target.paths("STOP")):
        return False
    soon = utcnow() + timedelta(seconds=s.rt.settings.action_backoff_s)
    return (path.failures < 2 and bool(charger.is_online) and charger.poll_error is None
            and path.wait_until is not None and path.wait_until <= soon)


def _both(action: ChargeAction, target: Target, blocked: bool) -> bool:
    """Whether a start goes through both paths at once: the charger is stopped (paused by someone,
    or the car stopped asking), and either side alone may not get power flowing again."""
    charger = target.charger
    return (action.kind == "START" and not blocked and charger is not None and target.vehicle is not None
            and charger.power_state == "PLUGGED_IN_STOPPED")


async def _also(s: Step, first: str, blocked: bool) -> None:
    """Send the same start through the other path too, when it is ready."""
    other = "CHARGER" if first == "VEHICLE" else "VEHICLE"
    if any(p.via == other for p in s.target.paths(s.action.kind)) and s.plan.path(other).ready(utcnow()) \
            and s.plan.commands < s.rt.settings.action_max_commands:
        await _send(s, other, blocked, also=True)


async def _send(s: Step, via: str, blocked: bool, also: bool = False) -> bool:
    """The action's command through one path (overriding a blocking schedule first). True when
    the vendor accepted it."""
    row: Vehicle | Charger | None = s.target.vehicle if via == "VEHICLE" else s.target.charger
    if row is None:
        return False
    link = await VendorLink.get(id=row.link_id)
    adapter = s.rt.adapter(row.vendor)
    session = Session(vendor=row.vendor, access_token=link.access_token)
    if via == "CHARGER" and blocked and not s.plan.overrode:
        if not await _call(s, via, row, "override_schedule", lambda: adapter.override_schedule(session, row.vendor_id),
                           "accepted: the charger's schedule held the car waiting"):
            return False
        s.plan.overrode = True
    name, action = COMMAND[s.action.kind], s.action
    if action.kind == "SET_MAX_CURRENT":
        def call() -> Awaitable[None]:
            return adapter.set_max_current(session, row.vendor_id, action.max_current)  # type: ignore[no-any-return]
    else:
        def call() -> Awaitable[None]:
            return getattr(adapter, name)(session, row.vendor_id)  # type: ignore[no-any-return]
    wake = (lambda: adapter.wake_up(session, row.vendor_id)) if hasattr(adapter, "wake_up") else None
    return await _call(s, via, row, name, call, "accepted; waiting for device data to show it",
                       main=True, also=also, wake=wake)


async def _call(s: Step, via: str, row: Vehicle | Charger, name: str, call: Callable[[], Awaitable[None]],
                accepted: str, *, main: bool = False, also: bool = False,
                wake: Callable[[], Awaitable[None]] | None = None) -> bool:
    """Record an attempt (before the command leaves), send, record the answer. True when accepted."""
    plan, path = s.plan, s.plan.path(via)
    path.tries += 1
    plan.commands += 1
    async with in_transaction():
        attempt = await ActionAttempt.create(action=s.action, via=via, command=name, outcome="SENDING",
                                             detail="sent; no answer from the vendor yet", at=utcnow())
        plan.sending.append(attempt.id)
        if main and also and plan.current is not None:
            plan.current.also = via
            plan.current.attempt_ids.append(attempt.id)
            plan.current.state = "sending"
        elif main:
            plan.current = InFlight(via=via, at=utcnow(), attempt_ids=[attempt.id])
        await _save(s, utcnow() + timedelta(seconds=s.rt.settings.action_check_s))
    limit = _call_timeout(s)
    try:
        async with asyncio.timeout(limit):
            await call()
        outcome, detail = "ok", accepted
    except TimeoutError:
        await _score(s.target, via, False)
        outcome, detail = "TIMEOUT", _back_off(s, via, f"no answer within {limit:.0f} s") + \
            " (the command may still take effect)"
    except ve.Asleep:
        outcome, detail = "ASLEEP", await _asleep(s, via, row, wake)
    except ve.RateLimited as exc:
        outcome, detail = exc.code, _rate_limited(s, via, exc)
    except ve.VendorError as exc:
        await _score(s.target, via, False)
        outcome, detail = exc.code, _failed(s, via, row, exc)
    ok = outcome == "ok"
    if main and not ok and plan.current is not None:
        if also:
            plan.current.also = None
            plan.current.attempt_ids.remove(attempt.id)
        else:
            plan.current = None
    if main and ok and plan.current is not None:
        plan.current.state = "sent"
    if not ok and not also:
        detail += _elsewhere(s, via)
    await ActionAttempt.filter(id=attempt.id).update(outcome=outcome, detail=detail, at=utcnow())
    plan.sending.remove(attempt.id)
    return ok


def _failed(s: Step, via: str, row: Vehicle | Charger, exc: ve.VendorError) -> str:
    """A refusal takes the path out of this action; anything else backs it off."""
    path = s.plan.path(via)
    refused = next((kind for cls, kind in PERMANENT.items() if isinstance(exc, cls)), None)
    if refused is None:
        return _back_off(s, via, f"{exc.code}: {exc.detail}")
    path.refused, path.why = refused, _refusal_words(exc, row.vendor)
    return path.why


def _call_timeout(s: Step) -> float:
    """How long one vendor call may take: the vendor timeout, never far past the deadline."""
    left = (s.action.deadline - utcnow()).total_seconds()
    return max(1.0, min(s.rt.settings.vendor_timeout_s + 1.0, left))


def _rate_limited(s: Step, via: str, exc: ve.RateLimited) -> str:
    """The path waits until the vendor's Retry-After (nothing else waits for it)."""
    path = s.plan.path(via)
    until = utcnow() + timedelta(seconds=max(0.0, exc.retry_after))
    path.wait_until = until
    path.why = f"rate limited until {until.strftime('%Y-%m-%dT%H:%M:%SZ')} (Retry-After {exc.retry_after:.0f} s)"
    return path.why


async def _asleep(s: Step, via: str, row: Vehicle | Charger, wake: Callable[[], Awaitable[None]] | None) -> str:
    """Wake a sleeping car (at most three times per action); the path waits for it to wake."""
    await _score(s.target, via, False)
    path = s.plan.path(via)
    if wake is None or s.plan.wakes >= 3 or s.plan.commands >= s.rt.settings.action_max_commands:
        return _back_off(s, via, "the vehicle is asleep")
    s.plan.wakes += 1
    if await _call(s, via, row, "wake_up", wake, "woke the vehicle"):
        path.wait_until = utcnow() + timedelta(seconds=s.rt.settings.wake_wait_s)
        path.why = f"asleep: woken, sending again in {s.rt.settings.wake_wait_s:g} s"
        return path.why
    return "the vehicle is asleep; the wake-up failed"


def _refusal_words(exc: ve.VendorError, vendor: str) -> str:
    if isinstance(exc, ve.AuthRevoked):
        return f"{vendor} no longer accepts Tandem's access: link the {vendor} account again"
    return exc.detail


def _elsewhere(s: Step, via: str) -> str:
    """What happens instead, in words, for an attempt that did not go through."""
    others = [p.via for p in s.target.paths(s.action.kind)
              if p.via != via and s.plan.path(p.via).ready(utcnow()) and not _waits_for_charger(s, p.via)]
    if others and s.plan.commands < s.rt.settings.action_max_commands:
        return f"; trying the {others[0].lower()} now"
    return ""


async def _kick(rt: Runtime, target: Target, *, vehicle: bool = True) -> None:
    """Poll the target's devices now (the poller debounces repeated kicks)."""
    from app.workers.kick import request_poll

    if target.charger is not None:
        await request_poll(rt, "charger", target.charger.id)
    if vehicle and target.vehicle is not None:
        await request_poll(rt, "vehicle", target.vehicle.id)
