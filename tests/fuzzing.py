"""Schema-driven fuzzing of the GraphQL edge (hypothesis + hypothesis-graphql).

Operations come from the real schema: valid and invalid (one violation each) queries and
mutations with inline arguments, and operations passing every argument of a root field as a
variable of its declared type, given random JSON (wrong types, null, missing, nested). The
property: never HTTP 500, always a JSON body, every error carries `extensions.code`, none is
`INTERNAL_SERVER_ERROR`.
"""

from __future__ import annotations

from typing import Any

import graphql
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries

from schema.schema import build_schema

SCHEMA = build_schema()._schema
SDL = graphql.print_schema(SCHEMA)

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def value_node(value: Any) -> graphql.ValueNode:
    """A GraphQL literal for a JSON value."""
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return graphql.ListValueNode(values=tuple(value_node(v) for v in value))
    return graphql.ObjectValueNode(fields=tuple(
        graphql.ObjectFieldNode(name=graphql.NameNode(value=f"k{i}"), value=value_node(v))
        for i, v in enumerate(value.values())))


SCALARS = {
    "JSON": json_values.map(value_node),
    "DateTime": st.datetimes().map(lambda d: nodes.String(d.isoformat())),
}


def _selection(type_: graphql.GraphQLOutputType) -> str:
    named = graphql.get_named_type(type_)
    return " { __typename }" if isinstance(named, graphql.GraphQLObjectType) else ""


def _root_fields() -> list[tuple[str, str, graphql.GraphQLField]]:
    out = []
    for kind, root in (("query", SCHEMA.query_type), ("mutation", SCHEMA.mutation_type)):
        assert root is not None
        out += [(kind, name, field) for name, field in root.fields.items() if field.args]
    return out


ROOT_FIELDS_WITH_ARGS = _root_fields()


def _value_for(arg: str) -> st.SearchStrategy[Any]:
    """Random JSON, and for a few arguments also values that reach deeper (real vendors, credential-shaped)."""
    if arg == "vendor":
        return st.sampled_from(["easee", "smartcar"]) | json_values
    if arg == "credentials":
        return st.fixed_dictionaries({"username": st.text(max_size=12), "password": st.text(max_size=12)}) | json_values
    return json_values


@st.composite
def variable_operations(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A root field with every argument passed as a variable of its declared type, random JSON values."""
    kind, name, field = draw(st.sampled_from(ROOT_FIELDS_WITH_ARGS))
    decls = ", ".join(f"${a}: {arg.type}" for a, arg in field.args.items())
    args = ", ".join(f"{a}: ${a}" for a in field.args)
    query = f"{kind}({decls}) {{ {name}({args}){_selection(field.type)} }}"
    variables = {a: draw(_value_for(a)) for a in field.args if draw(st.integers(0, 4))}  # sometimes missing
    return query, variables


def operations() -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """Every kind of fuzzed operation, as (query text, variables)."""
    generated = st.one_of(
        queries(SDL, custom_scalars=SCALARS), mutations(SDL, custom_scalars=SCALARS),
        queries(SDL, custom_scalars=SCALARS, mode=Mode.NEGATIVE),
        mutations(SDL, custom_scalars=SCALARS, mode=Mode.NEGATIVE),
    )
    return st.one_of(generated.map(lambda q: (str(q), {})), variable_operations())


def check(status: int, content_type: str, body: Any) -> None:
    """The property every answer must have (see the module doc)."""
    assert status != 500, body
    assert content_type.startswith("application/json"), body
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code, error
        assert code != "INTERNAL_SERVER_ERROR", error
