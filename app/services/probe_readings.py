"""A probe's readings of the candidate cars: taken from the vehicle rows (the poller writes
them; the probe only asks for polls), stored as JSON in `ChargerProbe.readings`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.db.models import ChargerProbe, Vehicle
from app.domain import pairing as dp


def obs_of(v: Vehicle) -> dp.VehicleObs | None:
    """A car's current reading from its row (None when it has none or its last poll failed)."""
    if v.poll_error is not None or not v.is_reachable or (v.data_age is None and v.polled_at is None):
        return None
    observed = v.polled_at or v.data_age
    assert observed is not None
    return dp.VehicleObs(observed, v.data_age, v.is_plugged_in, v.is_charging, v.charge_rate)


def dump_obs(o: dp.VehicleObs) -> dict[str, Any]:
    """A reading as JSON."""
    return {"observed_at": o.observed_at.isoformat(), "data_age": o.data_age.isoformat() if o.data_age else None,
            "is_plugged_in": o.is_plugged_in, "is_charging": o.is_charging, "charge_rate_kw": o.charge_rate_kw}


def load_obs(raw: dict[str, Any]) -> dp.VehicleObs:
    """A reading from JSON."""
    return dp.VehicleObs(datetime.fromisoformat(raw["observed_at"]),
                         datetime.fromisoformat(raw["data_age"]) if raw["data_age"] else None,
                         raw["is_plugged_in"], raw["is_charging"], raw["charge_rate_kw"])


@dataclass
class Readings:
    """A probe's readings by phase, as stored in `ChargerProbe.readings`."""

    before: dict[str, dp.VehicleObs]
    paused: dict[str, dp.VehicleObs]
    resumed: dict[str, dp.VehicleObs]

    @classmethod
    def of(cls, p: ChargerProbe) -> Readings:
        """The readings stored in a probe."""
        raw = p.readings or {}
        return cls(*({vid: load_obs(o) for vid, o in raw.get(k, {}).items()} for k in ("before", "paused", "resumed")))

    def dump(self) -> dict[str, Any]:
        """As stored in `ChargerProbe.readings`."""
        return {k: {vid: dump_obs(o) for vid, o in getattr(self, k).items()} for k in ("before", "paused", "resumed")}


async def current(ids: list[str], since: datetime | None = None) -> dict[str, dp.VehicleObs]:
    """The cars' current readings (only data taken after `since`, when given)."""
    out: dict[str, dp.VehicleObs] = {}
    for v in await Vehicle.filter(id__in=ids) if ids else []:
        o = obs_of(v)
        if o is not None and (since is None or o.taken_at > since):
            out[v.id] = o
    return out
