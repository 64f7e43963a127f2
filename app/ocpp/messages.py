"""Pure readings of OCPP 1.6 message contents: meter values, timestamps, raw frames."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: Frames larger than this are refused with a CallError (OCPP messages are small).
MAX_FRAME_BYTES = 65536


@dataclass(frozen=True)
class MeterReading:
    """The newest meter values of one MeterValues (or StopTransaction) message."""

    at: datetime | None
    power_w: float | None  # Power.Active.Import, summed over phases when sent per phase
    energy_wh: float | None  # Energy.Active.Import.Register
    soc: float | None  # SoC, percent


def timestamp(raw: Any) -> datetime | None:
    """An OCPP dateTime, or None when absent or unreadable."""
    if not isinstance(raw, str):
        return None
    try:
        t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def clamp(claimed: datetime | None, received: datetime) -> datetime:
    """A charge point's timestamp as a claim: never later than when Tandem received it."""
    if claimed is None:
        return received
    if claimed.tzinfo is None:
        claimed = claimed.replace(tzinfo=UTC)
    return min(claimed, received)


def _number(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if value == value and abs(value) != float("inf") else None


def meter_reading(meter_value: list[dict[str, Any]]) -> MeterReading:
    """Power, energy and SoC from a `meterValue` list (snake_case keys, as the ocpp library passes).

    Units: W or kW for power, Wh or kWh for energy (the default measurand is the energy register,
    the default unit Wh); per-phase power values are added up, a total wins over phases.
    """
    best: MeterReading = MeterReading(None, None, None, None)
    for entry in sorted((m for m in meter_value if isinstance(m, dict)), key=lambda m: str(m.get("timestamp", ""))):
        power_total: float | None = None
        phase_power = 0.0
        has_phase = False
        energy = soc = None
        for sv in entry.get("sampled_value") or []:
            if not isinstance(sv, dict):
                continue
            value = _number(sv.get("value"))
            if value is None:
                continue
            measurand = sv.get("measurand") or "Energy.Active.Import.Register"
            unit = sv.get("unit") or ("Wh" if measurand.startswith("Energy") else None)
            if measurand == "Power.Active.Import":
                watts = value * 1000 if unit == "kW" else value
                if sv.get("phase") in ("L1", "L2", "L3", "L1-N", "L2-N", "L3-N"):
                    phase_power, has_phase = phase_power + watts, True
                elif not sv.get("phase"):
                    power_total = watts
            elif measurand == "Energy.Active.Import.Register" and not sv.get("phase"):
                energy = value * 1000 if unit == "kWh" else value
            elif measurand == "SoC" and 0 <= value <= 100:
                soc = value
        power = power_total if power_total is not None else (phase_power if has_phase else None)
        best = MeterReading(
            at=timestamp(entry.get("timestamp")) or best.at,
            power_w=power if power is not None else best.power_w,
            energy_wh=energy if energy is not None else best.energy_wh,
            soc=soc if soc is not None else best.soc,
        )
    return best


def frame_problem(raw: str) -> tuple[str, str, str] | None:
    """Why a frame is not an OCPP-J message: `(unique id or "", error code, description)`; None if fine.

    Catches what the ocpp library would only log: oversized frames, bad JSON, wrong shapes.
    """
    if len(raw.encode()) > MAX_FRAME_BYTES:
        return "", "ProtocolError", f"frame larger than {MAX_FRAME_BYTES} bytes"
    try:
        msg = json.loads(raw)
    except (ValueError, RecursionError):
        return "", "FormationViolation", "frame is not JSON"
    if not isinstance(msg, list) or len(msg) < 3 or msg[0] not in (2, 3, 4) or not isinstance(msg[1], str):
        uid = msg[1] if isinstance(msg, list) and len(msg) > 1 and isinstance(msg[1], str) else ""
        return uid[:36], "FormationViolation", "frame is not an OCPP-J Call, CallResult or CallError"
    if len(msg[1]) > 36:
        return "", "FormationViolation", "unique id longer than 36 characters"
    if msg[0] == 2 and (len(msg) != 4 or not isinstance(msg[2], str) or not isinstance(msg[3], dict)):
        return msg[1], "FormationViolation", "a Call is [2, id, action, {payload}]"
    return None
