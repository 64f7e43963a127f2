"""startCharging, stopCharging, setMaxCurrent, cancelAction: each returns a ChargeAction."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.db.models import ChargeAction as ActionRow
from app.errors import BadInput
from app.orchestrator import api
from app.orchestrator.preconditions import MAX_CURRENT_A, MIN_CURRENT_A
from app.runtime import current
from resolvers.context import Context
from resolvers.views import action_view
from schema.types import ChargeAction


def _target(vehicle_id: strawberry.ID | None, charger_id: strawberry.ID | None) -> tuple[str, str]:
    if (vehicle_id is None) == (charger_id is None):
        raise BadInput("Give exactly one of vehicleId or chargerId.")
    return ("VEHICLE", str(vehicle_id)) if vehicle_id is not None else ("CHARGER", str(charger_id))


async def _request(
    info: Info[Context, None], kind: str, vehicle_id: strawberry.ID | None, charger_id: strawberry.ID | None,
    idempotency_key: str | None, max_current: float | None = None,
) -> ChargeAction:
    user_id = info.context.require_user()
    target_type, target_id = _target(vehicle_id, charger_id)
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
        raise BadInput("idempotencyKey must be 1-200 characters.")
    row = await api.request_action(current(), user_id, target_type, target_id, kind, max_current, idempotency_key)
    return await _view(row.id)


async def _view(action_id: str) -> ChargeAction:
    row = await ActionRow.get(id=action_id).prefetch_related("attempts")
    return action_view(row)


@strawberry.type
class ActionMutations:
    @strawberry.mutation(description="Start charging a vehicle or charger.")
    async def start_charging(
        self, info: Info[Context, None], vehicle_id: strawberry.ID | None = None,
        charger_id: strawberry.ID | None = None, idempotency_key: str | None = None,
    ) -> ChargeAction:
        return await _request(info, "START", vehicle_id, charger_id, idempotency_key)

    @strawberry.mutation(description="Stop charging a vehicle or charger.")
    async def stop_charging(
        self, info: Info[Context, None], vehicle_id: strawberry.ID | None = None,
        charger_id: strawberry.ID | None = None, idempotency_key: str | None = None,
    ) -> ChargeAction:
        return await _request(info, "STOP", vehicle_id, charger_id, idempotency_key)

    @strawberry.mutation(description="Limit the charging current (amperes).")
    async def set_max_current(
        self, info: Info[Context, None], max_current: float, vehicle_id: strawberry.ID | None = None,
        charger_id: strawberry.ID | None = None, idempotency_key: str | None = None,
    ) -> ChargeAction:
        if not 0 <= max_current <= MAX_CURRENT_A:  # a current in range of no device at all (or NaN)
            raise BadInput(f"maxCurrent must be within [{MIN_CURRENT_A:g}, {MAX_CURRENT_A:g}] A.")
        return await _request(info, "SET_MAX_CURRENT", vehicle_id, charger_id, idempotency_key, max_current)

    @strawberry.mutation(description="Cancel a pending action (the vendor may still act on sent commands).")
    async def cancel_action(self, info: Info[Context, None], id: strawberry.ID) -> ChargeAction:
        user_id = info.context.require_user()
        row = await api.cancel_action(current(), user_id, str(id))
        return await _view(row.id)
