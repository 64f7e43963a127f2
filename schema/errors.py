"""Error policy: every GraphQL error carries `extensions.code`; unexpected ones are masked."""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from app.errors import TandemError, should_mask

log = logging.getLogger("tandem.graphql")


def _code(error: GraphQLError) -> str:
    original = error.original_error
    if isinstance(original, TandemError):
        return original.code
    if original is None:
        return "GRAPHQL_VALIDATION_FAILED"
    return "INTERNAL_SERVER_ERROR"


class ErrorPolicy(MaskErrors):
    """MaskErrors that keeps domain and validation errors, and adds a code to every error."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask, error_message="Internal server error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        """Log the real cause once (no variables), answer a generic message."""
        log.error("unexpected error in %s", error.path, exc_info=error.original_error)
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = super()._process_errors(errors)
        for err in processed:
            if not (err.extensions or {}).get("code"):
                err.extensions = {**(err.extensions or {}), "code": _code(err)}
        return processed
