"""Logging setup: text or JSON lines (structlog), a request id on every record, secrets redacted.

`configure_logging(settings)` is called once per process by the CLI. Every record passes
`RedactingFilter`, which adds `request_id` (from `REQUEST_ID`, set per HTTP request and per
websocket connection by the edge middleware) and scrubs secret-looking text from the message,
so a secret that reaches any logger (ours or a library's) is not written out.
"""

from __future__ import annotations

import contextvars
import logging
import re
import secrets
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

#: The id of the HTTP request or websocket connection being served ("-" outside of one).
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("tandem_request_id", default="-")

REDACTED = "[REDACTED]"

#: Argument, variable and header names whose values are secrets (matched case-insensitively, as substrings).
SECRET_KEYS = ("password", "passwd", "secret", "token", "credential", "authorization", "apikey", "api_key",
               "private", "cookie", "session")

_KEY_RE = "|".join(re.escape(k) for k in SECRET_KEYS)
#: `password: "x"`, `"password": "x"`, `password=x`, `'password': 'x'` and a bare credentials object.
_TEXT_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)(\S+)"),
    re.compile(rf"""(?i)(["']?\w*(?:{_KEY_RE})\w*["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\{{[^}}]*\}}|[^\s,}})]+)"""),
    re.compile(r"()(tdm_(?:ut|cs)_[A-Za-z0-9_\-]+)"),
]


def new_request_id() -> str:
    """A fresh request id: 16 hex characters."""
    return secrets.token_hex(8)


def is_secret_key(key: str) -> bool:
    """Whether an argument, variable or field named `key` holds a secret."""
    low = key.lower()
    return any(k in low for k in SECRET_KEYS)


def redact(value: Any, _depth: int = 0) -> Any:
    """A copy of `value` (JSON-like) with the values of secret keys replaced by "[REDACTED]".

    Strings are scrubbed with `redact_text`; nesting beyond 20 levels is cut off.
    """
    if _depth > 20:
        return REDACTED
    if isinstance(value, Mapping):
        return {k: REDACTED if isinstance(k, str) and is_secret_key(k) else redact(v, _depth + 1)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, _depth + 1) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_text(text: str) -> str:
    """`text` with secret-looking assignments (`password: "x"`), bearer values and Tandem tokens masked."""
    for pattern in _TEXT_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Adds `request_id` to each record and scrubs secrets from its message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        if record.args:
            try:
                record.msg = record.getMessage()
            except (TypeError, ValueError):
                record.msg = str(record.msg)
            record.args = None
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        else:
            record.msg = redact_text(str(record.msg))
        return True


def _add_request_id(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    record = event.get("_record")
    event["request_id"] = getattr(record, "request_id", None) or REQUEST_ID.get()
    return event


def _redact_event(_: Any, __: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    return {k: (v if k in ("_record", "_from_structlog") else redact(v)) for k, v in event.items()}


def formatter(fmt: str) -> logging.Formatter:
    """The formatter for `fmt` ("text" or "json")."""
    if fmt == "json":
        return structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                _add_request_id,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _redact_event,
                structlog.processors.JSONRenderer(),
            ],
        )
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Route every logger to stderr in `fmt` at `level`, through `RedactingFilter`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Strawberry logs every GraphQL error with a traceback and the query text; Tandem logs them itself.
    logging.getLogger("strawberry.execution").disabled = True
