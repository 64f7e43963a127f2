"""Simulated OCPP 1.6J charge points: real websocket clients, built on the `ocpp` library, that
connect to a central system (Tandem) and follow the simulated world's physics.

Each charger of an `ocpp` account gets one `Station`. It connects to `<centralSystemUrl>/<id>`
with HTTP Basic auth (security profile 1), sends BootNotification, heartbeats, a StatusNotification
whenever its connector's status changes and MeterValues (power, energy register, the car's SoC)
while a transaction runs. It answers RemoteStart/StopTransaction, Set/ClearChargingProfile,
GetCompositeSchedule, GetConfiguration, ChangeAvailability and TriggerMessage. A refused
handshake or a dropped socket is retried with exponential backoff and random jitter, never sooner
than a refusal's `Retry-After`, as real charge points do (`reconnect`). Its energy register counts
on over the box's life, or (`register="transaction"`) restarts at 0 with every transaction, as
some chargers' do.

Faults (`POST /sim/faults {"vendor": "ocpp", "ocpp": {...}}`), per charge point id or `true` for all:
`drop` (close the socket once), `reboot` (reboot once, losing the transaction), `silent` (answer
no Call), `slow_s` (answer late), `require_known_id_tag` (refuse RemoteStart for a tag it does
not know), `boot_unavailable` (stay Unavailable after boot until ChangeAvailability),
`stale_status` (StatusNotification timestamps an hour old), `no_soc`, `call_error` (answer
every Call with a CallError); plus the common `offline` (disconnected while listed) and
`revoked` (a wrong password).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import websockets
from ocpp.exceptions import GenericError
from ocpp.routing import on
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
from websockets.exceptions import InvalidStatus

from adapters.simulator.faults import OcppFaults
from adapters.simulator.reconnect import Backoff, retry_after_s
from adapters.simulator.world import Box, World

log = logging.getLogger("tandem.sim.ocpp")
logging.getLogger("ocpp").setLevel(logging.WARNING)
#: The library logs every frame at INFO through the logger it is given: kept out (a tenth of the
#: simulator's CPU with 1,000 charge points).
_library_log = logging.getLogger("tandem.sim.ocpp.library")
_library_log.setLevel(logging.WARNING)
#: How often a charge point looks at its physics unprompted (a car that filled up, an offline
#: window): a cable moved or a fault set wakes it at once (`nudge`), heartbeats and meter values
#: keep their own times. 1,000 charge points waking every 0.2 s took a core of their own.
TICK_S = 1.0
METER_EVERY_S = 5.0
class _Client(ChargePoint):  # type: ignore[misc]
    """The charge point's side of the socket: answers the central system's Calls."""

    def __init__(self, station: Station, connection: Any) -> None:
        super().__init__(station.box.id, connection, response_timeout=10, logger=_library_log)
        self.station = station

    async def route_message(self, raw_msg: str) -> None:
        st = self.station
        if raw_msg.startswith("[2"):
            if st.faults().on("silent", st.box.id):
                return
            if st.faults().slow_s:
                await asyncio.sleep(st.faults().slow_s)
            if st.faults().on("call_error", st.box.id):
                import json

                uid = json.loads(raw_msg)[1]
                await self._send(json.dumps([4, uid, "InternalError", "simulated CallError", {}]))
                return
        await super().route_message(raw_msg)

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> Any:
        ok = self.station.remote_start_allowed(id_tag)
        if ok:
            self.station.later(self.station.start_transaction(id_tag))
        return call_result.RemoteStartTransaction(
            status=RemoteStartStopStatus.accepted if ok else RemoteStartStopStatus.rejected)

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id: int) -> Any:
        ok = self.station.transaction_id == transaction_id
        if ok:
            self.station.later(self.station.stop_transaction("Remote"))
        return call_result.RemoteStopTransaction(
            status=RemoteStartStopStatus.accepted if ok else RemoteStartStopStatus.rejected)

    @on(Action.set_charging_profile)
    async def on_set_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> Any:
        ok = "SmartCharging" in self.station.features and self.station.set_profile(cs_charging_profiles)
        return call_result.SetChargingProfile(
            status=ChargingProfileStatus.accepted if ok else ChargingProfileStatus.rejected)

    @on(Action.clear_charging_profile)
    async def on_clear_profile(self, id: int | None = None, **_: Any) -> Any:
        found = self.station.clear_profile(id)
        return call_result.ClearChargingProfile(
            status=ClearChargingProfileStatus.accepted if found else ClearChargingProfileStatus.unknown)

    @on(Action.get_composite_schedule)
    async def on_composite(self, connector_id: int, duration: int, charging_rate_unit: str | None = None) -> Any:
        amps = self.station.limit_a()
        unit = charging_rate_unit or "A"
        limit = round(amps * 3 * 230, 1) if unit == "W" else amps
        return call_result.GetCompositeSchedule(
            status=GetCompositeScheduleStatus.accepted, connector_id=connector_id,
            charging_schedule={"chargingRateUnit": unit,
                               "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]})

    @on(Action.get_configuration)
    async def on_get_configuration(self, key: list[str] | None = None) -> Any:
        conf = {
            "SupportedFeatureProfiles": self.station.features,
            "ChargingScheduleAllowedChargingRateUnit": self.station.rate_unit,
            "AuthorizeRemoteTxRequests": "false",
            "HeartbeatInterval": str(self.station.heartbeat_s),
        }
        wanted = key or list(conf)
        return call_result.GetConfiguration(
            configuration_key=[{"key": k, "readonly": True, "value": conf[k]} for k in wanted if k in conf],
            unknown_key=[k for k in wanted if k not in conf] or None)

    @on(Action.change_availability)
    async def on_change_availability(self, connector_id: int, type: str) -> Any:
        self.station.available = type == "Operative"
        self.station.later(self.station.report_status(force=True))
        self.station.nudge()  # a car waiting at an Unavailable charger starts now
        return call_result.ChangeAvailability(status=AvailabilityStatus.accepted)

    @on(Action.trigger_message)
    async def on_trigger(self, requested_message: str, connector_id: int | None = None) -> Any:
        if requested_message == "StatusNotification":
            self.station.later(self.station.report_status(force=True))
        elif requested_message == "MeterValues":
            self.station.later(self.station.send_meter())
        elif requested_message == "Heartbeat":
            self.station.later(self.station.client_call(call.Heartbeat()))
        elif requested_message == "BootNotification":
            self.station.later(self.station.boot())
        else:
            return call_result.TriggerMessage(status=TriggerMessageStatus.not_implemented)
        return call_result.TriggerMessage(status=TriggerMessageStatus.accepted)


class Station:
    """One simulated charge point and its connection loop."""

    def __init__(self, sim: Any, box: Box, url: str, password: str, *, rate_unit: str = "Current",
                 heartbeat_s: int = 60, id_tag: str | None = None,
                 features: str = "Core,SmartCharging,RemoteTrigger", register: str = "lifetime") -> None:
        self.sim = sim
        self.world: World = sim.world
        self.box = box
        self.url = url.rstrip("/") + "/" + box.id
        self.password = password
        self.rate_unit = rate_unit
        self.heartbeat_s = heartbeat_s
        self.features = features
        #: "lifetime" (the register counts on) or "transaction" (it restarts at 0 with each one).
        self.register = register
        self._register_base = 0.0  # kWh of the box's lifetime energy the register does not count
        #: The RFID card used at this charger when the car brings none (its local list knows it).
        self.card = id_tag or f"CARD{box.id[-8:]}"
        self.known_tags = {self.card}
        self.available = True
        self.transaction_id: int | None = None
        self.tx_tag: str | None = None
        self.tx_vin: str | None = None  # the car the transaction is for
        self.profiles: dict[int, tuple[str, float]] = {}  # id -> (purpose, limit in A)
        self.client: _Client | None = None
        self.connected = asyncio.Event()
        self.connects = 0
        #: Connection attempts, handshakes refused by HTTP status (503 busy, 401, ...), and
        #: attempts or sessions that ended with another error, by its type (TimeoutError: no
        #: answer to the handshake within 5 s; ConnectionClosedError: the socket dropped).
        self.attempts = 0
        self.refused: dict[int, int] = {}
        self.failed: dict[str, int] = {}
        self.backoff = Backoff()
        self.stale_sent = 0
        self._status: str | None = None
        self._finishing = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._main: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Begin connecting (and reconnecting) to the central system."""
        self.world.cable_watchers[self.box.id] = self.nudge
        self._main = asyncio.create_task(self._run(), name=f"ocpp-sim-{self.box.id}")

    def nudge(self) -> None:
        """Look at the cable, the faults and the physics now (the world or a fault changed)."""
        self._wake.set()

    async def _idle(self, timeout: float) -> None:
        """Wait until nudged or `timeout` seconds pass."""
        if not self._wake.is_set():
            timer = asyncio.get_running_loop().call_later(max(0.0, timeout), self._wake.set)
            try:
                await self._wake.wait()
            finally:
                timer.cancel()
        self._wake.clear()

    async def stop(self) -> None:
        """Disconnect for good."""
        if self.world.cable_watchers.get(self.box.id) == self.nudge:
            del self.world.cable_watchers[self.box.id]
        for task in [self._main, *self._tasks]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in [self._main, *self._tasks] if t is not None), return_exceptions=True)

    def faults(self) -> OcppFaults:
        """This vendor's OCPP faults now."""
        return getattr(self.sim.faults["ocpp"], "ocpp", None) or OcppFaults()

    def later(self, coro: Any) -> None:
        """Send something after the current answer has gone out."""
        async def run() -> None:
            await asyncio.sleep(0.05)
            await coro
        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self) -> None:
        while True:
            common = self.sim.faults["ocpp"]
            if common.is_offline(self.box.id):
                self.backoff.reset()  # switched off: it starts afresh when back
                await self._idle(TICK_S)
                continue
            password = self.password + ("-revoked" if self.box.id in common.revoked else "")
            auth = base64.b64encode(f"{self.box.id}:{password}".encode()).decode()
            retry_after = None
            self.attempts += 1
            try:
                async with websockets.connect(self.url, subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                                              additional_headers={"Authorization": f"Basic {auth}"},
                                              open_timeout=5, ping_interval=None) as ws:
                    self.backoff.reset()
                    await self._session(ws)
            except asyncio.CancelledError:
                raise
            except InvalidStatus as exc:  # refused handshake: wait at least as long as it asks
                self.refused[exc.response.status_code] = self.refused.get(exc.response.status_code, 0) + 1
                retry_after = retry_after_s(exc.response.headers.get("Retry-After"))
                log.debug("%s: handshake refused (%s)", self.box.id, exc.response.status_code)
            except Exception as exc:  # connection refused or lost, no answer in time: retry like a charger
                kind = type(exc).__name__
                self.failed[kind] = self.failed.get(kind, 0) + 1
                log.debug("%s: connection ended (%s)", self.box.id, kind)
            finally:
                self.client = None
                self.connected.clear()
            await asyncio.sleep(self.backoff.next_wait(retry_after))

    async def _session(self, ws: Any) -> None:
        self.client = _Client(self, ws)
        reader = asyncio.create_task(self.client.start())
        reader.add_done_callback(lambda _: self.nudge())  # the socket closed: reconnect now
        self.connects += 1
        self.connected.set()
        try:
            if self.faults().on("boot_unavailable", self.box.id):
                self.available = False
            await self.boot()
            self._status = None
            if self.transaction_id is not None and self.tx_vin != self.box.plugged_vin:
                # its car left while the socket was down (maybe another came): that transaction
                # ended then; its StopTransaction was queued and goes out first, as OCPP asks
                await self.stop_transaction("EVDisconnected")
                self._finishing = False
            await self.report_status()
            beat = meter = asyncio.get_running_loop().time()
            while not reader.done():
                now = asyncio.get_running_loop().time()
                due = [beat + self.heartbeat_s, now + TICK_S]
                if self.transaction_id is not None:
                    due.append(meter + METER_EVERY_S)
                await self._idle(min(due) - now)
                common = self.sim.faults["ocpp"]
                if self.faults().take("drop", self.box.id) or common.is_offline(self.box.id):
                    return
                if self.faults().take("reboot", self.box.id):
                    self.reboot()
                    return
                await self._follow_cable()
                await self.report_status()
                now = asyncio.get_running_loop().time()
                if now - beat >= self.heartbeat_s:
                    beat = now
                    await self.client_call(call.Heartbeat())
                if self.transaction_id is not None and now - meter >= METER_EVERY_S:
                    meter = now
                    await self.send_meter()
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    def reboot(self) -> None:
        """A reboot: the transaction and Tandem's profiles are gone; the car waits."""
        self.transaction_id, self.tx_tag = None, None
        self.profiles.clear()
        self._apply_limits()

    async def client_call(self, payload: Any) -> Any:
        """A Call to the central system (None when it is gone or answers with an error)."""
        if self.client is None:
            return None
        try:
            return await self.client.call(payload, suppress=False)
        except (GenericError, TimeoutError, websockets.ConnectionClosed, Exception):
            return None

    # -- what the charge point does ----------------------------------------------------------------
    async def boot(self) -> None:
        """BootNotification."""
        await self.client_call(call.BootNotification(
            charge_point_vendor="TandemSim", charge_point_model="OCPP-Box",
            charge_point_serial_number=self.box.id, firmware_version="1.0"))

    def status(self) -> str:
        """Connector 1's status from the physics."""
        t = self.sim.now()
        if not self.available:
            return "Unavailable"
        car = self.world.cars_by_vin.get(self.box.plugged_vin) if self.box.plugged_vin else None
        if car is None:
            return "Available"
        if self.transaction_id is None:
            return "Finishing" if self._finishing else "Preparing"
        if self.box.paused:
            return "SuspendedEVSE"
        return "Charging" if self.world.delivering(self.box, car, t) > 0 else "SuspendedEV"

    async def report_status(self, force: bool = False) -> None:
        """A StatusNotification when the status changed (or when asked)."""
        status = self.status()
        if status == self._status and not force:
            return
        previous, self._status = self._status, status
        await self.client_call(call.StatusNotification(connector_id=1, error_code="NoError", status=status,
                                                       timestamp=datetime.now(UTC).isoformat()))
        if previous and previous != status and self.faults().on("stale_status", self.box.id):
            # a message queued while offline, delivered late: the previous status, stamped an hour ago
            stale = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
            await self.client_call(call.StatusNotification(connector_id=1, error_code="NoError", status=previous,
                                                           timestamp=stale))
            self.stale_sent += 1
        if self.transaction_id is not None:
            await self.send_meter()

    async def _follow_cable(self) -> None:
        """Plug-in starts a transaction with the car's (or the charger's) card; unplug ends it."""
        if self.box.plugged_vin is None:
            self._finishing = False
            if self.transaction_id is not None:
                await self.stop_transaction("EVDisconnected")
            return
        if self.transaction_id is None and not self._finishing and self.box.auto_start and self.available:
            await self.report_status()  # the cable first (Preparing), then the card and the transaction
            car = self.world.cars_by_vin.get(self.box.plugged_vin)
            tag = (car.id_tag if car is not None and car.id_tag else None) or self.card
            await self.client_call(call.Authorize(id_tag=tag))
            await self.start_transaction(tag)
        self._apply_limits()

    def remote_start_allowed(self, id_tag: str) -> bool:
        """Whether a RemoteStartTransaction for `id_tag` is accepted now."""
        if self.transaction_id is not None or self.box.plugged_vin is None or not self.available:
            return False
        return not self.faults().on("require_known_id_tag", self.box.id) or id_tag in self.known_tags

    async def start_transaction(self, id_tag: str) -> None:
        """StartTransaction; the car charges from now on (within its limits)."""
        if self.transaction_id is not None:
            return
        self._finishing = False
        self.transaction_id = -1  # claimed until the central system answers
        if self.register == "transaction":
            self.world.settle(self.box, self.sim.now())
            self._register_base = self.box.lifetime_energy
        answer = await self.client_call(call.StartTransaction(
            connector_id=1, id_tag=id_tag, meter_start=self.meter_wh(), timestamp=datetime.now(UTC).isoformat()))
        self.transaction_id = int(answer.transaction_id) if answer is not None else None
        self.tx_tag = id_tag if answer is not None else None
        self.tx_vin = self.box.plugged_vin if answer is not None else None
        self._apply_limits()
        await self.report_status()

    async def stop_transaction(self, reason: str) -> None:
        """StopTransaction; a car still plugged in waits in Finishing."""
        tx = self.transaction_id
        if tx is None:
            return
        self.transaction_id, self.tx_tag = None, None
        self.profiles = {k: v for k, v in self.profiles.items() if v[0] != "TxProfile"}
        self._finishing = self.box.plugged_vin is not None
        self._apply_limits()
        if tx > 0:
            await self.client_call(call.StopTransaction(meter_stop=self.meter_wh(), timestamp=datetime.now(UTC)
                                                        .isoformat(), transaction_id=tx, reason=reason))
        await self.report_status()

    def set_profile(self, profile: dict[str, Any]) -> bool:
        """Store a charging profile (limits in A; W converted at 3 × 230 V)."""
        try:
            purpose = str(profile["charging_profile_purpose"])
            schedule = profile["charging_schedule"]
            limit = float(schedule["charging_schedule_period"][0]["limit"])
            pid = int(profile["charging_profile_id"])
        except (KeyError, IndexError, TypeError, ValueError):
            return False
        if purpose == "TxProfile" and self.transaction_id is None:
            return False
        amps = limit / (3 * 230) if schedule.get("charging_rate_unit") == "W" else limit
        self.profiles[pid] = (purpose, amps)
        self._apply_limits()
        self.later(self.report_status())
        return True

    def clear_profile(self, profile_id: int | None) -> bool:
        """Remove one profile (or all)."""
        found = profile_id in self.profiles if profile_id is not None else bool(self.profiles)
        if profile_id is None:
            self.profiles.clear()
        else:
            self.profiles.pop(profile_id, None)
        self._apply_limits()
        self.later(self.report_status())
        return found

    def limit_a(self) -> float:
        """The effective limit: the lowest of the hardware and every profile."""
        return min([self.box.max_current, *(amps for _, amps in self.profiles.values())])

    def _apply_limits(self) -> None:
        """Bind the OCPP state to the physics: no transaction or a 0 A limit delivers nothing."""
        t = self.sim.now()
        self.world.settle(self.box, t)
        amps = self.limit_a()
        self.box.paused = self.transaction_id is None or amps < 1
        self.box.dynamic_current = max(amps, 0.0)
        self.box.enabled = self.available

    def meter_wh(self) -> int:
        """The energy register (Wh): the box's lifetime energy, or its latest transaction's."""
        self.world.settle(self.box, self.sim.now())
        return int((self.box.lifetime_energy - self._register_base) * 1000)

    async def send_meter(self) -> None:
        """MeterValues: power, energy register and (unless faulted) the car's SoC."""
        t = self.sim.now()
        self.world.settle(self.box, t)
        car = self.world.cars_by_vin.get(self.box.plugged_vin) if self.box.plugged_vin else None
        watts = self.world.delivering(self.box, car, t) * 1000
        values: list[dict[str, Any]] = [
            {"value": f"{watts:.0f}", "measurand": "Power.Active.Import", "unit": "W"},
            {"value": str(self.meter_wh()), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        ]
        if car is not None and not self.faults().on("no_soc", self.box.id):
            values.append({"value": f"{car.soc * 100:.1f}", "measurand": "SoC", "unit": "Percent"})
        await self.client_call(call.MeterValues(
            connector_id=1, transaction_id=self.transaction_id if (self.transaction_id or 0) > 0 else None,
            meter_value=[{"timestamp": datetime.now(UTC).isoformat(), "sampledValue": values}]))


async def close_all(stations: dict[str, Station]) -> None:
    """Disconnect every simulated charge point."""
    with contextlib.suppress(Exception):
        await asyncio.gather(*(s.stop() for s in stations.values()), return_exceptions=True)
    stations.clear()
