"""A per-vendor request budget (a token bucket) and the holds a vendor's 429s put on one scope.

Nothing here sleeps out a vendor's Retry-After: a request to a held scope fails at once with
`RateLimited`, and the caller (poller, orchestrator, linking) decides what to do meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from adapters.errors import LOCAL, RateLimited

#: The longest a request waits for a token of Tandem's own budget before failing as RateLimited.
MAX_WAIT_S = 2.0
#: Expired holds are swept when there are more than this many.
SWEEP_AT = 10_000
Scope = tuple[str, str]  # (APP | ACCOUNT | DEVICE, key within it)


class Budget:
    """At most `capacity` requests at once, refilled at `refill_per_s`; shared by an adapter.

    Also remembers the holds the vendor asked for: scope → monotonic time until which no request
    in that scope is sent."""

    def __init__(self, capacity: int, refill_per_s: float, clock: Callable[[], float] = time.monotonic,
                 max_wait_s: float = MAX_WAIT_S) -> None:
        self.capacity = float(capacity)
        self.refill_per_s = refill_per_s
        self.clock = clock
        self.max_wait_s = max_wait_s
        self.tokens = float(capacity)
        self.updated = clock()
        self.holds: dict[Scope, float] = {}

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_s)
        self.updated = now

    def reserve(self) -> float:
        """Take a token now; returns the seconds until it is really there (0 when free). Raises
        RateLimited (scope LOCAL) instead when that would be longer than `max_wait_s`."""
        self._refill()
        self.tokens -= 1
        if self.tokens >= 0:
            return 0.0
        wait = -self.tokens / self.refill_per_s if self.refill_per_s > 0 else float("inf")
        if wait > self.max_wait_s:
            self.tokens += 1
            raise RateLimited("Tandem's own request budget for this vendor is spent",
                              min(wait, 3600.0), scope=LOCAL)
        return wait

    async def acquire(self) -> None:
        """Wait for a token (at most `max_wait_s`; no lock is held while waiting, so one slow
        caller never queues the others). Raises RateLimited when the budget is spent for longer."""
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)

    def hold(self, scope: Scope, seconds: float) -> None:
        """Send nothing in `scope` for `seconds` (after a 429 with Retry-After)."""
        if len(self.holds) > SWEEP_AT:
            now = self.clock()
            self.holds = {k: t for k, t in self.holds.items() if t > now}
        until = self.clock() + seconds
        self.holds[scope] = max(self.holds.get(scope, 0.0), until)

    def held(self, scopes: Iterable[Scope]) -> tuple[str, float] | None:
        """(scope kind, seconds left) of the first of `scopes` still held, else None."""
        now = self.clock()
        for scope in scopes:
            until = self.holds.get(scope)
            if until is None:
                continue
            if until > now:
                return scope[0], until - now
            del self.holds[scope]
        return None
