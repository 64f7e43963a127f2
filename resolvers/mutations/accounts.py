"""Users and tokens: createUser, createUserToken, revokeUserToken (client secret or the user
itself), rotateClientSecret (client secret)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.auth import Principal
from app.errors import Unauthenticated
from app.runtime import current
from app.services import accounts
from resolvers.context import Context
from schema.types import CreatedUser, CreatedUserToken, RotatedClientSecret, UserToken


def caller(info: Info[Context, None]) -> Principal:
    """The caller: a client secret, or a user token (anything else: UNAUTHENTICATED)."""
    principal = info.context.principal
    if principal is None:
        raise Unauthenticated("A valid client secret or user token is required.")
    return principal


@strawberry.type
class AccountMutations:
    @strawberry.mutation(description="Create (or find) the client's user with this external id.")
    async def create_user(self, info: Info[Context, None], external_id: str) -> CreatedUser:
        client_id = info.context.require_client()
        user = await accounts.create_user(client_id, external_id)
        return CreatedUser(id=strawberry.ID(user.id), external_id=user.external_id)

    @strawberry.mutation(
        description="Issue a token acting as one of the client's users. `expiresIn` (seconds, 1 s to ten years) "
        "defaults to the TANDEM_USER_TOKEN_TTL_S setting."
    )
    async def create_user_token(
        self, info: Info[Context, None], user_id: strawberry.ID, expires_in: int | None = None
    ) -> CreatedUserToken:
        client_id = info.context.require_client()
        row, token = await accounts.create_user_token(
            client_id, str(user_id), expires_in_s=expires_in, default_ttl_s=current().settings.user_token_ttl_s
        )
        return CreatedUserToken(user_id=user_id, token=token, id=strawberry.ID(row.id), expires_at=row.expires_at)

    @strawberry.mutation(
        description="Revoke a user token (a client secret: any of its users' tokens; a user token: its "
        "user's own). It stops working at once and its open websockets are closed."
    )
    async def revoke_user_token(self, info: Info[Context, None], id: strawberry.ID) -> UserToken:
        row = await accounts.revoke_user_token(current().bus, caller(info), str(id))
        return UserToken.of(row)

    @strawberry.mutation(
        description="Replace the calling client's secret; the new one is returned once. The old one stops "
        "working at once, or after `graceSeconds` (at most seven days)."
    )
    async def rotate_client_secret(self, info: Info[Context, None], grace_seconds: int = 0) -> RotatedClientSecret:
        client_id = info.context.require_client()
        secret, until = await accounts.rotate_client_secret(current().bus, client_id, grace_seconds)
        return RotatedClientSecret(client_secret=secret, previous_secret_valid_until=until)
