"""Error policy: every GraphQL error carries `extensions.code`; unexpected ones are masked and logged once.

`classify(error)` gives the code:

- a `TandemError` (domain) → its own code; an error that already has a code keeps it;
- a syntax error (also "too many tokens", "nested too deeply") → `GRAPHQL_PARSE_FAILED`;
- before execution (no path): a variable that cannot be coerced → `BAD_USER_INPUT`, any
  other validation failure (unknown field, depth, aliases, cost) → `GRAPHQL_VALIDATION_FAILED`;
- during execution, an argument graphql-core could not coerce → `BAD_USER_INPUT`;
- anything else → `INTERNAL_SERVER_ERROR`.

`process(errors)` applies it in place: client errors are logged at INFO in one
line (code, operation path, request id; the message only for domain errors, because
graphql-core messages may echo argument values), unexpected ones at ERROR once with their
traceback and request id and answered as "Internal server error." with `requestId`.
`strip_suggestions` removes "Did you mean ...?" from answers to callers without a token.
"""

from __future__ import annotations

import logging
import re

from graphql import GraphQLError, GraphQLSyntaxError

from app.errors import TandemError
from app.logs import REQUEST_ID

log = logging.getLogger("tandem.graphql")

INTERNAL = "INTERNAL_SERVER_ERROR"
_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)
_DONE = "_tandem_processed"


def _is_syntax(error: GraphQLError) -> bool:
    return isinstance(error, GraphQLSyntaxError) or isinstance(error.original_error, GraphQLSyntaxError)


def classify(error: GraphQLError) -> str:
    """The `extensions.code` for `error` (see the module doc)."""
    original = error.original_error
    if isinstance(original, TandemError):
        return original.code
    existing = (error.extensions or {}).get("code")
    if isinstance(existing, str) and existing:
        return existing
    if _is_syntax(error):
        return "GRAPHQL_PARSE_FAILED"
    if original is not None and not isinstance(original, GraphQLError):
        return INTERNAL
    if error.path is None:
        if error.message.startswith("Variable '$"):
            return "BAD_USER_INPUT"
        return "GRAPHQL_VALIDATION_FAILED" if original is None else "BAD_USER_INPUT"
    if error.message.startswith(("Argument '", "Variable '$")):
        return "BAD_USER_INPUT"
    return INTERNAL


def _root_cause(error: GraphQLError) -> BaseException | None:
    cause: BaseException | None = error.original_error
    while isinstance(cause, GraphQLError) and cause.original_error is not None:
        cause = cause.original_error
    return cause


def strip_suggestions(message: str) -> str:
    """`message` without graphql-core's "Did you mean ...?" hint (not shown to callers without a token)."""
    return _SUGGESTION.sub("", message)


def process(errors: list[GraphQLError], *, operation: str | None = None) -> None:
    """Code, log and (when unexpected) mask each error in place; once per request.

    Validation errors are shared between requests by the validation cache, so nothing
    caller-specific is written into them (suggestions are stripped when answering).
    """
    rid = REQUEST_ID.get()
    for error in errors:
        if getattr(error, _DONE, None) == rid:
            continue
        setattr(error, _DONE, rid)
        code = classify(error)
        where = ".".join(str(p) for p in error.path) if error.path else "-"
        if code == INTERNAL:
            cause = _root_cause(error)
            log.error("unexpected error in %s (operation %s)", where, operation or "-",
                      exc_info=(type(cause), cause, cause.__traceback__) if cause is not None else None)
            error.message = "Internal server error."
            error.extensions = {"code": INTERNAL, "requestId": rid}
            error.original_error = None
            continue
        if (error.extensions or {}).get("code") != code:
            error.extensions = {**(error.extensions or {}), "code": code}
        if isinstance(error.original_error, TandemError):
            log.info("client error %s at %s (operation %s): %s", code, where, operation or "-", error.message)
        else:
            log.info("client error %s at %s (operation %s)", code, where, operation or "-")
