"""The root schema: merges every domain's queries, mutations and subscriptions."""

from __future__ import annotations

from functools import partial

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.tools import merge_types

from app.settings import Settings
from resolvers.accounts import AccountQueries
from resolvers.mutations.accounts import AccountMutations
from resolvers.mutations.actions import ActionMutations
from resolvers.mutations.linking import LinkMutations
from resolvers.mutations.locations import LocationMutations
from resolvers.mutations.smart import SmartMutations
from resolvers.mutations.vehicles import VehicleMutations
from resolvers.queries import Query as CoreQuery
from resolvers.subscriptions import Subscription
from schema.errors import ErrorPolicy

Query = merge_types("Query", (CoreQuery, AccountQueries))
Mutation = merge_types("Mutation", (AccountMutations, LinkMutations, LocationMutations, ActionMutations,
                                    VehicleMutations, SmartMutations))


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with limits and error policy (extensions as factories: one per request).

    The depth and alias rules are built once: strawberry's limiters create a new rule class per
    instance, and the validation cache keys on the rule classes, so per-request limiters would
    make every request miss the cache.
    """
    s = settings or Settings()
    rules = [
        *QueryDepthLimiter(max_depth=s.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=s.max_aliases).validation_rules,
    ]
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            ErrorPolicy,
            partial(AddValidationRules, rules),
            partial(MaxTokensLimiter, max_token_count=s.max_tokens),
            partial(ParserCache, maxsize=256),
            partial(ValidationCache, maxsize=256),
        ],
    )
