"""When a simulated charge point tries its central system again: exponential backoff with full
jitter, honouring the server's `Retry-After`, as real chargers do (OCPP 2.0.1's
RetryBackOffWaitMinimum / RetryBackOffRandomRange / RetryBackOffRepeatTimes, in effect).

Without jitter, thousands of charge points refused at the same moment (every one reconnecting
after a restart of the central system) all come back at the same moment again, and again.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: The first wait's ceiling (s): a dropped socket is tried again within half a second.
BASE_S = 0.5
#: The ceiling stops doubling here (s): a charger refused for long tries about every half minute.
CAP_S = 60.0
#: A `Retry-After` longer than this (s) is taken as this: a broken header does not park a charger.
MAX_RETRY_AFTER_S = 600.0


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """The wait a `Retry-After` header asks for (s): delay-seconds or an HTTP date, capped at
    `MAX_RETRY_AFTER_S`; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(MAX_RETRY_AFTER_S, max(0.0, seconds))


class Backoff:
    """Waits between one charge point's connection attempts (s).

    The n-th wait after the last successful connection (n from 0) is uniform in
    [0, min(cap, base × 2ⁿ)] ("full jitter"), and never shorter than a `Retry-After` given with
    the refusal."""

    def __init__(self, base_s: float = BASE_S, cap_s: float = CAP_S, rng: random.Random | None = None) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.failures = 0
        self.rng = rng or random.Random()

    def reset(self) -> None:
        """Connected: the next wait starts from `base_s` again."""
        self.failures = 0

    def ceiling(self) -> float:
        """The longest the next wait may be without a `Retry-After` (s)."""
        return min(self.cap_s, self.base_s * 2.0 ** min(self.failures, 64))

    def next_wait(self, retry_after: float | None = None) -> float:
        """The wait before the next attempt (s); counts one more failure."""
        wait = self.rng.uniform(0.0, self.ceiling())
        self.failures += 1
        return max(wait, retry_after or 0.0)
