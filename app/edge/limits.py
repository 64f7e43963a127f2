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
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
)
from strawberry.scalars import JSON
from strawberry.schema.types.scalar import DEFAULT_SCALAR_REGISTRY
from strawberry.types.scalar import ScalarDefinition

from app.errors import BadInput

#: The longest ID an object can have (the database key length): a longer one is `BAD_USER_INPUT`.
MAX_ID_CHARS = 32
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


def _check_strings(value: object) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            check_text(item, "A JSON string", 0)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def bounded_json(max_bytes: int, max_depth: int = 32) -> ScalarDefinition:
    """The `JSON` scalar with a size and nesting cap on inputs (0 bytes: no size cap)."""

    def parse_value(value: object) -> object:
        _check_strings(value)
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


def check_text(value: str, what: str, max_chars: int) -> str:
    """`value` if it is storable text of at most `max_chars` characters (0: any length); else `BadInput`.

    NUL characters and lone surrogates are refused: PostgreSQL cannot store the first, UTF-8
    cannot encode the second, and both would otherwise fail deep in the database layer.
    """
    if max_chars and len(value) > max_chars:
        raise BadInput(f"{what} may be at most {max_chars} characters.")
    if "\x00" in value:
        raise BadInput(f"{what} may not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{what} is not valid Unicode text.") from None
    return value


def _text_limit(type_: Any, max_chars: int) -> tuple[str, int]:
    named = get_named_type(type_) if type_ is not None else None
    return ("An ID", MAX_ID_CHARS) if named is not None and named.name == "ID" else ("A string", max_chars)


def text_rule(max_chars: int) -> type[ValidationRule]:
    """A validation rule applying `check_text` to every string literal (IDs: at most `MAX_ID_CHARS`)."""

    class TextLimit(ValidationRule):
        def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
            what, limit = _text_limit(self.context.get_input_type(), max_chars)
            try:
                check_text(node.value, what, limit)
            except BadInput as exc:
                self.report_error(GraphQLError(exc.message, node, extensions={"code": "BAD_USER_INPUT"}))

    return TextLimit


def check_variables(document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None,
                    max_chars: int) -> None:
    """`check_text` on every string in `variables` (IDs by their declared type); `BadInput` on the first bad one."""
    if not variables:
        return
    for op in document.definitions:
        if not isinstance(op, OperationDefinitionNode):
            continue
        if operation_name is not None and (op.name is None or op.name.value != operation_name):
            continue
        for definition in op.variable_definitions or ():
            value = variables.get(definition.variable.name.value)
            if value is None:
                continue
            type_node: Any = definition.type
            while not isinstance(type_node, NamedTypeNode):
                type_node = type_node.type
            what, limit = ("An ID", MAX_ID_CHARS) if type_node.name.value == "ID" else ("A string", max_chars)
            stack = [value]
            while stack:
                item = stack.pop()
                if isinstance(item, str):
                    check_text(item, what, limit)
                elif isinstance(item, dict):
                    stack.extend(item.values())
                elif isinstance(item, list):
                    stack.extend(item)


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
