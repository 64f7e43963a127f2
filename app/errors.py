"""Errors users see. Each carries a stable `code` that GraphQL puts in `extensions.code`."""

from __future__ import annotations

from graphql import GraphQLError


class TandemError(Exception):
    """A domain error safe to show the caller: a message and a stable code."""

    code = "BAD_REQUEST"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message


class Unauthenticated(TandemError):
    """No valid token."""

    code = "UNAUTHENTICATED"


class Forbidden(TandemError):
    """A valid token that may not do this."""

    code = "FORBIDDEN"


class NotFoundError(TandemError):
    """No such object, or not the caller's (the two look the same)."""

    code = "NOT_FOUND"


class BadInput(TandemError):
    """Arguments that cannot be used."""

    code = "BAD_USER_INPUT"


class AlreadyLinked(TandemError):
    """The vendor account, or one of its devices, is linked by another user."""

    code = "DEVICE_ALREADY_LINKED"


#: Codes kept visible by error masking; anything else is masked as INTERNAL_SERVER_ERROR.
def should_mask(error: GraphQLError) -> bool:
    """Mask unexpected exceptions, keep domain errors and GraphQL validation errors."""
    original = error.original_error
    if original is None:
        return False  # syntax / validation errors: the caller's own document
    if isinstance(original, TandemError):
        return False
    return not (isinstance(original, GraphQLError) and (original.extensions or {}).get("code"))
