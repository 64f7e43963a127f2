"""A vendor's time is a claim: translate it to our clock and bound it by when we received it.

Vendor clouds stamp their data (Smartcar's `sc-data-age`) with their own clock. A clock that
runs ahead makes stale data look newer than it is (newer than a plug-in, say); one that runs
behind makes fresh data look old. Two rules, both pure:

- no data can describe a moment after we received it: a time later than the receipt is clamped
  to the receipt;
- how far a vendor's clock runs ahead is learnt from its own answers: a claim `x` seconds after
  its receipt proves the clock is at least `x` seconds ahead (data never describes the future),
  so the largest such excess seen is subtracted from every later claim of that device. This
  never over-corrects a steady clock (the excess is a lower bound of the skew).

A clock that runs behind cannot be told from data that is simply old, so nothing is corrected
for it; pairing never relies on a vendor time being old (it uses the receipt for that), only on
it being new, and an old-looking time only delays a decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Claim:
    """A vendor time on our clock, and the device's learnt clock lead (seconds, >= 0)."""

    at: datetime | None
    ahead_s: float


def received(claimed: datetime | None, received_at: datetime, ahead_s: float = 0.0) -> Claim:
    """Translate `claimed` (vendor clock) to our clock, given the device's learnt lead `ahead_s`,
    and clamp it to `received_at`; returns the corrected time and the updated lead.

    `claimed` None (the vendor gave no time) stays None; the lead is unchanged then."""
    if claimed is None:
        return Claim(None, ahead_s)
    lead = max(ahead_s, (claimed - received_at).total_seconds(), 0.0)
    return Claim(min(claimed - timedelta(seconds=lead), received_at), lead)
