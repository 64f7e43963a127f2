"""OCPP 1.6J charge points, through Tandem's own central system (`app/ocpp`)."""

from adapters.ocpp.adapter import OcppAdapter

__all__ = ["OcppAdapter"]
