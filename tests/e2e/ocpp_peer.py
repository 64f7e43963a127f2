"""A raw OCPP 1.6J charge point for end-to-end tests, driven message by message (the `ocpp`
library's ChargePoint as a websocket client): what the simulated charge point cannot do, such as
a second connector.

It answers Tandem's Calls as a SmartCharging charge point would (and records them in `calls`),
and sends only what the test tells it to, so a test knows which messages Tandem has handled: the
central system writes a message's effect before it answers it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import websockets
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import (
    Action,
    AvailabilityStatus,
    ChargingProfileStatus,
    ClearChargingProfileStatus,
    GetCompositeScheduleStatus,
    RemoteStartStopStatus,
    TriggerMessageStatus,
)

from tests.e2e.harness import Stack
from tests.e2e.ocpp_flows import central_url


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Peer(ChargePoint):  # type: ignore[misc]
    """A charge point with `connectors` connectors (statuses kept per connector)."""

    def __init__(self, cp_id: str, connection: Any, connectors: int = 2) -> None:
        super().__init__(cp_id, connection, response_timeout=10)
        self.statuses = {n: "Available" for n in range(1, connectors + 1)}
        #: Tandem's Calls, in order: (action, snake_case payload).
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.limit_a = 32.0

    # -- what the charge point sends -------------------------------------------------------------
    async def boot(self) -> None:
        """BootNotification, then every connector's status."""
        await self.call(call.BootNotification(charge_point_vendor="PeerTest", charge_point_model="Twin"))
        for n in self.statuses:
            await self.status(n, self.statuses[n])

    async def status(self, connector: int, status: str) -> None:
        """StatusNotification of `connector` (stamped now)."""
        if connector in self.statuses:
            self.statuses[connector] = status
        await self.call(call.StatusNotification(connector_id=connector, error_code="NoError", status=status,
                                                timestamp=_now()))

    async def authorize(self, id_tag: str) -> None:
        """Authorize (a card tapped: it names no connector)."""
        await self.call(call.Authorize(id_tag=id_tag))

    async def start_tx(self, connector: int, id_tag: str, meter_wh: int) -> int:
        """StartTransaction; the transaction id the central system gave."""
        answer = await self.call(call.StartTransaction(connector_id=connector, id_tag=id_tag,
                                                       meter_start=meter_wh, timestamp=_now()))
        return int(answer.transaction_id)

    async def meter(self, connector: int, watts: float, wh: float, soc: float | None = None,
                    tx: int | None = None) -> None:
        """MeterValues of `connector`: power (W), energy register (Wh), SoC (%)."""
        values: list[dict[str, Any]] = [
            {"value": f"{watts:.0f}", "measurand": "Power.Active.Import", "unit": "W"},
            {"value": f"{wh:.0f}", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]
        if soc is not None:
            values.append({"value": f"{soc:.1f}", "measurand": "SoC", "unit": "Percent"})
        await self.call(call.MeterValues(connector_id=connector, transaction_id=tx,
                                         meter_value=[{"timestamp": _now(), "sampledValue": values}]))

    async def stop_tx(self, tx: int, meter_wh: int) -> None:
        """StopTransaction (it names the transaction, not the connector)."""
        await self.call(call.StopTransaction(meter_stop=meter_wh, timestamp=_now(), transaction_id=tx,
                                             reason="EVDisconnected"))

    # -- what the central system asks --------------------------------------------------------------
    @on(Action.get_configuration)
    async def on_get_configuration(self, key: list[str] | None = None) -> Any:
        self.calls.append(("GetConfiguration", {"key": key}))
        conf = {"SupportedFeatureProfiles": "Core,SmartCharging,RemoteTrigger",
                "ChargingScheduleAllowedChargingRateUnit": "Current", "AuthorizeRemoteTxRequests": "false"}
        wanted = key or list(conf)
        return call_result.GetConfiguration(
            configuration_key=[{"key": k, "readonly": True, "value": conf[k]} for k in wanted if k in conf])

    @on(Action.trigger_message)
    async def on_trigger(self, requested_message: str, connector_id: int | None = None) -> Any:
        self.calls.append(("TriggerMessage", {"requested_message": requested_message, "connector_id": connector_id}))
        return call_result.TriggerMessage(status=TriggerMessageStatus.accepted)

    @after(Action.trigger_message)
    async def after_trigger(self, requested_message: str, connector_id: int | None = None) -> None:
        if requested_message == "StatusNotification" and connector_id in self.statuses:
            await self.status(connector_id, self.statuses[connector_id])

    @on(Action.change_availability)
    async def on_change_availability(self, connector_id: int, type: str) -> Any:
        self.calls.append(("ChangeAvailability", {"connector_id": connector_id, "type": type}))
        return call_result.ChangeAvailability(status=AvailabilityStatus.accepted)

    @on(Action.set_charging_profile)
    async def on_set_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> Any:
        self.calls.append(("SetChargingProfile", {"connector_id": connector_id, **cs_charging_profiles}))
        limit = float(cs_charging_profiles["charging_schedule"]["charging_schedule_period"][0]["limit"])
        if cs_charging_profiles["charging_profile_purpose"] == "TxDefaultProfile":
            self.limit_a = limit
        return call_result.SetChargingProfile(status=ChargingProfileStatus.accepted)

    @after(Action.set_charging_profile)
    async def after_set_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> None:
        paused = cs_charging_profiles["charging_profile_purpose"] == "TxProfile" \
            and float(cs_charging_profiles["charging_schedule"]["charging_schedule_period"][0]["limit"]) == 0
        if paused and connector_id in self.statuses:
            await self.status(connector_id, "SuspendedEVSE")

    @on(Action.clear_charging_profile)
    async def on_clear_profile(self, **kw: Any) -> Any:
        self.calls.append(("ClearChargingProfile", kw))
        return call_result.ClearChargingProfile(status=ClearChargingProfileStatus.accepted)

    @on(Action.get_composite_schedule)
    async def on_composite(self, connector_id: int, duration: int, charging_rate_unit: str | None = None) -> Any:
        self.calls.append(("GetCompositeSchedule", {"connector_id": connector_id}))
        return call_result.GetCompositeSchedule(
            status=GetCompositeScheduleStatus.accepted, connector_id=connector_id,
            charging_schedule={"chargingRateUnit": charging_rate_unit or "A",
                               "chargingSchedulePeriod": [{"startPeriod": 0, "limit": self.limit_a}]})

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> Any:
        self.calls.append(("RemoteStartTransaction", {"id_tag": id_tag, "connector_id": connector_id}))
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.rejected)

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id: int) -> Any:
        self.calls.append(("RemoteStopTransaction", {"transaction_id": transaction_id}))
        return call_result.RemoteStopTransaction(status=RemoteStartStopStatus.rejected)

    def asked(self, action: str) -> list[dict[str, Any]]:
        """The payloads of Tandem's `action` Calls so far."""
        return [p for a, p in self.calls if a == action]


@contextlib.asynccontextmanager
async def connected(st: Stack, cp_id: str, password: str, connectors: int = 2) -> AsyncIterator[Peer]:
    """`cp_id` connected to Tandem's central system and booted (all connectors Available)."""
    auth = base64.b64encode(f"{cp_id}:{password}".encode()).decode()
    async with websockets.connect(f"{central_url(st)}/{cp_id}", subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                                  additional_headers={"Authorization": f"Basic {auth}"}) as ws:
        peer = Peer(cp_id, ws, connectors)
        reader = asyncio.create_task(peer.start())
        try:
            await peer.boot()
            yield peer
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
