"""Tariffs a client gives per Location: checked on the way in, expanded to prices on the way out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from app.smart.planner import PriceRate

CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_RATES = 2000
MAX_PRICE = 100.0  # per kWh, in any currency: above this it is a typo


class TariffError(ValueError):
    """A tariff that cannot be used (the message says why)."""


@dataclass(frozen=True)
class Rate:
    """One price (per kWh) over [start, end)."""

    start: datetime
    end: datetime
    price: float


def check(currency: str, rates: list[Rate], repeat_daily: bool) -> list[Rate]:
    """The rates sorted, after checking the currency, each rate and that none overlap.

    With `repeat_daily` only the times of day count: the pattern must fit in 24 hours.
    """
    if not CURRENCY.match(currency):
        raise TariffError("currency must be an ISO 4217 code such as EUR or NOK.")
    if not rates or len(rates) > MAX_RATES:
        raise TariffError(f"rates must hold 1 to {MAX_RATES} rates.")
    for r in rates:
        if r.end <= r.start:
            raise TariffError("every rate must end after it starts.")
        if not -MAX_PRICE <= r.price <= MAX_PRICE or r.price != r.price:
            raise TariffError(f"prices must be within ±{MAX_PRICE:g} per kWh.")
    ordered = sorted(rates, key=lambda r: r.start)
    for a, b in pairwise(ordered):
        if b.start < a.end:
            raise TariffError("rates must not overlap.")
    if repeat_daily and ordered[-1].end - ordered[0].start > timedelta(hours=24):
        raise TariffError("a daily pattern (repeatDaily) must fit within 24 hours.")
    return ordered


def prices(rates: list[Rate], repeat_daily: bool, timezone: str, start: datetime,
           end: datetime) -> tuple[PriceRate, ...]:
    """Prices covering [start, end) as far as the tariff says (gaps stay gaps).

    A daily pattern is laid on every local day of the period, in the location's time zone, by
    the times of day of its rates (a rate that crosses midnight carries on into the next day).
    """
    if not repeat_daily:
        return tuple(PriceRate(r.start, r.end, r.price) for r in rates if r.end > start and r.start < end)
    tz = ZoneInfo(timezone)
    out: list[PriceRate] = []
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date()
    while day <= last:
        for r in rates:
            local = r.start.astimezone(tz)
            length = r.end - r.start
            begin = datetime(day.year, day.month, day.day, local.hour, local.minute, local.second, tzinfo=tz)
            a, b = begin.astimezone(UTC), (begin + length).astimezone(UTC)
            if b > start and a < end:
                out.append(PriceRate(a, b, r.price))
        day += timedelta(days=1)
    out.sort(key=lambda p: p.start)
    return tuple(out)


def price_at(rates: tuple[PriceRate, ...], t: datetime) -> float | None:
    """The price in force at `t`, if any."""
    return next((r.price for r in rates if r.start <= t < r.end), None)
