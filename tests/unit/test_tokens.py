"""Token lifetimes, the principal cache and revocation notices (pure logic, memory broadcast)."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

import pytest

from app import auth, revocation
from app.errors import BadInput
from app.events import Event, EventBus
from app.services.accounts import MAX_TOKEN_TTL_S, token_expiry
from tests.e2e.flows import wait_for

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("expires_in", "default", "expected"), [
    (None, 0.0, None),
    (None, 3600.0, NOW + timedelta(hours=1)),
    (1, 3600.0, NOW + timedelta(seconds=1)),
    (MAX_TOKEN_TTL_S, 0.0, NOW + timedelta(seconds=MAX_TOKEN_TTL_S)),
])
def test_token_expiry(expires_in: float | None, default: float, expected: datetime | None) -> None:
    assert token_expiry(expires_in, default, NOW) == expected


@pytest.mark.parametrize("expires_in", [0, -1, 0.5, MAX_TOKEN_TTL_S + 1, math.inf, math.nan])
def test_token_expiry_refuses_lifetimes_out_of_range(expires_in: float) -> None:
    with pytest.raises(BadInput):
        token_expiry(expires_in, 3600.0, NOW)


def test_principal_expiry() -> None:
    p = auth.Principal("user", "c", "u", token_id="t", expires_at=NOW)
    assert p.expired(NOW) and p.expired(NOW + timedelta(seconds=1))
    assert not p.expired(NOW - timedelta(seconds=1))
    assert not auth.Principal("client", "c").expired(NOW)


class FakeSocket:
    """Records how it was closed."""

    def __init__(self) -> None:
        self.closed: tuple[int, str | None] | None = None

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason)


def _cache(principal: auth.Principal, digest: str) -> None:
    auth._cache[digest] = (float("inf"), principal)


async def test_revocation_closes_that_tokens_sockets_and_drops_its_cache_only() -> None:
    auth.forget_cached()
    mine = auth.Principal("user", "c", "u", token_id="t1")
    other = auth.Principal("user", "c", "u", token_id="t2")
    client = auth.Principal("client", "c")
    _cache(mine, "d1")
    _cache(other, "d2")
    _cache(client, "d3")
    a, b = FakeSocket(), FakeSocket()
    revocation.watch_socket(mine, a)
    revocation.watch_socket(other, b)
    revocation.apply(revocation.TOPIC_USER_TOKEN, "t1")
    await wait_for(lambda: _done(a), timeout=5, every=0.01)
    assert a.closed == (4403, "token revoked") and b.closed is None
    assert set(auth._cache) == {"d2", "d3"}
    revocation.apply(revocation.TOPIC_CLIENT_SECRET, "c")
    assert set(auth._cache) == {"d2"}  # a client's secrets, not its users' tokens
    auth.forget_cached()


async def _done(sock: FakeSocket) -> bool:
    return sock.closed is not None


async def test_an_expired_tokens_socket_is_closed_when_it_expires() -> None:
    sock = FakeSocket()
    soon = auth.utcnow() + timedelta(milliseconds=200)
    revocation.watch_socket(auth.Principal("user", "c", "u", token_id="t3", expires_at=soon), sock)
    await wait_for(lambda: _done(sock), timeout=5, every=0.02)
    assert sock.closed == (4403, "token expired")


async def test_notices_from_the_broadcast_are_applied_and_a_resync_drops_the_cache() -> None:
    auth.forget_cached()
    bus = EventBus("memory://")
    await bus.connect()
    follower = asyncio.create_task(revocation.follow(bus))
    try:
        async def subscribed() -> bool:
            return bus.subscriber_count() == 1

        await wait_for(subscribed, timeout=5, every=0.01)
        _cache(auth.Principal("user", "c", "u", token_id="t4"), "d4")
        _cache(auth.Principal("user", "c", "u", token_id="t5"), "d5")
        await bus.publish(Event(revocation.TOPIC_USER_TOKEN, revocation.AUTH_CHANNEL, "t4"))

        async def dropped() -> bool:
            return "d4" not in auth._cache

        await wait_for(dropped, timeout=5, every=0.01)
        assert "d5" in auth._cache
        bus._reconnected()  # as after a lost broadcast connection: notices may have been missed

        async def cleared() -> bool:
            return not auth._cache

        await wait_for(cleared, timeout=5, every=0.01)
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        await bus.disconnect()


async def test_after_a_resync_sockets_of_tokens_revoked_meanwhile_are_closed(database: object) -> None:
    from app.db.models import Client, User, UserToken

    client = await Client.create(name="c", secret_hash="h" * 64)
    user = await User.create(client=client, external_id="u")
    kept = await UserToken.create(user=user, token_hash="a" * 64)
    gone = await UserToken.create(user=user, token_hash="b" * 64, revoked_at=auth.utcnow())
    live, dead = FakeSocket(), FakeSocket()
    revocation.watch_socket(auth.Principal("user", client.id, user.id, token_id=kept.id), live)
    revocation.watch_socket(auth.Principal("user", client.id, user.id, token_id=gone.id), dead)
    await revocation.recheck_sockets()  # the notice of `gone` was missed
    await wait_for(lambda: _done(dead), timeout=5, every=0.01)
    assert dead.closed == (4403, "token revoked") and live.closed is None
