"""Authentication and scoping over real HTTP and websockets."""

from __future__ import annotations

import pytest

from tests.e2e.flows import box, car, link
from tests.e2e.harness import Stack, make_user


async def test_missing_and_wrong_tokens_get_codes_and_no_data(st: Stack) -> None:
    for token in (None, "tdm_ut_nope", "garbage"):
        body = await st.gql("{ viewer { id } }", token=token)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_client_secret_manages_users_but_is_not_a_user(st: Stack) -> None:
    from app.services.accounts import create_client

    _, secret = await create_client("c")
    body = await st.gql("{ viewer { id } }", token=secret)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    uid, token = await make_user(st, "someone")
    me = await st.data("{ viewer { id externalId } }", token=token)
    assert me["viewer"] == {"id": uid, "externalId": "someone"}
    # a user token cannot create users
    body = await st.gql('mutation { createUser(externalId: "x") { id } }', token=token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_other_clients_users_are_not_found(st: Stack) -> None:
    from app.services.accounts import create_client

    _, secret_b = await create_client("other")
    uid_a, _ = await make_user(st, "a")
    body = await st.gql('mutation($u: ID!) { createUserToken(userId: $u) { token } }', {"u": uid_a}, token=secret_b)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_assets_are_scoped_to_their_owner(st: Stack) -> None:
    _, alice = await make_user(st, "alice")
    _, bob = await make_user(st, "bob")
    linked = await link(st, alice, "smartcar", [car("VINALICE0001")])
    vid = linked["vehicles"][0]["id"]
    body = await st.gql('query($i: ID!) { vehicle(id: $i) { id } }', {"i": vid}, token=bob)
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await st.gql('mutation($i: ID!) { startCharging(vehicleId: $i) { id } }', {"i": vid}, token=bob)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (await st.data("{ viewer { vehicles { id } } }", token=bob))["viewer"]["vehicles"] == []


async def test_websocket_needs_a_user_token_in_connection_init(st: Stack) -> None:
    import websockets

    async with st.ws("tdm_ut_wrong") as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.ack()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    _, token = await make_user(st)
    async with st.ws(token) as ws:
        assert (await ws.ack())["type"] == "connection_ack"


async def test_subscription_to_someone_elses_object_is_refused(st: Stack) -> None:
    _, alice = await make_user(st, "alice")
    _, bob = await make_user(st, "bob")
    linked = await link(st, alice, "easee", [box("EHAL0001")])
    cid = linked["chargers"][0]["id"]
    async with st.ws(bob) as ws:
        await ws.ack()
        await ws.subscribe("subscription($i: ID) { chargerUpdated(id: $i) { id } }", {"i": cid})
        msg = await ws.next()
        assert msg["type"] == "error" or msg["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_bad_graphql_gets_a_code_not_a_500(st: Stack) -> None:
    _, token = await make_user(st)
    body = await st.gql("{ viewer { nope } }", token=token)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    deep = "{ viewer " + "{ vehicles { evSystems { vehicle " * 4 + "{ id }" + " } } }" * 4 + " }"
    body = await st.gql(deep, token=token)
    assert body["data"] is None and body["errors"]
    r = await st.http.post(f"{st.url}/graphql", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    body = await st.gql('mutation { linkVendor(vendor: "nope", credentials: {}) { vendor } }', token=token)
    assert body["errors"][0]["extensions"]["code"] == "UNKNOWN_VENDOR"
    body = await st.gql('mutation { linkVendor(vendor: "smartcar", credentials: {username: "x", password: "y"}) '
                        '{ vendor } }', token=token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_CREDENTIALS"
    assert (await st.data("{ viewer { vehicles { id } } }", token=token))["viewer"]["vehicles"] == []
