"""The root schema: merges every domain's queries, mutations and subscriptions."""

from __future__ import annotations

from functools import partial

import strawberry
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.tools import merge_types

from app.settings import Settings
from resolvers.mutations.accounts import AccountMutations
from resolvers.mutations.actions import ActionMutations
from resolvers.mutations.linking import LinkMutations
from resolvers.mutations.locations import LocationMutations
from resolvers.queries import Query
from resolvers.subscriptions import Subscription
from schema.errors import ErrorPolicy

Mutation = merge_types("Mutation", (AccountMutations, LinkMutations, LocationMutations, ActionMutations))


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with limits and error policy (extensions as factories: one per request)."""
    s = settings or Settings()
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            ErrorPolicy,
            partial(QueryDepthLimiter, max_depth=s.max_query_depth),
            partial(MaxAliasesLimiter, max_alias_count=s.max_aliases),
            partial(MaxTokensLimiter, max_token_count=s.max_tokens),
            partial(ParserCache, maxsize=256),
            partial(ValidationCache, maxsize=256),
        ],
    )
