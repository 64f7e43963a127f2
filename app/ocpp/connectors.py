"""Which of a charge point's messages change what Tandem tracks (pure).

A Tandem charger linked as `ocpp` is one charge point, and Tandem tracks its connector 1 only
(a twin-socket wallbox's second car is someone else's business). Other connectors' messages are
still answered (a StartTransaction on connector 2 gets a transaction id), but only connector 1's
statuses, transactions and meter values move the station row:

- StatusNotification: connector 1, or connector 0 when it says the whole charge point is down;
- StartTransaction: connector 1's becomes the charger's transaction and its idTag the session's;
- MeterValues: connector 1's only (connector 0 is the whole box's main meter, other connectors
  are other cars); a transaction id Tandem lost track of is adopted from connector 1's only;
- StopTransaction: carries no connector, so it applies only when it names connector 1's
  transaction as Tandem knows it.

Authorize carries no connector either: its idTag names nothing until a StartTransaction on
connector 1 carries it (see `CentralChargePoint.on_authorize`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.ocpp.messages import MeterReading

#: The connector Tandem tracks.
TRACKED = 1
#: Connector 0 stands for the whole charge point: these statuses of it hold for connector 1 too.
WHOLE_BOX_DOWN = frozenset({"Unavailable", "Faulted"})


def status_applies(connector_id: int, status: str) -> bool:
    """Whether a StatusNotification of `connector_id` is connector 1's status."""
    return connector_id == TRACKED or (connector_id == 0 and status in WHOLE_BOX_DOWN)


def start_changes(connector_id: int, transaction_id: int, id_tag: str, meter_start_wh: float,
                  started_at: datetime) -> dict[str, Any]:
    """Station-row changes of a StartTransaction answered with `transaction_id`: the charger's
    transaction, its idTag and meter start (Wh) when on connector 1; nothing otherwise."""
    if connector_id != TRACKED:
        return {}
    return dict(transaction_id=transaction_id, tx_id_tag=id_tag, last_id_tag=id_tag, last_id_tag_at=started_at,
                tx_started_at=started_at, tx_meter_start_wh=meter_start_wh, energy_wh=meter_start_wh, paused=False)


def meter_changes(connector_id: int, reading: MeterReading, received: datetime, transaction_id: Any,
                  tracked_tx: int | None, tracked_meter_start_wh: float | None) -> dict[str, Any]:
    """Station-row changes of a MeterValues received at `received`: power (W), energy register (Wh),
    SoC (%) and the reading's time (clamped to receipt) for connector 1, plus its transaction id
    when Tandem tracks none (lost across a restart) and the message names one; nothing for
    connector 0 or another connector."""
    if connector_id != TRACKED:
        return {}
    at = received if reading.at is None else min(reading.at, received)
    changes: dict[str, Any] = dict(meter_at=at)
    for name in ("power_w", "energy_wh", "soc"):
        if getattr(reading, name) is not None:
            changes[name] = getattr(reading, name)
    if isinstance(transaction_id, int) and not isinstance(transaction_id, bool) and tracked_tx is None:
        changes.update(transaction_id=transaction_id)
        if tracked_meter_start_wh is None and reading.energy_wh is not None:
            changes.update(tx_meter_start_wh=reading.energy_wh)
    return changes


def stop_applies(tracked_tx: int | None, transaction_id: int) -> bool:
    """Whether a StopTransaction of `transaction_id` ends connector 1's transaction: only when it
    is the one Tandem tracks (a StopTransaction names no connector; one Tandem does not know may
    be another connector's, and connector 1's own end shows in its StatusNotification anyway)."""
    return tracked_tx is not None and tracked_tx == transaction_id
