"""The HTTP edge over real uvicorn: error codes for every bad input, body and input caps, rate limits,
introspection policy. Each input named in the issue is a case here."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import settings_for
from tests.e2e.conftest import FAST
from tests.e2e.flows import box, link
from tests.e2e.harness import Stack, make_user, stack

ID_FIELDS = ["vehicle", "charger", "evSystem", "action"]


@asynccontextmanager
async def edge(tmp_path: Path, **limits: Any) -> AsyncIterator[Stack]:
    """A stack with the given edge settings (rate-limit counters under a prefix of this test's own)."""
    settings = settings_for(tmp_path, **FAST, rate_limit_prefix=f"tandem-test:{uuid.uuid4().hex}", **limits)
    async with stack(settings) as st:
        yield st


async def post(st: Stack, body: Any = None, *, content: Any = None, token: str | None = None,
               headers: dict[str, str] | None = None) -> httpx.Response:
    hdrs = {"Authorization": f"Bearer {token}"} if token else {}
    hdrs.update(headers or {})
    if content is not None:
        hdrs.setdefault("content-type", "application/json")
        return await st.http.post(f"{st.url}/graphql", content=content, headers=hdrs)
    return await st.http.post(f"{st.url}/graphql", json=body, headers=hdrs)


def code_of(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith("application/json"), r.text
    return str(r.json()["errors"][0]["extensions"]["code"])


@pytest.mark.parametrize("variables", [{}, {"i": None}, {"i": [1]}, {"i": {"a": 1}}, {"i": True}, {"i": 1.5}])
async def test_variables_that_do_not_fit_their_type_are_bad_user_input(st: Stack, variables: dict[str, Any]) -> None:
    _, token = await make_user(st)
    for field in ID_FIELDS:
        r = await post(st, {"query": f"query($i: ID!){{ {field}(id: $i){{ id }} }}", "variables": variables},
                       token=token)
        assert r.status_code == 200 and r.json()["data"] is None
        assert code_of(r) == "BAD_USER_INPUT", (field, r.text)
    r = await post(st, {"query": "mutation($v: ID!){ startCharging(vehicleId: $v){ id } }", "variables": variables},
                   token=token)
    assert code_of(r) == "BAD_USER_INPUT"


async def test_literal_arguments_of_the_wrong_type_fail_validation(st: Stack) -> None:
    _, token = await make_user(st)
    for query in ("{ vehicle(id: [1]) { id } }", "{ vehicle { id } }", '{ vehicle(id: "1", nope: 2) { id } }',
                  'mutation { setMaxCurrent(vehicleId: "x", maxCurrent: "ten") { id } }'):
        assert code_of(await post(st, {"query": query}, token=token)) == "GRAPHQL_VALIDATION_FAILED", query


async def test_ids_and_strings_that_cannot_be_stored_are_bad_user_input(st: Stack) -> None:
    _, token = await make_user(st)
    long_id = "0" * 33
    cases: list[tuple[str, dict[str, Any]]] = [
        (f'{{ action(id: "{long_id}") {{ id }} }}', {}),
        ("query($i: ID!) { action(id: $i) { id } }", {"i": long_id}),
        ("mutation($i: ID!) { cancelAction(id: $i) { id } }", {"i": long_id}),
        ("mutation($i: ID!) { unlinkVehicle(id: $i) }", {"i": long_id}),
        ("mutation($v: ID) { startCharging(vehicleId: $v) { id } }", {"v": long_id}),
        ("mutation($n: String!) { createLocation(name: $n, latitude: 1, longitude: 2) { id } }", {"n": "a\x00b"}),
        ('mutation { createLocation(name: "a\\u0000b", latitude: 1, longitude: 2) { id } }', {}),
        ("mutation($n: String!) { createLocation(name: $n, latitude: 1, longitude: 2) { id } }", {"n": "x" * 5000}),
        ("mutation($c: JSON!) { linkVendor(vendor: \"easee\", credentials: $c) { vendor } }",
         {"c": {"userName": "u\x00", "password": "p"}}),
    ]
    for query, variables in cases:
        r = await post(st, {"query": query, "variables": variables}, token=token)
        assert r.status_code == 200 and code_of(r) == "BAD_USER_INPUT", (query, r.text)
    r = await post(st, {"query": f'{{ action(id: "{"0" * 32}") {{ id }} }}'}, token=token)
    assert code_of(r) == "NOT_FOUND"


async def test_set_charger_location_without_location_id_clears_it(st: Stack) -> None:
    _, token = await make_user(st)
    cid = (await link(st, token, "easee", [box("EHEDGE001")]))["chargers"][0]["id"]
    loc = (await st.data('mutation { createLocation(name: "home", latitude: 60.39, longitude: 5.32) { id } }',
                         token=token))["createLocation"]["id"]
    set_ = await st.data("mutation($c: ID!, $l: ID) { setChargerLocation(chargerId: $c, locationId: $l) "
                         "{ locationId } }", {"c": cid, "l": loc}, token=token)
    assert set_["setChargerLocation"]["locationId"] == loc
    cleared = await st.data("mutation($c: ID!) { setChargerLocation(chargerId: $c) { locationId } }", {"c": cid},
                            token=token)
    assert cleared["setChargerLocation"]["locationId"] is None
    body = await st.gql('mutation { setChargerLocation(chargerId: "nope") { id } }', token=token)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_syntax_token_and_nesting_errors_carry_codes(st: Stack) -> None:
    _, token = await make_user(st)
    cases = {
        "{ vehicle(id: ": "GRAPHQL_PARSE_FAILED",
        "{ " + "__typename " * 2500 + "}": "GRAPHQL_PARSE_FAILED",  # over the token limit
        "{ __typename(a: " + "[" * 900 + "]" * 900 + ") }": "GRAPHQL_PARSE_FAILED",  # nested too deeply
        "{ viewer { vehicles { evSystems { vehicle { evSystems { vehicle { evSystems { vehicle { evSystems "
        "{ vehicle { evSystems { id } } } } } } } } } } } }": "GRAPHQL_VALIDATION_FAILED",  # depth
        "{ " + " ".join(f"a{i}: __typename" for i in range(40)) + " }": "GRAPHQL_VALIDATION_FAILED",  # aliases
        "subscription { vehicleUpdated { id } }": "BAD_REQUEST",  # not over HTTP
        "": "BAD_REQUEST",
    }
    for query, code in cases.items():
        r = await post(st, {"query": query}, token=token)
        assert r.status_code in (200, 400), r.text
        assert code_of(r) == code, (query[:40], r.text[:300])
    r = await post(st, {"query": "query A { __typename }", "operationName": "B"}, token=token)
    assert r.status_code == 400 and code_of(r) == "BAD_REQUEST"


async def test_an_operation_over_the_cost_budget_is_refused(tmp_path: Path) -> None:
    async with edge(tmp_path, max_query_cost=100) as st:
        _, token = await make_user(st)
        cheap = await post(st, {"query": "{ viewer { vehicles { id } chargers { id } } }"}, token=token)
        assert not cheap.json().get("errors"), cheap.text
        costly = "{ viewer { " + " ".join(f"v{i}: vehicles {{ id vendor }}" for i in range(6)) + " } }"
        r = await post(st, {"query": costly}, token=token)
        assert code_of(r) == "GRAPHQL_VALIDATION_FAILED"
        assert r.json()["errors"][0]["extensions"]["maxCost"] == 100


@pytest.mark.parametrize("raw", [
    b'{"query": "{ __typename }", "variables": ' + b"[" * 5000 + b"]" * 5000 + b"}",  # 5,000-deep JSON
    b'{"query": "{ __typename \xff\xfe }"}',  # invalid UTF-8
    b'{"query": "{ __typename }"',  # truncated
    b'"just a string"', b"42", b"null", b"", b"[]",
    b'{"query": 5}', b'{"query": "{ __typename }", "variables": [1]}',
    b'{"query": "{ __typename }", "extensions": "x"}',
])
async def test_malformed_bodies_get_a_json_400_with_a_code(st: Stack, raw: bytes) -> None:
    r = await post(st, content=raw)
    assert r.status_code == 400, r.text
    assert code_of(r) == "BAD_REQUEST"


async def test_other_refusals_are_json_too(st: Stack) -> None:
    r = await post(st, content=b"query=x", headers={"content-type": "text/plain"})
    assert r.status_code == 400 and code_of(r) == "BAD_REQUEST"
    r = await st.http.get(f"{st.url}/graphql", params={"query": "{ __typename }", "variables": "{nope"})
    assert r.status_code == 400 and code_of(r) == "BAD_REQUEST"
    r = await st.http.put(f"{st.url}/graphql", content=b"{}")
    assert r.status_code == 405 and code_of(r) == "METHOD_NOT_ALLOWED"


async def test_bodies_over_the_cap_get_413_before_they_are_parsed(st: Stack) -> None:
    limit = st.settings.max_body_bytes
    padded = {"query": "# " + "x" * (5 * 1024 * 1024) + "\n{ __typename }"}  # a 5 MB comment
    r = await post(st, padded)
    assert r.status_code == 413 and code_of(r) == "PAYLOAD_TOO_LARGE"
    assert r.json()["errors"][0]["extensions"]["maxBytes"] == limit

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the cap applies while reading
        yield b'{"query": "# '
        for _ in range(64):
            yield b"x" * 16384
        yield b'\\n{ __typename }"}'

    r = await post(st, content=chunks())
    assert r.status_code == 413 and code_of(r) == "PAYLOAD_TOO_LARGE"
    ok = await post(st, {"query": "{ __typename }"})
    assert ok.status_code == 200 and ok.json() == {"data": {"__typename": "Query"}}
    assert len(ok.headers["x-request-id"]) == 16


async def test_a_query_string_over_the_cap_gets_413(tmp_path: Path) -> None:
    async with edge(tmp_path, max_body_bytes=10_000) as st:
        r = await st.http.get(f"{st.url}/graphql", params={"query": "{ __typename } # " + "x" * 20_000})
        assert r.status_code == 413 and code_of(r) == "PAYLOAD_TOO_LARGE"
        r = await st.http.get(f"{st.url}/graphql", params={"query": "{ __typename }"})
        assert r.json() == {"data": {"__typename": "Query"}}


async def test_big_credentials_are_refused_and_not_stored(st: Stack) -> None:
    from app.db.models import VendorLink

    _, token = await make_user(st)
    big = {"userName": "u", "password": "p", "pad": "x" * 20_000}
    q = "mutation($c: JSON!) { linkVendor(vendor: \"easee\", credentials: $c) { vendor } }"
    r = await post(st, {"query": q, "variables": {"c": big}}, token=token)
    assert code_of(r) == "BAD_USER_INPUT"
    inline = ('mutation { linkVendor(vendor: "easee", credentials: {userName: "u", pad: "' + "x" * 20_000
              + '"}) { vendor } }')
    assert code_of(await post(st, {"query": inline}, token=token)) == "BAD_USER_INPUT"
    deep: Any = "x"
    for _ in range(100):
        deep = {"a": deep}
    r = await post(st, {"query": q, "variables": {"c": deep}}, token=token)
    assert code_of(r) == "BAD_USER_INPUT"
    huge = await post(st, {"query": q, "variables": {"c": {"pad": "x" * (20 * 1024 * 1024)}}}, token=token)
    assert huge.status_code == 413
    assert await VendorLink.all().count() == 0


async def test_introspection_and_suggestions_need_a_token(st: Stack) -> None:
    _, token = await make_user(st)
    for query in ("{ __schema { queryType { name } } }", '{ __type(name: "Vehicle") { name } }',
                  "{ ...F } fragment F on Query { __schema { types { name } } }"):
        for anonymous in (None, "tdm_ut_not_a_token"):
            r = await post(st, {"query": query}, token=anonymous)
            assert r.json()["data"] is None and code_of(r) == "UNAUTHENTICATED", query
        r = await post(st, {"query": query}, token=token)
        assert not r.json().get("errors") and r.json()["data"], query
    anon = await post(st, {"query": "{ vehicl { id } }"})
    assert "Did you mean" not in anon.json()["errors"][0]["message"]
    assert code_of(anon) == "GRAPHQL_VALIDATION_FAILED"
    known = await post(st, {"query": "{ vehicl { id } }"}, token=token)
    assert "Did you mean 'vehicle'" in known.json()["errors"][0]["message"]


async def test_introspection_can_be_opened_to_everyone(tmp_path: Path) -> None:
    async with edge(tmp_path, anonymous_introspection=True) as st:
        r = await post(st, {"query": "{ __schema { queryType { name } } }"})
        assert r.json()["data"] == {"__schema": {"queryType": {"name": "Query"}}}


async def test_bad_tokens_from_one_address_are_rate_limited(tmp_path: Path) -> None:
    async with edge(tmp_path, rate_limit_per_minute=50) as st:
        _, token = await make_user(st)
        assert (await post(st, {"query": "{ viewer { id } }"}, token=token)).status_code == 200
        statuses: list[int] = []
        refused: httpx.Response | None = None
        for i in range(500):
            r = await post(st, {"query": "{ viewer { id } }"}, token=f"tdm_ut_guess{i}")
            statuses.append(r.status_code)
            if r.status_code == 429:
                refused = r
        assert refused is not None
        assert statuses.count(200) <= 50 and statuses.count(429) >= 450
        assert int(refused.headers["retry-after"]) >= 1
        assert code_of(refused) == "RATE_LIMITED" and refused.json()["errors"][0]["extensions"]["retryAfter"] >= 1
        # the valid token has a budget of its own
        mine = await post(st, {"query": "{ viewer { id } }"}, token=token)
        assert mine.status_code == 200 and not mine.json().get("errors")
        # and spends it
        codes = [(await post(st, {"query": "{ __typename }"}, token=token)).status_code for _ in range(60)]
        assert 429 in codes and codes.count(200) <= 50
        assert (await st.http.get(f"{st.url}/healthz")).status_code == 200  # health is never limited


async def test_rate_limit_zero_means_no_limit(st: Stack) -> None:
    assert st.settings.rate_limit_per_minute == 0
    codes = {(await post(st, {"query": "{ __typename }"}, token=f"tdm_ut_x{i}")).status_code for i in range(300)}
    assert codes == {200}
