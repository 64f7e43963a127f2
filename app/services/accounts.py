"""Clients, users and tokens."""

from __future__ import annotations

from app.auth import hash_token, new_client_secret, new_user_token
from app.db.models import Client, User, UserToken
from app.errors import BadInput, NotFoundError


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


async def create_user_token(client_id: str, user_id: str, token: str | None = None) -> str:
    """Issue a token for one of the client's users; only its hash is stored."""
    user = await User.filter(id=user_id, client_id=client_id).first()
    if user is None:
        raise NotFoundError("No such user.")
    token = token or new_user_token()
    if not await UserToken.filter(token_hash=hash_token(token)).exists():
        await UserToken.create(user=user, token_hash=hash_token(token))
    return token
