"""Typed vendor errors. Adapters map every vendor failure to one of these, once.

Callers (workers, orchestrator) steer on the type, never on status codes or strings.
"""

from __future__ import annotations


class VendorError(Exception):
    """Base of every error an adapter raises. `code` is stable and safe to show users."""

    code = "VENDOR_ERROR"
    #: Whether trying the same call again later may succeed.
    retryable = True

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail or self.code


class NotCapable(VendorError):
    """The device can never do this (permanent)."""

    code = "NOT_CAPABLE"
    retryable = False


class Asleep(VendorError):
    """The vehicle is asleep; wake it up or wait."""

    code = "ASLEEP"


#: Scopes of a rate limit: the whole app's quota at the vendor, one vendor account, one device;
#: LOCAL is Tandem's own request budget for the vendor (nothing was sent, the vendor said nothing).
APP, ACCOUNT, DEVICE, LOCAL = "APP", "ACCOUNT", "DEVICE", "LOCAL"


class RateLimited(VendorError):
    """The vendor asked us to slow down; retry after `retry_after` seconds (already capped to
    what Tandem honours). `scope` says what the limit covers: APP (every request to this vendor),
    ACCOUNT (one vendor account) or DEVICE (one vehicle or charger); nothing outside it waits."""

    code = "RATE_LIMITED"

    def __init__(self, detail: str = "", retry_after: float = 60.0, scope: str = ACCOUNT) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.scope = scope


class Unreachable(VendorError):
    """Timeout, connection error, vendor 5xx, or the device is offline."""

    code = "UNREACHABLE"


class AuthRevoked(VendorError):
    """Credentials no longer work; the user must link the vendor again."""

    code = "AUTH_REVOKED"
    retryable = False


class BadResponse(VendorError):
    """The vendor answered something we cannot understand."""

    code = "BAD_RESPONSE"


class PreconditionFailed(VendorError):
    """The device refused because of its state (not plugged in, SoC too low, ...)."""

    code = "FAILED_PRECONDITION"


class NotFound(VendorError):
    """The device no longer exists at the vendor."""

    code = "NOT_FOUND"
    retryable = False


class BadCredentials(VendorError):
    """The credentials given for linking are malformed or not accepted."""

    code = "BAD_CREDENTIALS"
    retryable = False


class UnknownVendor(VendorError):
    """No adapter is registered under that name."""

    code = "UNKNOWN_VENDOR"
    retryable = False
