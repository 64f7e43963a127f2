"""Broadcast of change events between processes (over broadcaster), bounded per subscriber."""

from app.events.bus import BroadcastUnavailable, EventBus, Subscription
from app.events.wire import BadMessage, Event, Resync, channel_for, last_seq, namespace_for

__all__ = [
    "BadMessage", "BroadcastUnavailable", "Event", "EventBus", "Resync", "Subscription", "channel_for",
    "last_seq", "namespace_for",
]
