"""Easee-shaped charger cloud."""

from adapters.easee.adapter import EaseeAdapter

__all__ = ["EaseeAdapter"]
