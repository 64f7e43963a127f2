"""What a failed poll does to the asset: a rate limit is shown until when (once, not on every
poll), Tandem's own budget shows nothing, a refused token is renewed by logging in again with
backoff (one login per account) before the user is asked to link again. Real rows (SQLite),
a fake adapter at the vendor boundary."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from adapters import errors as ve
from adapters.types import ChargerSnapshot, PowerState, Session
from app.db.models import Charger, VendorLink
from app.services import accounts
from app.settings import Settings
from app.workers import apply
from app.workers.poller import REAUTHENTICATING, Entry, Poller


class FakeAdapter:
    """Reads raise the queued errors in turn; logins answer from `logins` (an error or a token)."""

    def __init__(self, reads: list[ve.VendorError], logins: list[ve.VendorError | str] | None = None) -> None:
        self.reads, self.logins = reads, list(logins or [])
        self.login_calls = 0

    async def read_charger(self, session: Session, vendor_id: str) -> ChargerSnapshot:
        raise self.reads.pop(0) if len(self.reads) > 1 else self.reads[0]

    async def login(self, credentials: dict[str, object]) -> Session:
        self.login_calls += 1
        answer = self.logins.pop(0)
        if isinstance(answer, ve.VendorError):
            raise answer
        return Session(vendor="easee", access_token=answer)


async def setup(settings: Settings, adapter: FakeAdapter, chargers: int = 1,
                **overrides: Any) -> tuple[Poller, list[Entry], list[str]]:
    client, _ = await accounts.create_client("t")
    user = await accounts.create_user(client.id, "u")
    link = await VendorLink.create(user_id=user.id, vendor="easee", account_key="k", access_token="tok-1",
                                   credentials={"username": "u", "password": "p"})
    published: list[str] = []

    async def publish(kind: str, user_id: str, object_id: str) -> None:
        published.append(object_id)

    rt: Any = SimpleNamespace(settings=dataclasses.replace(settings, **overrides), adapter=lambda _v: adapter,
                              publish=publish)
    leases: Any = SimpleNamespace(owns=lambda _shard: True, listeners=[], owned={0})
    p = Poller(rt, leases)
    for i in range(chargers):
        await Charger.create(user_id=user.id, link=link, vendor="easee", vendor_id=f"EH{i}", is_reachable=True)
    await p.refresh()
    return p, list(p.entries.values()), published


async def test_a_rate_limit_is_shown_until_when_and_written_once(database: Settings) -> None:
    adapter = FakeAdapter([ve.RateLimited("x", 120.0, ve.DEVICE), ve.RateLimited("x", 119.5, ve.DEVICE)])
    p, (entry,), published = await setup(database, adapter)
    assert await p.poll(entry) == 120.0
    row = await Charger.get(id=entry.row.id)
    assert (row.is_reachable, row.poll_error) == (False, "RATE_LIMITED")
    assert row.rate_limited_until is not None
    assert abs(row.rate_limited_until - (datetime.now(UTC) + timedelta(seconds=120))) < timedelta(seconds=2)
    assert await p.poll(entry) == 119.5  # the same hold, seen again: nothing new to write or publish
    assert published == [entry.row.id]


async def test_tandems_own_budget_postpones_the_poll_and_shows_nothing(database: Settings) -> None:
    p, (entry,), published = await setup(database, FakeAdapter([ve.RateLimited("x", 0.4, ve.LOCAL)]))
    assert await p.poll(entry) == 0.4
    row = await Charger.get(id=entry.row.id)
    assert (row.is_reachable, row.poll_error, row.rate_limited_until) == (True, None, None)
    assert published == []


def test_a_successful_poll_clears_the_limit() -> None:
    row: Any = SimpleNamespace(is_online=True, is_plugged_in=False, is_charging=False, power_state="UNPLUGGED",
                               charge_rate=None, max_current=16.0, session_energy=None, schedule_blocking=False,
                               is_reachable=False, poll_error="RATE_LIMITED", last_seen=None,
                               rate_limited_until=datetime.now(UTC) + timedelta(seconds=60),
                               session_id_tag=None, session_soc=None, session_key=None)
    snap = ChargerSnapshot(is_online=True, is_plugged_in=False, is_charging=False, power_state=PowerState.UNPLUGGED,
                           charge_rate_kw=None, max_current=16.0, session_energy_kwh=None, schedule_blocking=False,
                           data_age=None)
    changes, _ = apply.charger_changes(row, snap, datetime.now(UTC))
    assert changes["rate_limited_until"] is None and changes["poll_error"] is None and changes["is_reachable"]


async def test_a_refused_token_is_renewed_once_per_account_with_backoff(database: Settings) -> None:
    refused = ve.BadCredentials("no")
    adapter = FakeAdapter([ve.AuthRevoked("revoked")], [refused, "tok-2"])
    p, entries, _ = await setup(database, adapter, chargers=2, relogin_attempts=3, relogin_backoff_s=0.2)
    first, second = entries
    wait = await p.poll(first)  # login refused: backs off, does not ask the user yet
    assert 0.2 <= wait < 0.35 and adapter.login_calls == 1
    wait2 = await p.poll(second)  # the same account: waits for the same backoff, no login of its own
    assert wait2 < 0.35 and adapter.login_calls == 1
    for e in entries:
        row = await Charger.get(id=e.row.id)
        assert (row.is_reachable, row.poll_error) == (False, REAUTHENTICATING) and not e.stopped
    p.links[first.row.link_id].relogin.next_at = 0.0  # the backoff is over
    assert await p.poll(first) <= 0.5  # logged in again: polled again at once
    assert adapter.login_calls == 2 and p.links[first.row.link_id].access_token == "tok-2"
    assert (await VendorLink.get(id=first.row.link_id)).access_token == "tok-2"


@pytest.mark.parametrize("attempts", [1, 3])
async def test_the_user_is_asked_only_when_every_login_was_refused(database: Settings, attempts: int) -> None:
    adapter = FakeAdapter([ve.AuthRevoked("revoked")], [ve.BadCredentials("no")] * attempts)
    p, entries, _ = await setup(database, adapter, chargers=2, relogin_attempts=attempts, relogin_backoff_s=0.01)
    link = p.links[entries[0].row.link_id]
    for n in range(1, attempts + 1):
        link.relogin.next_at = 0.0
        await p.poll(entries[0])
        assert adapter.login_calls == n
        assert all(e.stopped for e in entries) is (n == attempts)
    rows = [await Charger.get(id=e.row.id) for e in entries]
    assert {(r.is_reachable, r.poll_error) for r in rows} == {(False, "AUTH_REVOKED")}
    assert (await VendorLink.get(id=entries[0].row.link_id)).status == "REVOKED"


async def test_a_login_the_vendor_could_not_answer_is_no_refusal(database: Settings) -> None:
    adapter = FakeAdapter([ve.AuthRevoked("revoked")], [ve.Unreachable("down")] * 5)
    p, (entry,), _ = await setup(database, adapter, relogin_attempts=1, relogin_backoff_s=0.01)
    for _ in range(3):
        p.links[entry.row.link_id].relogin.next_at = 0.0
        await p.poll(entry)
    assert adapter.login_calls == 3 and not entry.stopped
    assert (await Charger.get(id=entry.row.id)).poll_error == REAUTHENTICATING
