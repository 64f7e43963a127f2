"""Creating and cancelling actions: checks that are known to fail answer at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError

from app import metrics
from app.db.models import ChargeAction
from app.errors import NotFoundError
from app.orchestrator import holds
from app.orchestrator.context import Target, load_target, not_capable_detail
from app.runtime import Runtime

CONTRARY = {"START": "STOP", "STOP": "START"}
TERMINAL = {"CONFIRMED", "FAILED", "CANCELLED"}


def utcnow() -> datetime:
    """Now, timezone-aware."""
    return datetime.now(UTC)


def precheck(target: Target, kind: str, max_current: float | None) -> tuple[str, str, str] | None:
    """(state, failure type, detail) when the action cannot or need not run; else None."""
    if not target.paths(kind):
        return "FAILED", "NOT_CAPABLE", not_capable_detail(target, kind)
    if kind == "SET_MAX_CURRENT":
        current = target.max_current()
        if current is not None and max_current is not None and abs(current - max_current) < 0.5:
            return "CANCELLED", "UNNECESSARY", f"The max current is already {current:g} A."
        return None
    if target.plugged is False:
        if kind == "STOP":
            return "CANCELLED", "UNNECESSARY", "Not plugged in, so not charging."
        return "CANCELLED", "FAILED_PRECONDITION", "Not plugged in: plug in, then start charging."
    if kind == "START" and target.charging is True:
        return "CANCELLED", "UNNECESSARY", "Already charging."
    if kind == "STOP" and target.charging is False:
        return "CANCELLED", "UNNECESSARY", "Not charging."
    return None


async def finish(rt: Runtime, action: ChargeAction, state: str, failure: str | None = None,
                 detail: str | None = None) -> ChargeAction:
    """Move an action to a terminal state and tell subscribers."""
    action.state = state
    action.failure_type, action.failure_detail = failure, detail  # type: ignore[assignment]
    action.completed_at = utcnow()
    action.next_step_at = None
    action.lease_owner = None
    await action.save()
    metrics.ACTIONS.labels(action.kind, state).inc()
    await rt.publish("action", action.user_id, action.id)  # type: ignore[attr-defined]
    return action


async def request_action(rt: Runtime, user_id: str, target_type: str, target_id: str, kind: str,
                         max_current: float | None, idempotency_key: str | None) -> ChargeAction:
    """Create an action (or return the one this key / this pending kind already made)."""
    if idempotency_key:
        same = await ChargeAction.filter(user_id=user_id, idempotency_key=idempotency_key).first()
        if same is not None:
            return same
    target = await load_target(user_id, target_type, target_id)
    pending = await ChargeAction.filter(user_id=user_id, target_id=target_id, state="PENDING", origin="USER")
    for other in pending:
        if other.kind == kind and (kind != "SET_MAX_CURRENT" or other.max_current == max_current):
            return other
    now = utcnow()
    try:
        action = await ChargeAction.create(
            user_id=user_id, target_id=target_id, target_type=target_type, kind=kind, max_current=max_current,
            idempotency_key=idempotency_key, deadline=now + timedelta(seconds=rt.settings.action_timeout_s),
            next_step_at=now, plan={},
        )
    except IntegrityError:  # a concurrent request with the same key won
        return await ChargeAction.get(user_id=user_id, idempotency_key=idempotency_key)
    for other in pending:
        if other.kind == CONTRARY.get(kind) or other.kind == kind:
            await finish(rt, other, "CANCELLED", "CONFLICT", f"Overridden by a newer {kind} action ({action.id}).")
    refused = precheck(target, kind, max_current)
    if refused is not None and refused[1] == "UNNECESSARY" and kind != "SET_MAX_CURRENT" and await holds.hold(
            user_id, target, now, rt.settings.action_check_s, rt.settings.verify_vehicle_s):
        refused = None  # the state it reads is Tandem's probe's doing: judged once the probe is over
    if refused is not None:
        return await finish(rt, action, *refused)
    await rt.publish("action", user_id, action.id)
    from app.orchestrator.runner import nudge

    nudge()
    return action


async def cancel_action(rt: Runtime, user_id: str, action_id: str) -> ChargeAction:
    """Cancel a pending action (commands already sent may still take effect at the vendor)."""
    action = await ChargeAction.filter(id=action_id, user_id=user_id, origin="USER").first()
    if action is None:
        raise NotFoundError("No such action.")
    if action.state != "PENDING":
        return action
    return await finish(rt, action, "CANCELLED", "REQUESTED_CANCELLATION", "Cancelled by the user.")
