"""One schema extension for the per-operation work before execution: cached parse and validation, limits.

Strawberry's ParserCache + ValidationCache + MaxTokensLimiter + AddValidationRules did the same
in four extensions, and its validation cache keys on the parsed document, whose hash walks the
whole tree on every request (0.4 ms for the `viewer` query). Here both caches key on the query
text: the same text always parses to the same document, so its validation result is reused.
A syntax error is left to Strawberry's own parse step (same token limit), which answers it as an
error; raising from the hook would escape a websocket operation. Strings in variables pass
`check_text` (length, NUL, lone surrogates; IDs at most `MAX_ID_CHARS`), as string literals do
in validation. Introspection (`__schema`, `__type`) is refused to callers without a valid
token unless allowed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, parse, validate
from strawberry.extensions import SchemaExtension

from app.edge.limits import check_variables, uses_introspection
from app.errors import Unauthenticated


class OperationCache:
    """Parsed documents and their validation errors per query text (LRU, `maxsize` each)."""

    def __init__(self, rules: Sequence[type[ASTValidationRule]], max_tokens: int, max_string_chars: int,
                 maxsize: int = 512) -> None:
        self.rules = tuple(rules)
        self.max_tokens = max_tokens
        self.max_string_chars = max_string_chars
        self.maxsize = maxsize
        self._docs: OrderedDict[str, DocumentNode] = OrderedDict()
        self._errors: OrderedDict[str, list[GraphQLError]] = OrderedDict()

    def _put(self, store: OrderedDict[str, Any], key: str, value: Any) -> None:
        store[key] = value
        if len(store) > self.maxsize:
            store.popitem(last=False)

    def document(self, query: str) -> DocumentNode | None:
        """The parsed document, or None when `query` does not parse (within the token limit)."""
        doc = self._docs.get(query)
        if doc is None:
            try:
                doc = parse(query, max_tokens=self.max_tokens or None)
            except GraphQLError:
                return None
            self._put(self._docs, query, doc)
        return doc

    def errors(self, schema: GraphQLSchema, query: str, document: DocumentNode,
               rules: Sequence[type[ASTValidationRule]]) -> list[GraphQLError]:
        """The validation errors of `document` (parsed from `query`) against every rule."""
        found = self._errors.get(query)
        if found is None:
            found = validate(schema, document, list(rules))
            self._put(self._errors, query, found)
        return found


class OperationPolicy(SchemaExtension):
    """Cached parse and validation with Tandem's limits; introspection only for token holders."""

    def __init__(self, cache: OperationCache, anonymous_introspection: bool) -> None:
        self.cache = cache
        self.anonymous_introspection = anonymous_introspection

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        if self.cache.max_tokens:
            ec.parse_options["max_tokens"] = self.cache.max_tokens
        ec.validation_rules = ec.validation_rules + self.cache.rules
        yield

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.query:
            doc = self.cache.document(ec.query)
            if doc is not None:
                ec.graphql_document = doc
        yield

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.query and ec.graphql_document is not None and ec.pre_execution_errors is None:
            ec.pre_execution_errors = self.cache.errors(ec.schema._schema, ec.query, ec.graphql_document,
                                                        ec.validation_rules)
        yield

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.graphql_document is not None:
            check_variables(ec.graphql_document, ec.operation_name, ec.variables, self.cache.max_string_chars)
        if (not self.anonymous_introspection and ec.graphql_document is not None
                and getattr(ec.context, "principal", None) is None
                and uses_introspection(ec.graphql_document, ec.operation_name)):
            raise Unauthenticated("Introspection needs a valid token.")
        yield
