"""The process runtime: settings, event bus and vendor adapters, set up once per process."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any

from app.events import Event, EventBus
from app.settings import Settings


@dataclass
class Runtime:
    """Shared process state. Created in the lifespan (web) or `tandem worker`."""

    settings: Settings
    bus: EventBus
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    adapters: dict[str, Any] = field(default_factory=dict)
    #: Extra keyword arguments per vendor's adapter (the OCPP adapter gets the central system's hub).
    adapter_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The OCPP central system's hub (`app.ocpp.hub.OcppHub`), set up by the process.
    ocpp: Any = None

    def adapter(self, vendor: str) -> Any:
        """The adapter instance for a vendor, built on first use."""
        if vendor not in self.adapters:
            from adapters import registry
            from adapters.budget import Budget

            spec = registry.get(vendor)
            base = self.settings.simulator_url.rstrip("/") + spec.default_path
            self.adapters[vendor] = registry.build(
                vendor,
                base,
                timeout_s=self.settings.vendor_timeout_s,
                budget=Budget(self.settings.vendor_budget_burst, self.settings.vendor_budget_per_s),
                max_retry_after_s=self.settings.vendor_retry_after_max_s,
                **self.adapter_options.get(vendor, {}),
            )
        return self.adapters[vendor]

    async def publish(self, topic: str, user_id: str, object_id: str) -> None:
        """Tell subscribers an object changed (they read its new state from the database)."""
        await self.bus.publish(Event(topic=topic, user_id=user_id, object_id=object_id, payload={}))

    async def aclose(self) -> None:
        """Close adapters."""
        for adapter in self.adapters.values():
            await adapter.aclose()
        self.adapters.clear()


_current: Runtime | None = None


def set_current(runtime: Runtime | None) -> None:
    """Install the process runtime."""
    global _current
    _current = runtime


def current() -> Runtime:
    """The process runtime (raises when not set up)."""
    if _current is None:
        raise RuntimeError("Tandem runtime is not initialised")
    return _current
