"""Bearer tokens: client secrets and user tokens, stored as SHA-256 hashes only.

A user token is valid until its `expires_at` (None: never) unless revoked. A client secret is
valid until rotated; with a grace period the replaced secret keeps working until
`previous_secret_until`. Lookups are cached per process for at most `_CACHE_TTL_S` (and never
past a token's expiry); revocations and rotations drop the cache in every process through the
broadcast (app/revocation.py).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q

from app.db.models import Client, UserToken

CLIENT_PREFIX = "tdm_cs_"
USER_PREFIX = "tdm_ut_"
_CACHE_TTL_S = 30.0
#: `last_used_at` is written at most this often per token and process.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_client_secret() -> str:
    """A fresh client secret."""
    return CLIENT_PREFIX + secrets.token_urlsafe(32)


def new_user_token() -> str:
    """A fresh user token."""
    return USER_PREFIX + secrets.token_urlsafe(32)


def utcnow() -> datetime:
    """The current time (UTC, aware)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a client (server to server) or one user, through one token."""

    kind: str  # "client" | "user"
    client_id: str
    user_id: str | None = None
    #: The user token's id (None for a client secret).
    token_id: str | None = None
    #: When this credential stops working (None: not by time).
    expires_at: datetime | None = None

    @property
    def is_client(self) -> bool:
        """Whether this is a client secret."""
        return self.kind == "client"

    def expired(self, now: datetime | None = None) -> bool:
        """Whether the credential has expired."""
        return self.expires_at is not None and self.expires_at <= (now or utcnow())


_cache: dict[str, tuple[float, Principal]] = {}


def bearer(header: str | None) -> str | None:
    """The token from an `Authorization: Bearer <token>` value (or a bare token)."""
    if not header:
        return None
    value = header.strip()
    if value.lower().startswith("bearer "):
        value = value[7:].strip()
    return value or None


async def _user_principal(digest: str, now: datetime) -> Principal | None:
    row = await UserToken.filter(token_hash=digest, revoked_at__isnull=True).select_related("user").first()
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        await UserToken.filter(id=row.id).update(last_used_at=now)
    return Principal("user", row.user.client_id, row.user_id, token_id=row.id,  # type: ignore[attr-defined]
                     expires_at=row.expires_at)


async def _client_principal(digest: str, now: datetime) -> Principal | None:
    client = await Client.filter(
        Q(secret_hash=digest) | Q(previous_secret_hash=digest, previous_secret_until__gt=now)
    ).first()
    if client is None:
        return None
    if client.secret_hash == digest:
        return Principal("client", client.id)
    return Principal("client", client.id, expires_at=client.previous_secret_until)


async def authenticate(token: str | None) -> Principal | None:
    """The principal a token stands for, or None (unknown, expired, revoked or rotated away)."""
    if not token or len(token) > 200:
        return None
    digest = hash_token(token)
    hit = _cache.get(digest)
    mono = time.monotonic()
    now = utcnow()
    if hit and hit[0] > mono:
        return None if hit[1].expired(now) else hit[1]
    principal: Principal | None = None
    if token.startswith(USER_PREFIX):
        principal = await _user_principal(digest, now)
    elif token.startswith(CLIENT_PREFIX):
        principal = await _client_principal(digest, now)
    if principal is not None:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[digest] = (mono + _CACHE_TTL_S, principal)
    else:
        _cache.pop(digest, None)
    return principal


def forget(*, token_id: str | None = None, client_id: str | None = None) -> None:
    """Drop cached principals of one user token, or of one client's secrets."""
    for digest, (_, p) in list(_cache.items()):
        if (token_id is not None and p.token_id == token_id) or (
            client_id is not None and p.is_client and p.client_id == client_id
        ):
            _cache.pop(digest, None)


def forget_cached() -> None:
    """Drop the whole token cache (tests, missed revocation notices)."""
    _cache.clear()
