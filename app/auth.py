"""Bearer tokens: client secrets and user tokens, stored as SHA-256 hashes only."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from app.db.models import Client, UserToken

CLIENT_PREFIX = "tdm_cs_"
USER_PREFIX = "tdm_ut_"
_CACHE_TTL_S = 30.0


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_client_secret() -> str:
    """A fresh client secret."""
    return CLIENT_PREFIX + secrets.token_urlsafe(32)


def new_user_token() -> str:
    """A fresh user token."""
    return USER_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a client (server to server) or one user."""

    kind: str  # "client" | "user"
    client_id: str
    user_id: str | None = None

    @property
    def is_client(self) -> bool:
        """Whether this is a client secret."""
        return self.kind == "client"


_cache: dict[str, tuple[float, Principal]] = {}


def bearer(header: str | None) -> str | None:
    """The token from an `Authorization: Bearer <token>` value (or a bare token)."""
    if not header:
        return None
    value = header.strip()
    if value.lower().startswith("bearer "):
        value = value[7:].strip()
    return value or None


async def authenticate(token: str | None) -> Principal | None:
    """The principal a token stands for, or None. Looks hashes up, caching briefly."""
    if not token or len(token) > 200:
        return None
    digest = hash_token(token)
    hit = _cache.get(digest)
    now = time.monotonic()
    if hit and hit[0] > now:
        return hit[1]
    principal: Principal | None = None
    if token.startswith(USER_PREFIX):
        row = await UserToken.filter(token_hash=digest).select_related("user").first()
        if row is not None:
            principal = Principal("user", row.user.client_id, row.user_id)  # type: ignore[attr-defined]
    elif token.startswith(CLIENT_PREFIX):
        client = await Client.filter(secret_hash=digest).first()
        if client is not None:
            principal = Principal("client", client.id)
    if principal is not None:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[digest] = (now + _CACHE_TTL_S, principal)
    return principal


def forget_cached() -> None:
    """Drop the token cache (tests, token revocation)."""
    _cache.clear()
