"""Broadcast of change events between processes (over broadcaster), bounded per subscriber."""

from app.events.bus import BroadcastUnavailable, Event, EventBus, Resync, Subscription

__all__ = ["BroadcastUnavailable", "Event", "EventBus", "Resync", "Subscription"]
