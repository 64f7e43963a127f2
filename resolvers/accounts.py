"""Account queries: `userTokens(userId)`, token metadata for a client's user or the user itself."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.services import accounts
from resolvers.context import Context
from resolvers.mutations.accounts import caller
from schema.types import UserToken


@strawberry.type
class AccountQueries:
    @strawberry.field(
        description="A user's tokens, newest first: metadata only, never the token itself. A client secret "
        "may ask for any of its users; a user token for its own user."
    )
    async def user_tokens(self, info: Info[Context, None], user_id: strawberry.ID) -> list[UserToken]:
        rows = await accounts.list_user_tokens(caller(info), str(user_id))
        return [UserToken.of(r) for r in rows]
