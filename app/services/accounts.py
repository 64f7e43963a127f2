"""Clients, users and tokens: issue, list, revoke, rotate.

Only hashes of tokens and secrets are stored; a new token or secret is returned once.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from app import revocation
from app.auth import Principal, forget, hash_token, new_client_secret, new_user_token, utcnow
from app.db.models import Client, User, UserToken
from app.errors import BadInput, NotFoundError
from app.events import EventBus

#: The longest lifetime `expiresIn` may ask for (seconds): ten years.
MAX_TOKEN_TTL_S = 10 * 365 * 24 * 3600
#: The longest grace period of a rotated client secret (seconds): seven days.
MAX_SECRET_GRACE_S = 7 * 24 * 3600


async def create_client(name: str, secret: str | None = None) -> tuple[Client, str]:
    """Create a client; returns it and its secret (shown once). An existing secret is reused."""
    secret = secret or new_client_secret()
    existing = await Client.filter(secret_hash=hash_token(secret)).first()
    if existing is not None:
        return existing, secret
    return await Client.create(name=name, secret_hash=hash_token(secret)), secret


async def create_user(client_id: str, external_id: str) -> User:
    """Create the client's user with this external id, or return the existing one."""
    external_id = external_id.strip()
    if not external_id or len(external_id) > 200:
        raise BadInput("externalId must be 1-200 characters.")
    user, _ = await User.get_or_create(client_id=client_id, external_id=external_id)
    return user


def token_expiry(expires_in_s: float | None, default_ttl_s: float, now: datetime) -> datetime | None:
    """When a token issued `now` expires: after `expires_in_s` seconds when given (1 s to ten
    years, else BadInput), else after `default_ttl_s` (0: never)."""
    if expires_in_s is None:
        return now + timedelta(seconds=default_ttl_s) if default_ttl_s > 0 else None
    if not math.isfinite(expires_in_s) or not 1 <= expires_in_s <= MAX_TOKEN_TTL_S:
        raise BadInput(f"expiresIn must be between 1 and {MAX_TOKEN_TTL_S} seconds.")
    return now + timedelta(seconds=expires_in_s)


async def create_user_token(
    client_id: str, user_id: str, token: str | None = None, *,
    expires_in_s: float | None = None, default_ttl_s: float = 0.0,
) -> tuple[UserToken, str]:
    """Issue a token for one of the client's users; returns its row and the token (shown once).

    A fixed `token` (the demo's `TANDEM_DEMO_USER_TOKEN`) that already exists is renewed: new
    expiry, no longer revoked, and acting as this user (an operator's explicit choice).
    """
    user = await User.filter(id=user_id, client_id=client_id).first()
    if user is None:
        raise NotFoundError("No such user.")
    now = utcnow()
    expires_at = token_expiry(expires_in_s, default_ttl_s, now)
    token = token or new_user_token()
    digest = hash_token(token)
    row = await UserToken.filter(token_hash=digest).first()
    if row is None:
        row = await UserToken.create(user=user, token_hash=digest, expires_at=expires_at)
    else:
        row.user_id, row.expires_at, row.revoked_at = user.id, expires_at, None
        await row.save(update_fields=["user_id", "expires_at", "revoked_at"])
        forget(token_id=row.id)
    return row, token


async def _user_of(principal: Principal, user_id: str) -> User:
    """A user the caller may manage: a client's own user, or a user token's own user."""
    query = User.filter(id=user_id)
    query = query.filter(client_id=principal.client_id) if principal.is_client else query.filter(id=principal.user_id)
    user = await query.first()
    if user is None:
        raise NotFoundError("No such user.")
    return user


async def list_user_tokens(principal: Principal, user_id: str) -> list[UserToken]:
    """The user's tokens, newest first (metadata only: rows hold no token)."""
    user = await _user_of(principal, user_id)
    return await UserToken.filter(user_id=user.id).order_by("-created_at", "id")


async def revoke_user_token(bus: EventBus | None, principal: Principal, token_id: str) -> UserToken:
    """Revoke a token of a user the caller may manage; it stops working in every process at once
    and its open websockets are closed. Revoking a revoked token changes nothing."""
    row = await UserToken.filter(id=token_id).select_related("user").first()
    if row is None:
        raise NotFoundError("No such token.")
    allowed = row.user.client_id == principal.client_id if principal.is_client else row.user_id == principal.user_id  # type: ignore[attr-defined]
    if not allowed:
        raise NotFoundError("No such token.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await UserToken.filter(id=row.id, revoked_at__isnull=True).update(revoked_at=row.revoked_at)
    await revocation.announce(bus, revocation.TOPIC_USER_TOKEN, row.id)
    return row


async def rotate_client_secret(
    bus: EventBus | None, client_id: str, grace_s: float = 0.0
) -> tuple[str, datetime | None]:
    """Replace the client's secret; returns the new secret (shown once) and until when the old
    one still works (None: it stopped at once). `grace_s` is 0 to seven days."""
    if not math.isfinite(grace_s) or not 0 <= grace_s <= MAX_SECRET_GRACE_S:
        raise BadInput(f"graceSeconds must be between 0 and {MAX_SECRET_GRACE_S}.")
    client = await Client.get(id=client_id)
    secret = new_client_secret()
    now = utcnow()
    until = now + timedelta(seconds=grace_s) if grace_s > 0 else None
    client.previous_secret_hash = client.secret_hash if until is not None else None
    client.previous_secret_until = until
    client.secret_hash = hash_token(secret)
    client.secret_rotated_at = now
    await client.save(
        update_fields=["secret_hash", "previous_secret_hash", "previous_secret_until", "secret_rotated_at"]
    )
    await revocation.announce(bus, revocation.TOPIC_CLIENT_SECRET, client.id)
    return secret, until
