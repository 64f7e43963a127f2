"""One connected charge point, as the central system sees it (`ocpp` library, OCPP 1.6J).

Handlers answer at once and write what the charge point reported to its station row; a change
then asks for the charger to be polled, so the usual coordinator turns it into state, pairing
and events. Tandem's own requests (configuration at connect, commands) run in tasks of their
own: waiting for a charge point's answer inside a handler of its messages would deadlock the
library's receive loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp import exceptions as oe
from ocpp.charge_point import camel_to_snake_case, remove_nones, snake_to_camel_case
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    AvailabilityType,
    DataTransferStatus,
    MessageTrigger,
    RegistrationStatus,
)

from adapters import errors as ve
from app.ocpp import connectors, messages, store
from app.settings import Settings

log = logging.getLogger("tandem.ocpp")


class _ClientErrors(logging.Filter):
    """The library logs a charge point's bad request (an OCPPError it answers with a CallError) with
    a traceback; that is the charge point's mistake, told in one line. Our own bugs keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, oe.OCPPError):
            record.msg, record.args, record.exc_info = "%s: answered a request with %s", (
                getattr(record, "cp_id", "charge point"), type(exc).__name__), None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


#: What the library logs: every frame at INFO (idTags included) is kept out; errors pass the filter.
_library_log = logging.getLogger("tandem.ocpp.library")
_library_log.setLevel(logging.WARNING)
_library_log.addFilter(_ClientErrors())
CONFIG_KEYS = ["SupportedFeatureProfiles", "ChargingScheduleAllowedChargingRateUnit", "AuthorizeRemoteTxRequests"]


def utcnow() -> datetime:
    """Now, timezone-aware."""
    return datetime.now(UTC)


#: CallErrors a later try may get past (the charge point's own trouble), and those saying it does
#: not do what was asked at all (OCPP-J 1.6, section 4.2.3).
TRANSIENT_ERRORS = (oe.InternalError, oe.GenericError)
UNSUPPORTED_ERRORS = (oe.NotImplementedError, oe.NotSupportedError)


def call_error(action: str, exc: oe.OCPPError) -> ve.VendorError:
    """The vendor error a CallError answer to `action` stands for: an internal or generic error is
    retried (`VendorError`, retryable), NotImplemented / NotSupported end the path as not capable,
    and the rest (the charge point found the request malformed or not allowed: ProtocolError,
    SecurityError, FormationViolation, constraint violations) as refused."""
    said = f"charge point answered {action} with {type(exc).__name__}"
    description = str(getattr(exc, "description", "") or "")[:80]
    detail = f"{said} ({description})" if description else said
    if isinstance(exc, UNSUPPORTED_ERRORS):
        return ve.NotCapable(detail)
    if isinstance(exc, TRANSIENT_ERRORS):
        return ve.VendorError(detail)
    return ve.PreconditionFailed(detail)


class CentralChargePoint(ChargePoint):  # type: ignore[misc]
    """The central system's side of one charge point's websocket."""

    def __init__(self, cp_id: str, connection: Any, settings: Settings,
                 on_change: Callable[[], Awaitable[None]]) -> None:
        super().__init__(cp_id, connection, response_timeout=settings.ocpp_call_timeout_s, logger=_library_log)
        self.settings = settings
        self._on_change = on_change
        self._tasks: set[asyncio.Task[Any]] = set()
        self.status_known = asyncio.Event()
        self._asked_operative = False
        self._heard_written: datetime | None = None  # when this socket last wrote last_message_at

    # -- the socket -------------------------------------------------------------------------------
    async def route_message(self, raw_msg: str) -> None:
        """Answer malformed frames with a CallError (the library would only log them)."""
        problem = messages.frame_problem(raw_msg)
        if problem is not None:
            uid, code, text = problem
            log.info("%s: malformed frame (%s)", self.id, code)
            if not raw_msg.lstrip().startswith(("[3", "[4")):
                await self._send(json.dumps([4, uid or "-1", code, text, {}]))
            return
        await super().route_message(raw_msg)

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Run Tandem's own requests beside the receive loop (a request the charge point fails is
        logged in one line: nobody waits for its answer)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and isinstance(task.exception(), ve.VendorError):
            log.info("%s: a request of Tandem's failed (%s)", self.id, task.exception())

    def cancel_tasks(self) -> None:
        """Stop Tandem's pending requests (the socket closed)."""
        for task in list(self._tasks):
            task.cancel()

    async def _changed(self, **changes: Any) -> None:
        changes["last_message_at"] = self._heard_written = utcnow()
        if await store.update(self.id, **changes):
            await self._on_change()
        else:  # unlinked while connected: the charge point is not Tandem's any more
            self.spawn(self._connection.close())

    async def _heard(self, now: datetime) -> None:
        """A message that changes nothing Tandem tracks: the charge point is alive."""
        self._heard_written = now
        if not await store.update(self.id, last_message_at=now):
            self.spawn(self._connection.close())  # unlinked while connected

    async def request(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a Call and return the CallResult payload (camelCase).

        Raises `Unreachable` on timeout or a closed socket, what `call_error` says when the charge
        point answers with a CallError, and `BadResponse` when its payload is malformed.
        """
        factory = getattr(call, action, None)
        if factory is None:
            raise ve.BadResponse(f"unknown OCPP action {action[:40]}")
        try:
            result = await super().call(factory(**camel_to_snake_case(payload)), suppress=False)
        except TimeoutError:
            raise ve.Unreachable(f"charge point did not answer {action} in time") from None
        except oe.OCPPError as exc:
            raise call_error(action, exc) from None
        except (ConnectionError, RuntimeError) as exc:
            raise ve.Unreachable(f"charge point connection lost ({type(exc).__name__})") from None
        except (TypeError, ValueError) as exc:
            raise ve.BadResponse(f"{action}: {str(exc)[:80]}") from None
        # The library reads numbers as Decimal: plain JSON types from here on (they cross Redis too).
        answer = json.loads(json.dumps(snake_to_camel_case(remove_nones(asdict(result))), default=float))
        return answer if isinstance(answer, dict) else {}

    # -- at connect -------------------------------------------------------------------------------
    async def configure(self) -> None:
        """What Tandem asks of a charge point once it is connected: its configuration, an
        Operative connector, and fresh StatusNotification and MeterValues."""
        try:
            conf = await self.request("GetConfiguration", {"key": CONFIG_KEYS})
            values = {k.get("key"): k.get("value") for k in conf.get("configurationKey") or [] if isinstance(k, dict)}
            features = [f.strip() for f in str(values.get("SupportedFeatureProfiles") or "").split(",") if f.strip()]
            units = str(values.get("ChargingScheduleAllowedChargingRateUnit") or "")
            unit = "A" if "Current" in units or not units else "W"
            auth = values.get("AuthorizeRemoteTxRequests")
            await store.learn_features(self.id, features)
            await store.update(self.id, rate_unit=unit,
                               authorize_remote=None if auth is None else str(auth).lower() == "true")
            await self.request("TriggerMessage", {"requestedMessage": MessageTrigger.status_notification.value,
                                                  "connectorId": 1})
            try:
                await asyncio.wait_for(self.status_known.wait(), self.settings.ocpp_call_timeout_s)
            except TimeoutError:
                pass
            row = await store.get(self.id)
            if row is not None and row.status == "Unavailable":
                await self.make_operative()
            await self.request("TriggerMessage", {"requestedMessage": MessageTrigger.meter_values.value,
                                                  "connectorId": 1})
        except ve.VendorError as exc:
            log.info("%s: configuration at connect incomplete (%s)", self.id, exc.code)

    async def make_operative(self) -> None:
        """ChangeAvailability Operative (a charger left Unavailable after boot charges nothing)."""
        self._asked_operative = True
        await self.request("ChangeAvailability", {"connectorId": 0, "type": AvailabilityType.operative.value})

    # -- what the charge point reports ------------------------------------------------------------
    @on(Action.boot_notification)
    async def on_boot(self, charge_point_vendor: str, charge_point_model: str, **info: Any) -> Any:
        """A charge point (re)started or reconnected. Whether a transaction survived is told by the
        status and meter values that follow (asked for at connect): Tandem's profiles did not."""
        await self._changed(
            vendor_name=charge_point_vendor[:50], model_name=charge_point_model[:50],
            serial=(info.get("charge_point_serial_number") or info.get("charge_box_serial_number") or None),
            firmware=info.get("firmware_version"), heartbeat_s=self.settings.ocpp_heartbeat_s,
            paused=False, status_claimed_at=None,  # a rebooted clock may have moved: order afresh
        )
        await store.describe(self.id, charge_point_vendor[:50], charge_point_model[:50])
        return call_result.BootNotification(current_time=utcnow().isoformat(),
                                            interval=self.settings.ocpp_heartbeat_s,
                                            status=RegistrationStatus.accepted)

    @on(Action.heartbeat)
    async def on_heartbeat(self) -> Any:
        """Alive: `isReachable` follows heartbeats. The time is written at most every half interval
        (two missed intervals make a charger unreachable): a write per heartbeat of every charge
        point is most of a quiet central system's database load."""
        now = utcnow()
        if self._heard_written is None or now - self._heard_written >= timedelta(
                seconds=self.settings.ocpp_heartbeat_s / 2):
            await store.update(self.id, last_message_at=now)
            self._heard_written = now
        return call_result.Heartbeat(current_time=now.isoformat())

    @on(Action.status_notification)
    async def on_status(self, connector_id: int, error_code: str, status: str, **extra: Any) -> Any:
        """Connector 1's status (connector 0 stands for the whole charge point when it is down);
        other connectors' statuses are answered and ignored.

        A status stamped earlier than the last one applied (by the charge point's own clock: a
        message queued while offline and delivered late) is ignored; the data age is the stamp
        clamped to receipt.
        """
        now = utcnow()
        claimed = messages.timestamp(extra.get("timestamp"))
        row = await store.get(self.id)
        applies = connectors.status_applies(connector_id, status)
        newer = row is not None and (claimed is None or row.status_claimed_at is None
                                     or claimed >= row.status_claimed_at)
        if row is not None and applies and newer:
            changes: dict[str, Any] = dict(status=status, status_at=messages.clamp(claimed, now),
                                           status_claimed_at=claimed, error_code=error_code)
            changes.update(connectors.status_changes(status))
            await self._changed(**changes)
            if status == "Unavailable" and not self._asked_operative:
                self.spawn(self.make_operative())
        elif row is not None:
            await self._heard(now)
            if connectors.box_recovered(connector_id, status, row.status):
                # connector 1's own status was not sent again (many chargers only report the box):
                # ask for it, or the charger would stay faulted in Tandem
                self.spawn(self.request("TriggerMessage", {
                    "requestedMessage": MessageTrigger.status_notification.value, "connectorId": 1}))
        self.status_known.set()
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str) -> Any:
        """Every card is welcome at a home charger. An Authorize names no connector, so its idTag
        is not noted: the StartTransaction that follows tells which connector the card is for,
        and only one on connector 1 makes it the session's idTag (and the card Tandem's remote
        starts present); a card tapped for another connector says nothing about connector 1."""
        await self._heard(utcnow())
        return call_result.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.start_transaction)
    async def on_start(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **_: Any) -> Any:
        """A transaction began: its id is unique for this charge point across Tandem restarts.
        Only connector 1's becomes the charger's transaction (what the plug session's previous
        one delivered is folded into its prior energy); another connector's gets its id and is
        otherwise ignored."""
        tx = await store.next_transaction_id(self.id)
        now = utcnow()
        row = await store.get(self.id) if connector_id == connectors.TRACKED else None
        started_at = messages.clamp(messages.timestamp(timestamp), now)
        if row is None:
            changes = connectors.start_changes(connector_id, tx, id_tag, float(meter_start), started_at)
        else:
            same_card = row.last_id_tag is None or id_tag in (row.last_id_tag, row.remote_id_tag)
            changes = connectors.start_changes(connector_id, tx, id_tag, float(meter_start), started_at,
                                               row.session_prior_wh, row.tx_meter_start_wh, row.energy_wh,
                                               same_card=same_card)
        if changes:
            await self._changed(**changes)
        else:
            await self._heard(now)
        return call_result.StartTransaction(transaction_id=tx, id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.stop_transaction)
    async def on_stop(self, meter_stop: int, timestamp: str, transaction_id: int, **_: Any) -> Any:
        """A transaction ended: connector 1's (the one Tandem tracks, or the one a Finishing status
        just ended) ends the charger's and its meterStop is the transaction's last reading; any
        other (another connector's, or one Tandem does not know) changes nothing Tandem tracks:
        connector 1's own end shows in the StatusNotification that follows it."""
        row = await store.get(self.id)
        now = utcnow()
        if row is not None and connectors.stop_applies(row.transaction_id, transaction_id, row.last_tx_id):
            await self._changed(transaction_id=None, paused=False, energy_wh=float(meter_stop), power_w=0.0,
                                meter_at=messages.clamp(messages.timestamp(timestamp), now))
        else:
            await self._heard(now)
        return call_result.StopTransaction(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.meter_values)
    async def on_meter(self, connector_id: int, meter_value: list[dict[str, Any]], **extra: Any) -> Any:
        """Connector 1's power, energy and SoC; a transaction id Tandem does not know is adopted
        from connector 1's (after a restart). Connector 0's (the whole box) and other connectors'
        are answered and ignored."""
        now = utcnow()
        row = await store.get(self.id)
        changes = {} if row is None else connectors.meter_changes(
            connector_id, messages.meter_reading(meter_value), now, extra.get("transaction_id"),
            row.transaction_id, row.tx_meter_start_wh, row.last_tx_id)
        if changes:
            await self._changed(**changes)
        else:
            await self._heard(now)
        return call_result.MeterValues()

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        """Vendor extensions: answered politely, not understood."""
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)
