"""The root schema: merges every domain's queries, mutations and subscriptions, with limits and error policy."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.scalars import JSON
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from app.edge.limits import bounded_json, cost_rule, uses_introspection
from app.errors import Unauthenticated
from app.settings import Settings
from resolvers.mutations.accounts import AccountMutations
from resolvers.mutations.actions import ActionMutations
from resolvers.mutations.linking import LinkMutations
from resolvers.mutations.locations import LocationMutations
from resolvers.queries import Query
from resolvers.subscriptions import Subscription
from schema import errors

Mutation = merge_types("Mutation", (AccountMutations, LinkMutations, LocationMutations, ActionMutations))


def _anonymous(execution_context: ExecutionContext | None) -> bool:
    context = execution_context.context if execution_context is not None else None
    return getattr(context, "principal", None) is None


class IntrospectionPolicy(SchemaExtension):
    """Refuses `__schema` / `__type` to callers without a valid token (`UNAUTHENTICATED`)."""

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.graphql_document is not None and _anonymous(ec) and uses_introspection(
                ec.graphql_document, ec.operation_name):
            raise Unauthenticated("Introspection needs a valid token.")
        yield


class SafeParserCache(ParserCache):
    """ParserCache that leaves a syntax error to Strawberry's own parse step, which answers it as an error.

    Strawberry's ParserCache raises from its hook; over HTTP that is caught, but on a websocket it
    escapes the operation and the client gets a bare `complete` instead of a coded error.
    """

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        with contextlib.suppress(GraphQLError):
            ec.graphql_document = self.cached_parse_document(ec.query, **ec.parse_options)
        yield


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

    The depth, alias and cost rules are built once: strawberry's limiters create a new rule
    class per instance, and the validation cache keys on the rule classes, so per-request
    limiters would make every request miss the cache.
    """
    s = settings or Settings()
    rules = [
        *QueryDepthLimiter(max_depth=s.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=s.max_aliases).validation_rules,
        cost_rule(s.max_query_cost),
    ]
    extensions: list[Any] = [
        partial(AddValidationRules, rules),
        partial(MaxTokensLimiter, max_token_count=s.max_tokens),
        partial(SafeParserCache, maxsize=256),
        partial(ValidationCache, maxsize=256),
    ]
    if not s.anonymous_introspection:
        extensions.append(IntrospectionPolicy)
    return TandemSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        scalar_overrides={JSON: bounded_json(s.max_json_input_bytes)},
    )
