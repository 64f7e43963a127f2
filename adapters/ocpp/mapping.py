"""OCPP 1.6 connector status and meter values → Tandem's charger snapshot (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from adapters.ocpp.hub import StationState
from adapters.types import Cap, ChargerSnapshot, PowerState

#: What a charge point offers through Tandem: Core has remote start and stop, SmartCharging the
#: charging profiles behind a max current (and a resumable stop).
CAPS = frozenset({Cap.INFORMATION, Cap.CHARGE_STATE, Cap.START_CHARGING, Cap.STOP_CHARGING, Cap.SET_MAX_CURRENT})

#: ChargePointStatus → (cable in, delivering, Enode-style power state). None: cannot tell.
STATUS: dict[str, tuple[bool | None, bool | None, PowerState]] = {
    "Available": (False, False, PowerState.UNPLUGGED),
    "Reserved": (False, False, PowerState.UNPLUGGED),
    "Preparing": (True, False, PowerState.PLUGGED_IN_INITIALIZING),
    "Charging": (True, True, PowerState.PLUGGED_IN_CHARGING),
    "SuspendedEV": (True, False, PowerState.PLUGGED_IN_STOPPED),
    "SuspendedEVSE": (True, False, PowerState.PLUGGED_IN_STOPPED),
    "Finishing": (True, False, PowerState.PLUGGED_IN_STOPPED),
    "Faulted": (None, None, PowerState.PLUGGED_IN_FAULT),
    "Unavailable": (None, None, PowerState.UNKNOWN),
}
#: A charge point silent for this many heartbeat intervals (plus slack) is offline.
MISSED_HEARTBEATS = 2
SLACK_S = 30.0


def capabilities(features: Sequence[str] | None) -> frozenset[Cap]:
    """A charge point's capabilities from its `SupportedFeatureProfiles` (GetConfiguration at
    connect): every one of CAPS while they are not known; no max current without SmartCharging
    (its stop is then a RemoteStopTransaction)."""
    if features and "SmartCharging" not in features:
        return CAPS - {Cap.SET_MAX_CURRENT}
    return CAPS


def is_online(state: StationState, now: datetime) -> bool:
    """Connected, and heard from within two heartbeat intervals."""
    if not state.connected or state.last_message_at is None:
        return False
    return now - state.last_message_at <= timedelta(seconds=MISSED_HEARTBEATS * state.heartbeat_s + SLACK_S)


def snapshot(state: StationState, now: datetime) -> ChargerSnapshot:
    """The charger as its charge point last reported it.

    Power comes from MeterValues (`Power.Active.Import`). The session's energy (kWh) is what the
    plug session delivered across its transactions: the earlier ones' (`session_prior_wh`) plus
    the register minus the latest transaction's meter start; between transactions (still plugged
    in) it stays at that total (`session_energy_kwh`). The max current
    is what the charge point reported as its effective limit, else the limit Tandem set.
    """
    online = is_online(state, now)
    plugged, charging, power = STATUS.get(state.status or "", (None, None, PowerState.UNKNOWN))
    if not online:
        plugged, charging, power = None, None, PowerState.UNKNOWN
    rate = None
    if online and state.power_w is not None:
        rate = round(state.power_w / 1000, 3) if charging else 0.0
    energy = session_energy_kwh(state)
    limit = state.reported_limit_a if state.reported_limit_a is not None else state.limit_a
    ages = [t for t in (state.status_at, state.meter_at) if t is not None]
    return ChargerSnapshot(
        is_online=online,
        is_plugged_in=plugged,
        is_charging=charging,
        power_state=power,
        charge_rate_kw=rate,
        max_current=limit,
        session_energy_kwh=energy,
        schedule_blocking=False,
        data_age=max(ages) if ages else None,
        id_tag=state.tx_id_tag if online and state.transaction_id is not None
        and state.tx_id_tag != state.remote_id_tag else None,
        vehicle_soc=state.soc if online and plugged else None,
        session_key=session_key(state),
    )


def session_key(state: StationState) -> str | None:
    """The plug session's latest transaction id (running or ended), as text; None before any."""
    tx = state.transaction_id if state.transaction_id is not None else state.last_tx_id
    return None if tx is None else str(tx)


def session_energy_kwh(state: StationState) -> float | None:
    """What the plug session delivered (kWh): the earlier transactions' energy plus the latest
    one's (its register reading minus its meter start, never negative). Before the plug
    session's first transaction: 0 while the status says a cable is in (a car swapped between
    two polls then shows as a drop, as with any charger), None otherwise."""
    if state.energy_wh is None or state.tx_meter_start_wh is None:
        return 0.0 if STATUS.get(state.status or "", (None,))[0] else None
    return (max(0.0, state.session_prior_wh) + max(0.0, state.energy_wh - state.tx_meter_start_wh)) / 1000


def amps_to_rate(amps: float, unit: str | None, phases: int = 3, voltage: float = 230.0) -> float:
    """A current limit in the unit the charge point takes (W for 3 × 230 V when it wants W)."""
    return round(amps * phases * voltage, 1) if unit == "W" else round(amps, 1)


def rate_to_amps(value: float, unit: str | None, phases: int = 3, voltage: float = 230.0) -> float:
    """The inverse of `amps_to_rate`."""
    return round(value / (phases * voltage), 1) if unit == "W" else round(value, 1)
