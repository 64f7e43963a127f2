"""Smartcar-shaped vehicle cloud."""

from adapters.smartcar.adapter import SmartcarAdapter

__all__ = ["SmartcarAdapter"]
