"""createUser and createUserToken: client-secret operations."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.services import accounts
from resolvers.context import Context
from schema.types import CreatedUser, CreatedUserToken


@strawberry.type
class AccountMutations:
    @strawberry.mutation(description="Create (or find) the client's user with this external id.")
    async def create_user(self, info: Info[Context, None], external_id: str) -> CreatedUser:
        client_id = info.context.require_client()
        user = await accounts.create_user(client_id, external_id)
        return CreatedUser(id=strawberry.ID(user.id), external_id=user.external_id)

    @strawberry.mutation(description="Issue a token acting as one of the client's users.")
    async def create_user_token(self, info: Info[Context, None], user_id: strawberry.ID) -> CreatedUserToken:
        client_id = info.context.require_client()
        token = await accounts.create_user_token(client_id, str(user_id))
        return CreatedUserToken(user_id=user_id, token=token)
