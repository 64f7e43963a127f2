"""Pure edge logic: error codes, redaction, operation cost, introspection detection, input caps, slots, limiter."""

from __future__ import annotations

import logging

import pytest
from graphql import GraphQLError, GraphQLSyntaxError, Source, parse

from app.edge.limits import LIST_SIZE, bounded_json, operation_cost, uses_introspection
from app.edge.ratelimit import RateLimiter, address_key, token_key
from app.edge.slots import UserSlots
from app.errors import BadInput, NotFoundError
from app.logs import REDACTED, RedactingFilter, redact, redact_text
from schema import errors
from schema.schema import build_schema


def test_domain_errors_keep_their_code() -> None:
    err = GraphQLError("No such vehicle.", path=["vehicle"], original_error=NotFoundError("No such vehicle."))
    assert errors.classify(err) == "NOT_FOUND"


def test_syntax_errors_are_parse_failures() -> None:
    assert errors.classify(GraphQLSyntaxError(Source("{"), 1, "Unexpected <EOF>.")) == "GRAPHQL_PARSE_FAILED"


def test_variable_coercion_is_bad_user_input_and_validation_is_validation() -> None:
    coerced = GraphQLError("Variable '$i' of required type 'ID!' was not provided.")
    assert errors.classify(coerced) == "BAD_USER_INPUT"
    inner = GraphQLError("ID cannot represent value: [1]")
    invalid = GraphQLError("Variable '$i' got invalid value [1]", original_error=inner)
    assert errors.classify(invalid) == "BAD_USER_INPUT"
    assert errors.classify(GraphQLError("Cannot query field 'x' on type 'Query'.")) == "GRAPHQL_VALIDATION_FAILED"
    assert errors.classify(GraphQLError("Argument 'id' has invalid value", path=["vehicle"])) == "BAD_USER_INPUT"


def test_unexpected_errors_are_internal_masked_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    try:
        raise ZeroDivisionError("secret detail")
    except ZeroDivisionError as exc:
        err = GraphQLError("secret detail", path=["viewer"], original_error=exc)
    null = GraphQLError("Cannot return null for non-nullable field", path=["viewer", "id"])
    with caplog.at_level(logging.INFO, logger="tandem.graphql"):
        errors.process([err, null])
        errors.process([err])  # processed twice in one request: logged once
    assert err.message == "Internal server error." and err.extensions["code"] == "INTERNAL_SERVER_ERROR"
    assert "requestId" in err.extensions and "secret" not in err.message
    assert null.extensions["code"] == "INTERNAL_SERVER_ERROR"
    records = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(records) == 2 and records[0].exc_info is not None


def test_client_errors_are_logged_briefly_without_traceback_or_values(caplog: pytest.LogCaptureFixture) -> None:
    inner = GraphQLError("Expected type 'JSON'.")
    coerced = GraphQLError("Variable '$c' got invalid value {'password': 'hunter2'}", original_error=inner)
    domain = GraphQLError("bad input", path=["linkVendor"], original_error=BadInput("bad input"))
    with caplog.at_level(logging.INFO, logger="tandem.graphql"):
        errors.process([coerced, domain], operation="linkVendor")
    assert [r.levelno for r in caplog.records] == [logging.INFO, logging.INFO]
    assert all(r.exc_info is None for r in caplog.records)
    assert "hunter2" not in caplog.text and "BAD_USER_INPUT" in caplog.text


def test_suggestions_can_be_stripped() -> None:
    message = "Cannot query field 'vehicl' on type 'Query'. Did you mean 'vehicle'?"
    assert errors.strip_suggestions(message) == "Cannot query field 'vehicl' on type 'Query'."
    assert errors.strip_suggestions("No such vehicle.") == "No such vehicle."


def test_redact_masks_secret_keys_at_any_depth() -> None:
    value = {"vendor": "easee", "credentials": {"username": "u"}, "nested": [{"Password": "p", "ok": 1}],
             "apiKey": "k", "accessToken": "t"}
    out = redact(value)
    assert out == {"vendor": "easee", "credentials": REDACTED, "nested": [{"Password": REDACTED, "ok": 1}],
                   "apiKey": REDACTED, "accessToken": REDACTED}


@pytest.mark.parametrize("text", [
    'linkVendor(vendor: "easee", credentials: {username: "u", password: "hunter2"})',
    '{"password": "hunter2"}', "password=hunter2", "Authorization: Bearer hunter2",
    "token tdm_ut_hunter2", "{'password': 'hunter2'}",
])
def test_redact_text_masks_inline_secrets(text: str) -> None:
    assert "hunter2" not in redact_text(text)


def test_redacting_filter_scrubs_formatted_records_and_adds_request_id() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "query %s", ('{ a(password: "hunter2") }',), None)
    assert RedactingFilter().filter(record)
    assert "hunter2" not in record.getMessage() and record.request_id == "-"  # type: ignore[attr-defined]


def _cost(query: str) -> int:
    return operation_cost(build_schema()._schema, parse(query))


def test_cost_counts_fields_and_multiplies_lists() -> None:
    assert _cost("{ __typename }") == 0
    assert _cost("{ viewer { id } }") == 2
    assert _cost("{ viewer { vehicles { id vin: id } } }") == 1 + 1 + 2 * LIST_SIZE
    frag = "{ viewer { ...F } } fragment F on User { vehicles { id } }"
    assert _cost(frag) == _cost("{ viewer { vehicles { id } } }")


def test_cost_limit_refuses_an_expensive_operation() -> None:
    import asyncio

    from app.settings import Settings

    schema = build_schema(Settings(max_query_cost=50))
    result = asyncio.run(schema.execute("{ a: viewer { vehicles { id vendor isReachable lastSeen } } "
                                        "b: viewer { chargers { id vendor isReachable lastSeen } } }"))
    assert result.errors and result.errors[0].extensions["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert result.errors[0].extensions["maxCost"] == 50


@pytest.mark.parametrize(("query", "name", "expected"), [
    ("{ __schema { types { name } } }", None, True),
    ("{ __type(name: \"User\") { name } }", None, True),
    ("{ ...F } fragment F on Query { __schema { queryType { name } } }", None, True),
    ("{ ... on Query { __schema { queryType { name } } } }", None, True),
    ("{ __typename viewer { id } }", None, False),
    ("query A { viewer { id } } query B { __schema { queryType { name } } }", "A", False),
    ("query A { viewer { id } } query B { __schema { queryType { name } } }", "B", True),
])
def test_uses_introspection(query: str, name: str | None, expected: bool) -> None:
    assert uses_introspection(parse(query), name) is expected


def test_bounded_json_refuses_large_and_deep_values() -> None:
    scalar = bounded_json(100, max_depth=5)
    assert scalar.parse_value({"username": "u", "password": "p"}) == {"username": "u", "password": "p"}
    with pytest.raises(BadInput):
        scalar.parse_value({"x": "y" * 200})
    deep: object = 1
    for _ in range(10):
        deep = [deep]
    with pytest.raises(BadInput):
        scalar.parse_value(deep)


async def test_user_slots_cap_and_release() -> None:
    slots = UserSlots()
    a, b = await slots.acquire("sockets", "u", 2), await slots.acquire("sockets", "u", 2)
    assert a and b and await slots.acquire("sockets", "u", 2) is None
    assert await slots.acquire("sockets", "other", 2)
    assert await slots.acquire("subscriptions", "u", 1)  # another kind, another count
    await slots.release("sockets", "u", a)
    await slots.release("sockets", "u", a)  # twice: no effect
    assert await slots.acquire("sockets", "u", 2) and slots.held("sockets", "u") == 2
    assert all([await slots.acquire("sockets", "v", 0) for _ in range(100)])


async def test_rate_limiter_counts_unknown_tokens_per_address() -> None:
    from limits.aio.storage import MemoryStorage

    limiter = RateLimiter(3, MemoryStorage())
    assert limiter.key_for("tdm_ut_guess", "10.0.0.1") == address_key("10.0.0.1")
    verdicts = [await limiter.hit(limiter.key_for(f"tdm_ut_guess{i}", "10.0.0.1")) for i in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert verdicts[-1].retry_after_s >= 1
    limiter.remember_valid("tdm_ut_real")
    assert limiter.key_for("tdm_ut_real", "10.0.0.1") == token_key("tdm_ut_real")
    assert (await limiter.hit(limiter.key_for("tdm_ut_real", "10.0.0.1"))).allowed
    assert (await RateLimiter(0, MemoryStorage()).hit("a:x")).allowed


@pytest.mark.parametrize(("value", "ok"), [("plain", True), ("x" * 10, True), ("x" * 11, False), ("a\x00b", False),
                                          ("\ud800", False), ("æøå ✓", True)])
def test_check_text(value: str, ok: bool) -> None:
    from app.edge.limits import check_text

    if ok:
        assert check_text(value, "A string", 10) == value
    else:
        with pytest.raises(BadInput):
            check_text(value, "A string", 10)


def test_check_variables_limits_ids_by_their_declared_type() -> None:
    from app.edge.limits import MAX_ID_CHARS, check_variables

    doc = parse("query($i: ID!, $s: String, $l: [ID!]) { vehicle(id: $i) { id } }")
    check_variables(doc, None, {"i": "0" * MAX_ID_CHARS, "s": "0" * 100}, 100)
    for bad in ({"i": "0" * (MAX_ID_CHARS + 1)}, {"s": "0" * 101}, {"l": ["ok", "x" * 40]}, {"s": "\x00"}):
        with pytest.raises(BadInput):
            check_variables(doc, None, bad, 100)
