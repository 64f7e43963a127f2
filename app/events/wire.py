"""What travels on the broadcast channel, and how a deployment's channel is named.

The wire form of an event is a small JSON array `[topic, user_id, object_id, payload]`. Anything
else on the channel (another program, another version, garbage) is rejected by `Event.decode`
with `BadMessage` before it can reach a subscriber, whatever its size or nesting.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

#: Topic of a marker telling every process to resync one user's subscribers (`user_id`) or all
#: of them (`user_id == ALL`): a publisher lost events it could not deliver.
RESYNC_TOPIC = "resync"
ALL = "*"
DEFAULT_MAX_MESSAGE_BYTES = 4096
_MAX_FIELD = 200

_seq = itertools.count(1)
_last_seq = 0


def next_seq() -> int:
    """A process-wide, strictly increasing number for each event a bus hands to subscribers."""
    global _last_seq
    _last_seq = next(_seq)
    return _last_seq


def last_seq() -> int:
    """The number of the newest event handed to subscribers in this process (0: none yet)."""
    return _last_seq


class BadMessage(ValueError):
    """A broadcast message that is not a Tandem event (too large, not JSON, wrong shape)."""


@dataclass(frozen=True)
class Event:
    """Something changed: `topic` names the kind of object, `object_id` which one.

    `seq` is local: the receiving process numbers each event it dispatches (`next_seq`), so a
    subscriber can tell whether a state read began after the event arrived. It is not sent.
    """

    topic: str
    user_id: str
    object_id: str
    payload: dict[str, Any] = field(default_factory=dict)
    seq: int = field(default=0, compare=False)

    def encode(self) -> str:
        """Wire form."""
        return json.dumps([self.topic, self.user_id, self.object_id, self.payload], separators=(",", ":"))

    @staticmethod
    def decode(raw: str | bytes, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> Event:
        """From the wire form; `BadMessage` for anything else (never another exception)."""
        size = len(raw) if isinstance(raw, bytes) or len(raw) > max_bytes else len(raw.encode(errors="replace"))
        if size > max_bytes:
            raise BadMessage(f"message of {size} bytes exceeds {max_bytes}")
        try:
            data = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
        except (ValueError, TypeError, RecursionError) as exc:
            raise BadMessage(f"not JSON ({type(exc).__name__})") from None
        if not (isinstance(data, list) and len(data) == 4 and isinstance(data[3], dict)):
            raise BadMessage("not a [topic, user, object, payload] array")
        topic, user_id, object_id, payload = data
        for part in (topic, user_id, object_id):
            if not isinstance(part, str) or not part or len(part) > _MAX_FIELD:
                raise BadMessage("topic, user and object must be short non-empty strings")
        return Event(topic, user_id, object_id, payload)


@dataclass(frozen=True)
class Resync:
    """Events may have been missed: re-read current state (`seq` as for `Event`)."""

    reason: str
    seq: int = field(default=0, compare=False)


def channel_for(namespace: str) -> str:
    """The broadcast channel of a deployment."""
    return f"tandem.{namespace}.events"


def namespace_for(database_url: str) -> str:
    """A default namespace: the same for every process of one database, different across databases.

    Derived from the database's host, port and name (not the scheme, user or password), so
    `postgres://` and `postgresql://` spellings of one database agree.
    """
    parts = urlsplit(database_url)
    if parts.scheme == "sqlite":
        where = database_url.split("://", 1)[1]
    else:
        where = f"{parts.hostname or ''}:{parts.port or 5432}{parts.path}"
    return "db-" + hashlib.sha256(where.encode()).hexdigest()[:12]
