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
  transaction as Tandem knows it (running, or ended by a Finishing status that came first).

A plug session (from the plug-in to the connector's next Available) may hold several
transactions: a stop and a start again (managed charging without SmartCharging profiles, a stop at
the charger and a remote start, a reboot that lost the transaction). Its energy is what all of
them delivered: a StartTransaction folds what the previous one delivered into the plug session's
prior energy (`session_prior_wh`), whether the register counts on (a lifetime register) or
restarts at 0 for each transaction; Available starts afresh.

Authorize carries no connector either: its idTag names nothing until a StartTransaction on
connector 1 carries it (see `CentralChargePoint.on_authorize`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.ocpp.messages import MeterReading, clamp

#: The connector Tandem tracks.
TRACKED = 1
#: Statuses in which no transaction runs on the connector (waiting for one, or it has ended).
NO_TRANSACTION = frozenset({"Available", "Preparing", "Finishing"})
#: Connector 0 stands for the whole charge point: these statuses of it hold for connector 1 too.
WHOLE_BOX_DOWN = frozenset({"Unavailable", "Faulted"})


def status_applies(connector_id: int, status: str) -> bool:
    """Whether a StatusNotification of `connector_id` is connector 1's status."""
    return connector_id == TRACKED or (connector_id == 0 and status in WHOLE_BOX_DOWN)


def status_changes(status: str) -> dict[str, Any]:
    """Station-row changes of connector 1's `status` beyond the status itself: no transaction runs
    in Available, Preparing and Finishing (a StopTransaction may still follow: `last_tx_id` keeps
    its id); Available is the unplug, so the next plug session starts afresh (no SoC, no remote
    tag, no meter start, no prior energy)."""
    changes: dict[str, Any] = {}
    if status in NO_TRANSACTION:
        changes.update(transaction_id=None, tx_id_tag=None, paused=False, power_w=0.0)
    if status == "Available":
        changes.update(soc=None, remote_id_tag=None, tx_meter_start_wh=None, session_prior_wh=0.0, last_tx_id=None)
    return changes


def box_recovered(connector_id: int, status: str, tracked_status: str | None) -> bool:
    """Whether a StatusNotification of connector 0 says the whole charge point is back (not
    Unavailable or Faulted) while connector 1's tracked status is still the box's fault: connector
    1's own status is then to be asked for (TriggerMessage)."""
    return connector_id == 0 and status not in WHOLE_BOX_DOWN and tracked_status in WHOLE_BOX_DOWN


def start_changes(connector_id: int, transaction_id: int, id_tag: str, meter_start_wh: float,
                  started_at: datetime, prior_wh: float = 0.0, last_start_wh: float | None = None,
                  last_energy_wh: float | None = None, same_card: bool = True) -> dict[str, Any]:
    """Station-row changes of a StartTransaction answered with `transaction_id`: the charger's
    transaction, its idTag and meter start (Wh) when on connector 1, with the plug session's prior
    energy (Wh) folded from the transaction before it (`folded_prior`); nothing otherwise.

    `prior_wh`, `last_start_wh` and `last_energy_wh` are the row's `session_prior_wh`,
    `tx_meter_start_wh` and `energy_wh` before this start. A transaction started with another
    card than the plug session's last (`same_card` False; Tandem's own remote start counts as the
    same) is not folded: another card is maybe another car, swapped while Tandem did not see the
    cable (an outage), so the session's energy starts again and the plug-in is decided afresh."""
    if connector_id != TRACKED:
        return {}
    if not same_card:
        prior_wh, last_start_wh = 0.0, None
    return dict(transaction_id=transaction_id, last_tx_id=transaction_id, tx_id_tag=id_tag, last_id_tag=id_tag,
                last_id_tag_at=started_at, tx_started_at=started_at, tx_meter_start_wh=meter_start_wh,
                energy_wh=meter_start_wh, paused=False,
                session_prior_wh=folded_prior(prior_wh, last_start_wh, last_energy_wh, meter_start_wh))


def folded_prior(prior_wh: float, last_start_wh: float | None, last_energy_wh: float | None,
                 meter_start_wh: float) -> float:
    """The plug session's prior energy (Wh) once a new transaction starts at `meter_start_wh`:
    `prior_wh` plus what the previous transaction delivered (its last known register reading
    minus its meter start, never negative); 0 when the plug session had none (`last_start_wh`
    None: no transaction since the connector was last Available).

    A new meter start at or above the previous one is a register that counted on: it reads what
    the previous transaction delivered even when its last readings were lost (a reboot sends no
    StopTransaction). A lower one is a register that restarts with each transaction: only the
    last known reading (the StopTransaction's meterStop when it came) tells."""
    if last_start_wh is None:
        return 0.0
    best = last_start_wh if last_energy_wh is None else last_energy_wh
    if meter_start_wh >= last_start_wh:
        best = max(best, meter_start_wh)
    return prior_wh + max(0.0, best - last_start_wh)


def meter_changes(connector_id: int, reading: MeterReading, received: datetime, transaction_id: Any,
                  tracked_tx: int | None, tracked_meter_start_wh: float | None,
                  last_tx: int | None = None) -> dict[str, Any]:
    """Station-row changes of a MeterValues received at `received`: power (W), energy register (Wh),
    SoC (%) and the reading's time (clamped to receipt) for connector 1, plus its transaction id
    when Tandem tracks none (lost across a restart) and the message names one other than the plug
    session's ended transaction (`last_tx`); nothing for connector 0 or another connector.

    Between transactions (none tracked, none named) the register is not taken: the session's
    energy holds what its last transaction delivered, and a register that restarts with each
    transaction may read 0 by then."""
    if connector_id != TRACKED:
        return {}
    at = clamp(reading.at, received)
    changes: dict[str, Any] = dict(meter_at=at)
    named = transaction_id if isinstance(transaction_id, int) and not isinstance(transaction_id, bool) else None
    for name in ("power_w", "energy_wh", "soc"):
        if getattr(reading, name) is not None and not (name == "energy_wh" and tracked_tx is None and named is None):
            changes[name] = getattr(reading, name)
    if named is not None and tracked_tx is None and named != last_tx:
        changes.update(transaction_id=named, last_tx_id=named)
        if tracked_meter_start_wh is None and reading.energy_wh is not None:
            changes.update(tx_meter_start_wh=reading.energy_wh)
    return changes


def stop_applies(tracked_tx: int | None, transaction_id: int, last_tx: int | None = None) -> bool:
    """Whether a StopTransaction of `transaction_id` ends connector 1's transaction: only when it
    is the one Tandem tracks, or the plug session's latest (`last_tx`) when a Finishing status
    came first and cleared it (a StopTransaction names no connector; one Tandem does not know may
    be another connector's, and connector 1's own end shows in its StatusNotification anyway).
    Its meterStop is then the transaction's last known register reading."""
    return transaction_id in (tracked_tx, last_tx) and transaction_id is not None
