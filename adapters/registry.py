"""The vendor registry: names → adapter factories. Each vendor is imported explicitly below."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from adapters.errors import UnknownVendor


@dataclass(frozen=True)
class VendorSpec:
    """A registered vendor."""

    name: str
    serves: Literal["vehicles", "chargers"]
    factory: Callable[..., Any]
    #: Path appended to the simulator (or cloud) root URL.
    default_path: str


_specs: dict[str, VendorSpec] = {}


def register(spec: VendorSpec) -> None:
    """Register a vendor; a duplicate name is a programming error."""
    if spec.name in _specs:
        raise ValueError(f"vendor registered twice: {spec.name}")
    _specs[spec.name] = spec


def get(name: str) -> VendorSpec:
    """The vendor called `name`."""
    try:
        return _specs[name]
    except KeyError:
        raise UnknownVendor(f"unknown vendor: {name[:50]}") from None


def names() -> list[str]:
    """Registered vendor names, sorted."""
    return sorted(_specs)


def specs() -> list[VendorSpec]:
    """Registered vendors, sorted by name."""
    return [_specs[n] for n in names()]


def build(name: str, base_url: str, **kwargs: Any) -> Any:
    """An adapter instance for `name` talking to `base_url`."""
    return get(name).factory(base_url, **kwargs)


from adapters.easee import EaseeAdapter  # noqa: E402
from adapters.ocpp import OcppAdapter  # noqa: E402
from adapters.smartcar import SmartcarAdapter  # noqa: E402

register(VendorSpec("easee", "chargers", EaseeAdapter, "/easee"))
register(VendorSpec("ocpp", "chargers", OcppAdapter, "/ocpp"))
register(VendorSpec("smartcar", "vehicles", SmartcarAdapter, "/smartcar"))
