"""An action's plan: the orchestrator's durable memory of one action, stored as JSON.

Per path (VEHICLE, CHARGER): commands sent, transient failures in a row, the time before which
it must not be tried again (backoff or a vendor's Retry-After) and why, or the refusal that took
it out of this action for good. Plus the command in flight ("sending" is written before a
command leaves, "sent" once the vendor accepted it), wake-ups and the schedule override.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

#: Failure types (GraphQL FailureType) a permanent refusal ends an action with.
Refusal = Literal["NOT_CAPABLE", "FAILED_PRECONDITION", "NOT_FOUND"]


@dataclass
class PathPlan:
    """What this action knows about one path."""

    tries: int = 0  # commands sent through this path (wake-ups and overrides included)
    failures: int = 0  # transient failures in a row: drives the backoff
    wait_until: datetime | None = None  # not before this (backoff or Retry-After)
    why: str = ""  # the latest reason it failed, waits or is out, in words
    refused: Refusal | None = None  # refused for good: never tried again by this action

    def ready(self, now: datetime) -> bool:
        """Usable now (not refused, not waiting)."""
        return self.refused is None and (self.wait_until is None or self.wait_until <= now)


@dataclass
class InFlight:
    """The command being verified. `attempt_ids`: its attempt rows (the second when sent both ways)."""

    via: str
    at: datetime
    state: Literal["sending", "sent"] = "sending"
    attempt_ids: list[int] = field(default_factory=list)
    polls: int = 0  # vehicle polls asked for while verifying
    also: str | None = None  # the second path a start was sent through at the same time


@dataclass
class Plan:
    """The whole plan of one action."""

    paths: dict[str, PathPlan] = field(default_factory=dict)
    current: InFlight | None = None
    wakes: int = 0
    overrode: bool = False
    commands: int = 0  # every command sent, all paths together (capped per action)
    #: Attempt rows written before their command left and not yet answered. Left non-empty by a
    #: worker that stopped mid-send: those commands' outcome is unknown.
    sending: list[int] = field(default_factory=list)

    def path(self, via: str) -> PathPlan:
        """The plan of one path (created on first use)."""
        return self.paths.setdefault(via, PathPlan())

    def next_ready(self, vias: Sequence[str]) -> datetime | None:
        """The earliest time one of `vias` (none refused) may be tried again; None when one is ready."""
        waits = [self.path(v).wait_until for v in vias if self.path(v).refused is None]
        if any(w is None for w in waits):
            return None
        return min((w for w in waits if w is not None), default=None)

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict (datetimes as ISO-8601)."""
        return _encode(asdict(self))  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> Plan:
        """Read a stored plan; unknown or legacy keys are ignored (an empty dict is a fresh plan)."""
        raw = raw or {}
        plan = cls(wakes=int(raw.get("wakes", 0)), overrode=bool(raw.get("overrode", False)),
                   commands=int(raw.get("commands", 0)), sending=[int(i) for i in raw.get("sending", [])])
        for via, p in (raw.get("paths") or {}).items():
            plan.paths[via] = PathPlan(tries=int(p.get("tries", 0)), failures=int(p.get("failures", 0)),
                                       wait_until=_dt(p.get("wait_until")), why=str(p.get("why", "")),
                                       refused=p.get("refused"))
        cur = raw.get("current")
        if isinstance(cur, dict) and cur.get("via") and _dt(cur.get("at")) is not None:
            plan.current = InFlight(via=cur["via"], at=_dt(cur["at"]),  # type: ignore[arg-type]
                                    state="sent" if cur.get("state") == "sent" else "sending",
                                    attempt_ids=[int(i) for i in cur.get("attempt_ids", [])],
                                    polls=int(cur.get("polls", 0)), also=cur.get("also"))
        return plan


def backoff_s(failures: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before a path is tried again after `failures` transient failures in a row.

    Exponential (base, 2×base, 4×base, ... capped at `cap_s`) with equal jitter: the result lies in
    [d/2, d] for the capped delay d, so retries of many actions spread out but never come early.
    """
    if failures <= 0:
        return 0.0
    delay = min(cap_s, base_s * 2.0 ** min(failures - 1, 30))
    jitter: float = (rng or random).uniform(0, delay / 2)
    return delay / 2 + jitter


def _dt(raw: Any) -> datetime | None:
    if isinstance(raw, datetime):
        return raw
    try:
        return datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    return value
