"""When a poll's time is written to the database (app.workers.apply.poll_stamp): whenever it is
a decision input, and never for a routine poll that changed nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from app.db.models import Charger, Vehicle
from app.workers import apply
from app.workers.apply import poll_stamp

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DECIDING_S = 300.0


def car(confirm_until: datetime | None = None) -> Vehicle:
    return Vehicle(id="v", vendor="smartcar", vendor_id="V", confirm_until=confirm_until)


def box(plugged_in_at: datetime | None, plugged: bool = True) -> Charger:
    return Charger(id="c", vendor="easee", vendor_id="C", is_plugged_in=plugged, plugged_in_at=plugged_in_at)


def stamp(kind: str, row: Vehicle | Charger, changes: dict[str, object] | None = None, kicked: bool = False
          ) -> bool:
    return poll_stamp(kind, row, changes or {}, NOW, kicked=kicked, deciding_s=DECIDING_S) == {"polled_at": NOW}


def test_a_routine_poll_that_changed_nothing_writes_nothing() -> None:
    assert not stamp("vehicle", car())
    assert not stamp("vehicle", car(confirm_until=NOW - timedelta(seconds=1)))
    assert not stamp("charger", box(None, plugged=False))
    assert not stamp("charger", box(NOW - timedelta(seconds=DECIDING_S + 1)))


def test_a_poll_that_writes_anyway_carries_its_time() -> None:
    assert stamp("vehicle", car(), {"battery_level": 50.0})
    assert stamp("charger", box(None, plugged=False), {"last_seen": NOW})


def test_a_poll_someone_asked_for_is_recorded() -> None:
    assert stamp("vehicle", car(), kicked=True)
    assert stamp("charger", box(None, plugged=False), kicked=True)


def test_a_vehicle_in_its_confirmation_window_is_recorded() -> None:
    assert stamp("vehicle", car(confirm_until=NOW + timedelta(seconds=1)))


def test_a_charger_whose_plug_in_is_being_decided_is_recorded() -> None:
    assert stamp("charger", box(NOW - timedelta(seconds=DECIDING_S)))
    assert stamp("charger", box(NOW - timedelta(seconds=1)))


async def test_the_poller_flags_the_poll_a_kick_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.test_push import charger as entry_of
    from tests.unit.test_push import poller

    flags: list[bool] = []

    async def save(*_: Any, kicked: bool = False) -> None:
        flags.append(kicked)

    async def read_charger(*_: Any) -> object:
        return object()

    monkeypatch.setattr(apply, "save", save)
    monkeypatch.setattr(apply, "charger_changes", lambda *_: ({}, set()))
    p = poller({"easee": SimpleNamespace(read_charger=read_charger)})
    entry = entry_of(p, "c1")
    await p._run(entry)
    p.kick("c1")
    await p._run(entry)
    await p._run(entry)
    entry.in_flight = True
    p.kick("c1")  # during a poll: that poll and the next one both count as asked for
    await p._run(entry)
    await p._run(entry)
    await p._run(entry)
    assert flags == [False, True, False, True, True, False]
