"""Vendor adapters: the only code that speaks to vendor clouds."""
