"""Reusable steps of end-to-end scenarios (all through the public interfaces)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.e2e.harness import Stack

VEHICLE_FIELDS = """id vendor isReachable lastSeen information { brand model vin }
  chargeState { batteryLevel isPluggedIn isCharging chargeRate powerDeliveryState pluggedInChargerId }
  location { latitude longitude locationId }
  capabilities { startCharging { isCapable source interventions { id } } stopCharging { isCapable source }
                 location { isCapable source interventions { id } } setMaxCurrent { isCapable source } }"""
CHARGER_FIELDS = """id isReachable
  chargeState { isPluggedIn isCharging chargeRate powerDeliveryState pluggedInVehicleId }"""
SYSTEM_FIELDS = "id status pluggedInVehicleId pluggedInChargerId activatedAt evidence vehicle { id } charger { id }"
ACTION_FIELDS = "id state kind targetType failureReason { type detail } attempts { via command outcome detail }"


async def link(st: Stack, token: str, vendor: str, devices: list[dict[str, Any]]) -> dict[str, Any]:
    """Create a simulated vendor account and link it through GraphQL."""
    creds = (await st.sim("/sim/accounts", {"vendor": vendor, "devices": devices}))["credentials"]
    data = await st.data(
        f"mutation($v: String!, $c: JSON!) {{ linkVendor(vendor: $v, credentials: $c) {{ "
        f"vehicles {{ {VEHICLE_FIELDS} }} chargers {{ {CHARGER_FIELDS} }} }} }}",
        {"v": vendor, "c": creds}, token=token)
    return {**data["linkVendor"], "credentials": creds}


def car(vin: str, **kw: Any) -> dict[str, Any]:
    """A simulated vehicle whose cloud refreshes quickly (tests run in real time)."""
    return {"kind": "vehicle", "vin": vin, "vehicle_refresh_s": 2, **kw}


def box(serial: str, **kw: Any) -> dict[str, Any]:
    """A simulated charger."""
    return {"kind": "charger", "serialNumber": serial, **kw}


async def viewer(st: Stack, token: str) -> dict[str, Any]:
    """The whole viewer tree."""
    data = await st.data(f"{{ viewer {{ vehicles {{ {VEHICLE_FIELDS} }} chargers {{ {CHARGER_FIELDS} }} "
                         f"evSystems {{ {SYSTEM_FIELDS} }} }} }}", token=token)
    return dict(data["viewer"])


async def wait_for(check: Any, timeout: float = 30.0, every: float = 0.3) -> Any:
    """Poll `check()` (async) until it returns something truthy."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > end:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(every)


async def action(st: Stack, token: str, mutation: str, **args: Any) -> dict[str, Any]:
    """Run an action mutation and return the action."""
    params = ", ".join(f"{k}: ${k}" for k in args)
    decl = ", ".join(f"${k}: {'Float!' if k == 'maxCurrent' else ('String' if k == 'idempotencyKey' else 'ID')}"
                     for k in args)
    data = await st.data(f"mutation({decl}) {{ {mutation}({params}) {{ {ACTION_FIELDS} }} }}", args, token=token)
    return dict(data[mutation])


async def action_state(st: Stack, token: str, action_id: str) -> dict[str, Any]:
    """An action as it now is."""
    return dict((await st.data(f'query($i: ID!) {{ action(id: $i) {{ {ACTION_FIELDS} }} }}', {"i": action_id},
                               token=token))["action"])


async def settled(st: Stack, token: str, action_id: str, timeout: float = 40.0) -> dict[str, Any]:
    """Wait until an action leaves PENDING."""
    async def done() -> dict[str, Any] | None:
        a = await action_state(st, token, action_id)
        return a if a["state"] != "PENDING" else None
    return dict(await wait_for(done, timeout))
