"""When to log in again after a vendor refused an account's access token (pure; one per account).

A refused token is often a passing state at the vendor (a password reset being synced, a token
service restarting): the account is logged into again with exponential backoff, and only when
`attempts` logins in a row were refused is the user asked to link it again.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Relogin:
    """Re-login backoff of one vendor account. Times are monotonic seconds."""

    attempts: int  # refused logins in a row before giving up (0: give up at once)
    backoff_s: float  # wait after the first refusal; doubles after each next one
    refusals: int = 0
    next_at: float = 0.0

    def wait(self, now: float) -> float:
        """Seconds until a login may be tried (0: now)."""
        return max(0.0, self.next_at - now)

    @property
    def exhausted(self) -> bool:
        """Whether the user must link the account again."""
        return self.refusals >= self.attempts

    def refused(self, now: float) -> None:
        """A login was refused: back off (see `exhausted`)."""
        self.refusals += 1
        self.next_at = now + self.backoff_s * 2 ** (self.refusals - 1)

    def failed(self, now: float) -> None:
        """A login could not be tried (vendor unreachable, rate limited): no verdict, wait anyway."""
        self.next_at = now + self.backoff_s * 2 ** max(0, self.refusals - 1)

    def succeeded(self) -> None:
        """A login worked: start over."""
        self.refusals, self.next_at = 0, 0.0
