"""The root schema: merges every domain's queries, mutations and subscriptions, with limits and error policy."""

from __future__ import annotations

from functools import partial

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    QueryDepthLimiter,
)
from strawberry.scalars import JSON
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from app.edge.limits import bounded_json, cost_rule, text_rule
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
from schema import errors
from schema.extensions import OperationCache, OperationPolicy

Query = merge_types("Query", (CoreQuery, AccountQueries))
Mutation = merge_types("Mutation", (AccountMutations, LinkMutations, LocationMutations, ActionMutations,
                                    VehicleMutations, SmartMutations))


class TandemSchema(strawberry.Schema):
    """Strawberry's schema with Tandem's error policy (`schema.errors.process`) instead of its logging."""

    def process_errors(self, errors_: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        operation = None
        if execution_context is not None:
            try:
                operation = execution_context.operation_name or (
                    execution_context.operation_type.value if execution_context.graphql_document else None)
            except RuntimeError:
                operation = None
        errors.process(errors_, operation=operation)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with limits and error policy (extensions as factories: one per request).

    The depth, alias and cost rules are built once (strawberry's limiters create a new rule
    class per instance); parse and validation results are cached per query text
    (`schema.extensions.OperationPolicy`).
    """
    s = settings or Settings()
    rules = [
        *QueryDepthLimiter(max_depth=s.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=s.max_aliases).validation_rules,
        cost_rule(s.max_query_cost),
        text_rule(s.max_string_chars),
    ]
    cache = OperationCache(rules, s.max_tokens, s.max_string_chars)
    return TandemSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[partial(OperationPolicy, cache, s.anonymous_introspection)],
        scalar_overrides={JSON: bounded_json(s.max_json_input_bytes)},
    )
