"""What one GraphQL operation may spend: a cost budget, bounded JSON inputs, introspection policy.

- `cost_rule(max_cost)`: a validation rule. Every field costs 1; the selections under a list
  field count `first`/`last` times when given as a literal, else `LIST_SIZE` times; fragments
  are expanded. Over the budget: `GRAPHQL_VALIDATION_FAILED` naming the cost and the limit.
- `bounded_json(max_bytes, max_depth)`: the `JSON` scalar, refusing values larger than
  `max_bytes` (serialised) or nested deeper than `max_depth` (`BAD_USER_INPUT`).
- `uses_introspection(document, operation_name)`: whether the operation asks for `__schema`
  or `__type` (the policy that refuses it to callers without a token lives in the schema).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from strawberry.scalars import JSON
from strawberry.schema.types.scalar import DEFAULT_SCALAR_REGISTRY
from strawberry.types.scalar import ScalarDefinition

from app.errors import BadInput

#: Assumed length of a list whose size the query does not give.
LIST_SIZE = 10
_MAX_WALK = 64


def _unwrap(t: GraphQLOutputType) -> tuple[GraphQLNamedType, bool]:
    is_list = False
    while isinstance(t, GraphQLNonNull | GraphQLList):
        if isinstance(t, GraphQLList):
            is_list = True
        t = t.of_type
    return t, is_list


def _multiplier(node: FieldNode) -> int:
    for arg in node.arguments or ():
        if arg.name.value in ("first", "last") and isinstance(arg.value, IntValueNode):
            return max(0, min(int(arg.value.value), 10_000))
    return LIST_SIZE


def selection_cost(ctx: ValidationContext, parent: GraphQLNamedType | None, selections: SelectionSetNode | None,
                   depth: int = 0) -> int:
    """The cost of `selections` on `parent` (see the module doc)."""
    if selections is None or depth > _MAX_WALK:
        return 0
    total = 0
    for sel in selections.selections:
        if isinstance(sel, FieldNode):
            name = sel.name.value
            if name == "__typename":
                continue
            field = parent.fields.get(name) if isinstance(parent, GraphQLObjectType) else None
            if name in ("__schema", "__type"):
                total += 1 + selection_cost(ctx, None, sel.selection_set, depth + 1)
                continue
            if field is None:
                total += 1 + selection_cost(ctx, None, sel.selection_set, depth + 1)
                continue
            child, is_list = _unwrap(field.type)
            inner = selection_cost(ctx, child, sel.selection_set, depth + 1)
            total += 1 + (inner * _multiplier(sel) if is_list else inner)
        elif isinstance(sel, InlineFragmentNode):
            cond = ctx.schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
            total += selection_cost(ctx, cond, sel.selection_set, depth + 1)
        elif isinstance(sel, FragmentSpreadNode):
            frag = ctx.get_fragment(sel.name.value)
            if frag is not None:
                cond = ctx.schema.get_type(frag.type_condition.name.value)
                total += selection_cost(ctx, cond, frag.selection_set, depth + 1)
    return total


def cost_rule(max_cost: int) -> type[ValidationRule]:
    """A validation rule refusing operations that cost more than `max_cost` (0: no limit)."""

    class CostLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            if not max_cost:
                return
            root = self.context.schema.get_root_type(node.operation)
            cost = selection_cost(self.context, root, node.selection_set)
            if cost > max_cost:
                self.report_error(GraphQLError(
                    f"The operation costs {cost}, more than the limit of {max_cost}; ask for fewer fields or items.",
                    node, extensions={"code": "GRAPHQL_VALIDATION_FAILED", "cost": cost, "maxCost": max_cost}))

    return CostLimit


def operation_cost(schema: Any, document: DocumentNode) -> int:
    """The cost of the first operation in `document` (for benchmarks and tests)."""
    from graphql import TypeInfo

    ctx = ValidationContext(schema, document, TypeInfo(schema), lambda e: None)
    op = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    return selection_cost(ctx, schema.get_root_type(op.operation), op.selection_set)


def _depth(value: object, limit: int) -> int:
    stack: list[tuple[object, int]] = [(value, 1)]
    deepest = 0
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, d + 1) for v in item)
    return deepest


def bounded_json(max_bytes: int, max_depth: int = 32) -> ScalarDefinition:
    """The `JSON` scalar with a size and nesting cap on inputs (0 bytes: no size cap)."""

    def parse_value(value: object) -> object:
        if _depth(value, max_depth) > max_depth:
            raise BadInput(f"A JSON input may nest at most {max_depth} levels.")
        if max_bytes:
            try:
                size = len(orjson.dumps(value))
            except TypeError:
                raise BadInput("Not a JSON value.") from None
            if size > max_bytes:
                raise BadInput(f"A JSON input may be at most {max_bytes} bytes (this one: {size}).")
        return value

    return dataclasses.replace(DEFAULT_SCALAR_REGISTRY[JSON], parse_value=parse_value)


def uses_introspection(document: DocumentNode, operation_name: str | None) -> bool:
    """Whether the chosen operation selects `__schema` or `__type` at its root (fragments included)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        ops = [d for d in ops if d.name is not None and d.name.value == operation_name]
    stack: list[SelectionSetNode] = [op.selection_set for op in ops]
    seen: set[str] = set()
    while stack:
        for sel in stack.pop().selections:
            if isinstance(sel, FieldNode):
                if sel.name.value in ("__schema", "__type"):
                    return True
            elif isinstance(sel, InlineFragmentNode):
                stack.append(sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value not in seen:
                seen.add(sel.name.value)
                frag = fragments.get(sel.name.value)
                if frag is not None:
                    stack.append(frag.selection_set)
    return False
