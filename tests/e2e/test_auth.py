"""Authentication and scoping over real HTTP and websockets."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
import websockets

from tests.e2e.flows import box, car, link, wait_for
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


# --- token lifetime, revocation, listing, secret rotation -------------------------------------

TOKEN_META = "id createdAt expiresAt lastUsedAt revokedAt isActive"


async def _client_and_user(st: Stack, external_id: str = "u1") -> tuple[str, str]:
    """A client secret and one of its users (id)."""
    from app.services.accounts import create_client

    _, secret = await create_client("tests")
    uid = (await st.data('mutation($e: String!) { createUser(externalId: $e) { id } }', {"e": external_id},
                         token=secret))["createUser"]["id"]
    return secret, uid


async def _token(st: Stack, secret: str, uid: str, expires_in: int | None = None) -> dict[str, Any]:
    data = await st.data('mutation($u: ID!, $e: Int) { createUserToken(userId: $u, expiresIn: $e) '
                         '{ id token userId expiresAt } }', {"u": uid, "e": expires_in}, token=secret)
    return dict(data["createUserToken"])


async def _code(st: Stack, query: str, token: str | None, variables: dict[str, Any] | None = None) -> str | None:
    body = await st.gql(query, variables, token=token)
    if not body.get("errors"):
        return None
    assert body.get("data") is None or all(v is None for v in body["data"].values())
    return str(body["errors"][0]["extensions"]["code"])


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_token_expires_after_expires_in_on_http_and_websocket(st: Stack) -> None:
    secret, uid = await _client_and_user(st)
    created = await _token(st, secret, uid, expires_in=2)
    tok = created["token"]
    assert (await st.data("{ viewer { id } }", token=tok))["viewer"]["id"] == uid
    async with st.ws(tok) as ws:
        assert (await ws.ack())["type"] == "connection_ack"
        await ws.subscribe("subscription { vehicleUpdated { id } }")
        # the open socket is closed when the token expires
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.next(timeout=15)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
        assert closed.value.rcvd.reason == "token expired"

    async def refused() -> bool:
        return await _code(st, "{ viewer { id } }", tok) == "UNAUTHENTICATED"

    await wait_for(refused, timeout=15)
    async with st.ws(tok) as ws:  # a new connection_init with it is refused
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.ack()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    listed = (await st.data('query($u: ID!) { userTokens(userId: $u) { ' + TOKEN_META + ' } }', {"u": uid},
                            token=secret))["userTokens"]
    assert [t["id"] for t in listed] == [created["id"]]
    assert listed[0]["isActive"] is False and listed[0]["revokedAt"] is None
    assert (_ts(listed[0]["expiresAt"]) - _ts(listed[0]["createdAt"])).total_seconds() == pytest.approx(2, abs=1)


async def test_default_lifetime_comes_from_the_setting(st: Stack) -> None:
    secret, uid = await _client_and_user(st)
    created = await _token(st, secret, uid)
    listed = (await st.data('query($u: ID!) { userTokens(userId: $u) { ' + TOKEN_META + ' } }', {"u": uid},
                            token=secret))["userTokens"]
    ttl = (_ts(listed[0]["expiresAt"]) - _ts(listed[0]["createdAt"])).total_seconds()
    assert ttl == pytest.approx(st.settings.user_token_ttl_s, abs=2)
    assert created["expiresAt"] == listed[0]["expiresAt"]


@pytest.mark.parametrize("expires_in", [0, -5, 10 * 365 * 24 * 3600 + 1])
async def test_bad_expires_in_is_bad_input(st: Stack, expires_in: int) -> None:
    secret, uid = await _client_and_user(st)
    code = await _code(st, 'mutation($u: ID!, $e: Int) { createUserToken(userId: $u, expiresIn: $e) { token } }',
                       secret, {"u": uid, "e": expires_in})
    assert code == "BAD_USER_INPUT"
    listed = (await st.data('query($u: ID!) { userTokens(userId: $u) { id } }', {"u": uid}, token=secret))
    assert listed["userTokens"] == []


async def test_revoked_token_is_refused_and_its_socket_closed_others_keep_working(st: Stack) -> None:
    secret, uid = await _client_and_user(st)
    first, second = await _token(st, secret, uid), await _token(st, secret, uid)
    assert (await st.data("{ viewer { id } }", token=first["token"]))["viewer"]["id"] == uid  # cached now
    async with st.ws(first["token"]) as ws, st.ws(second["token"]) as ws2:
        assert (await ws.ack())["type"] == "connection_ack"
        assert (await ws2.ack())["type"] == "connection_ack"
        await ws.subscribe("subscription { chargerUpdated { id } }")
        await ws2.subscribe("subscription { chargerUpdated { id } }")
        revoked = (await st.data('mutation($i: ID!) { revokeUserToken(id: $i) { ' + TOKEN_META + ' } }',
                                 {"i": first["id"]}, token=secret))["revokeUserToken"]
        assert revoked["id"] == first["id"] and revoked["revokedAt"] and revoked["isActive"] is False
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.next(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
        assert closed.value.rcvd.reason == "token revoked"
        # the other token's subscription is still served
        await link(st, second["token"], "easee", [box("EHREVOKE01")])
        assert (await ws2.until(lambda d: d.get("chargerUpdated")))["payload"]["data"]["chargerUpdated"]["id"]
    assert await _code(st, "{ viewer { id } }", first["token"]) == "UNAUTHENTICATED"
    assert (await st.data("{ viewer { id } }", token=second["token"]))["viewer"]["id"] == uid
    async with st.ws(first["token"]) as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await ws.ack()
    # revoking again changes nothing
    again = (await st.data('mutation($i: ID!) { revokeUserToken(id: $i) { revokedAt } }', {"i": first["id"]},
                           token=secret))["revokeUserToken"]
    assert again["revokedAt"] == revoked["revokedAt"]


async def test_listing_shows_metadata_only(st: Stack) -> None:
    secret, uid = await _client_and_user(st)
    a, b = await _token(st, secret, uid), await _token(st, secret, uid, expires_in=3600)
    await st.data("{ viewer { id } }", token=a["token"])
    await st.data('mutation($i: ID!) { revokeUserToken(id: $i) { id } }', {"i": b["id"]}, token=secret)
    body = await st.gql('query($u: ID!) { userTokens(userId: $u) { ' + TOKEN_META + ' } }', {"u": uid}, token=secret)
    text = json.dumps(body)
    assert a["token"] not in text and b["token"] not in text
    assert not any(t["token"][len("tdm_ut_"):][:12] in text for t in (a, b))
    by_id = {t["id"]: t for t in body["data"]["userTokens"]}
    assert set(by_id) == {a["id"], b["id"]}
    assert set(by_id[a["id"]]) == set(TOKEN_META.split())
    assert by_id[a["id"]]["lastUsedAt"] is not None and by_id[a["id"]]["isActive"] is True
    assert by_id[b["id"]]["lastUsedAt"] is None and by_id[b["id"]]["revokedAt"] is not None
    # the user sees the same through viewer.tokens and userTokens of its own id
    mine = (await st.data("{ viewer { tokens { id isActive } } }", token=a["token"]))["viewer"]["tokens"]
    assert {t["id"]: t["isActive"] for t in mine} == {a["id"]: True, b["id"]: False}
    own = (await st.data('query($u: ID!) { userTokens(userId: $u) { id } }', {"u": uid}, token=a["token"]))
    assert {t["id"] for t in own["userTokens"]} == {a["id"], b["id"]}
    # a token has no field holding the token
    assert await _code(st, '{ viewer { tokens { token } } }', a["token"]) == "GRAPHQL_VALIDATION_FAILED"


async def test_tokens_of_other_users_and_clients_are_not_found(st: Stack) -> None:
    secret, uid = await _client_and_user(st, "alice")
    other_secret, other_uid = await _client_and_user(st, "bob")
    alice = await _token(st, secret, uid)
    _, carol_uid = secret, (await st.data('mutation { createUser(externalId: "carol") { id } }',
                                          token=secret))["createUser"]["id"]
    carol = await _token(st, secret, carol_uid)
    revoke = 'mutation($i: ID!) { revokeUserToken(id: $i) { id } }'
    assert await _code(st, revoke, other_secret, {"i": alice["id"]}) == "NOT_FOUND"  # another client
    assert await _code(st, revoke, carol["token"], {"i": alice["id"]}) == "NOT_FOUND"  # another user
    assert await _code(st, revoke, None, {"i": alice["id"]}) == "UNAUTHENTICATED"
    listing = 'query($u: ID!) { userTokens(userId: $u) { id } }'
    assert await _code(st, listing, other_secret, {"u": uid}) == "NOT_FOUND"
    assert await _code(st, listing, carol["token"], {"u": uid}) == "NOT_FOUND"
    assert await _code(st, listing, None, {"u": uid}) == "UNAUTHENTICATED"
    assert (await st.data("{ viewer { id } }", token=alice["token"]))["viewer"]["id"] == uid
    # the user may revoke its own token (log out)
    await st.data(revoke, {"i": alice["id"]}, token=alice["token"])
    assert await _code(st, "{ viewer { id } }", alice["token"]) == "UNAUTHENTICATED"
    assert other_uid


async def test_rotated_client_secret_old_refused_new_works(st: Stack) -> None:
    secret, uid = await _client_and_user(st)
    user_token = await _token(st, secret, uid)
    rotated = (await st.data("mutation { rotateClientSecret { clientSecret previousSecretValidUntil } }",
                             token=secret))["rotateClientSecret"]
    new = rotated["clientSecret"]
    assert new.startswith("tdm_cs_") and new != secret and rotated["previousSecretValidUntil"] is None
    assert await _code(st, 'mutation { createUser(externalId: "x") { id } }', secret) == "UNAUTHENTICATED"
    assert (await st.data('mutation { createUser(externalId: "x") { id } }', token=new))["createUser"]["id"]
    # user tokens it issued keep working; a user token cannot rotate
    assert (await st.data("{ viewer { id } }", token=user_token["token"]))["viewer"]["id"] == uid
    assert await _code(st, "mutation { rotateClientSecret { clientSecret } }", user_token["token"]) == "FORBIDDEN"


async def test_rotation_with_grace_keeps_the_old_secret_until_then(st: Stack) -> None:
    secret, _ = await _client_and_user(st)
    rotated = (await st.data("mutation { rotateClientSecret(graceSeconds: 2) { clientSecret "
                             "previousSecretValidUntil } }", token=secret))["rotateClientSecret"]
    assert rotated["previousSecretValidUntil"] is not None
    query = 'mutation { createUser(externalId: "g") { id } }'
    assert await _code(st, query, secret) is None  # still valid in the grace period
    assert await _code(st, query, rotated["clientSecret"]) is None

    async def old_refused() -> bool:
        return await _code(st, query, secret) == "UNAUTHENTICATED"

    await wait_for(old_refused, timeout=15)
    assert await _code(st, query, rotated["clientSecret"]) is None
    for bad in (-1, 8 * 24 * 3600):
        assert await _code(st, f"mutation {{ rotateClientSecret(graceSeconds: {bad}) {{ clientSecret }} }}",
                           rotated["clientSecret"]) == "BAD_USER_INPUT"
    assert await _code(st, query, rotated["clientSecret"]) is None  # a refused rotation changed nothing


# --- vendor secrets at rest and one user per vendor account / device ---------------------------

LINK = ('mutation($v: String!, $c: JSON!) { linkVendor(vendor: $v, credentials: $c) '
        '{ vehicles { id information { vin } } chargers { id information { serialNumber } } } }')


async def test_second_user_linking_the_same_account_is_refused(st: Stack) -> None:
    _, alice = await make_user(st, "alice")
    _, bob = await make_user(st, "bob")
    first = await link(st, alice, "smartcar", [car("VINSHARED0001")])
    creds = first["credentials"]
    body = await st.gql(LINK, {"v": "smartcar", "c": creds}, token=bob)
    assert body["errors"][0]["extensions"]["code"] == "DEVICE_ALREADY_LINKED" and body["data"] is None
    assert (await st.data("{ viewer { vehicles { id } } }", token=bob))["viewer"]["vehicles"] == []
    # the same user relinking works and creates no duplicate
    again = (await st.data(LINK, {"v": "smartcar", "c": creds}, token=alice))["linkVendor"]
    assert [v["id"] for v in again["vehicles"]] == [first["vehicles"][0]["id"]]
    assert len((await st.data("{ viewer { vehicles { id } } }", token=alice))["viewer"]["vehicles"]) == 1
    # the same car or charger reached through another vendor account is refused too
    shared_car = {"kind": "vehicle", "vin": "VINSHARED0001", "shared": True}
    other_car = (await st.sim("/sim/accounts", {"vendor": "smartcar", "devices": [shared_car]}))
    body = await st.gql(LINK, {"v": "smartcar", "c": other_car["credentials"]}, token=bob)
    assert body["errors"][0]["extensions"]["code"] == "DEVICE_ALREADY_LINKED"
    await link(st, alice, "easee", [box("EHSHARED0001")])
    shared_box = {"kind": "charger", "serialNumber": "EHSHARED0001", "shared": True}
    other_box = (await st.sim("/sim/accounts", {"vendor": "easee", "devices": [shared_box]}))
    body = await st.gql(LINK, {"v": "easee", "c": other_box["credentials"]}, token=bob)
    assert body["errors"][0]["extensions"]["code"] == "DEVICE_ALREADY_LINKED"
    assert (await st.data("{ viewer { vehicles { id } chargers { id } } }", token=bob))["viewer"] == {
        "vehicles": [], "chargers": []}
    # once alice unlinks the car, bob may link the account (its credentials were forgotten)
    await st.data('mutation($i: ID!) { unlinkVehicle(id: $i) }', {"i": first["vehicles"][0]["id"]}, token=alice)
    moved = (await st.data(LINK, {"v": "smartcar", "c": creds}, token=bob))["linkVendor"]
    assert [v["information"]["vin"] for v in moved["vehicles"]] == ["VINSHARED0001"]


async def test_vendor_credentials_are_encrypted_in_the_database(st: Stack, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from tortoise import connections

    caplog.set_level(logging.DEBUG)
    _, alice = await make_user(st, "alice")
    _, bob = await make_user(st, "bob")
    linked = await link(st, alice, "easee", [box("EHSECRET001")])
    creds = linked["credentials"]
    refused = await st.gql(LINK, {"v": "easee", "c": creds}, token=bob)
    assert refused["errors"][0]["extensions"]["code"] == "DEVICE_ALREADY_LINKED"
    wrong = await st.gql(LINK, {"v": "easee", "c": {**creds, "password": "wrong-pass-XYZ"}}, token=bob)
    assert wrong["errors"][0]["extensions"]["code"] == "BAD_CREDENTIALS"
    rows = await connections.get("default").execute_query_dict("SELECT credentials, access_token FROM vendor_link")
    assert len(rows) == 1
    raw = json.dumps({k: str(v) for k, v in rows[0].items()})
    assert creds["password"] not in raw and creds["username"] not in raw
    assert rows[0]["access_token"] and str(rows[0]["access_token"]).startswith("gAAAAA")
    # and the service still uses them: the charger is polled with the stored session
    async def reachable() -> bool:
        data = await st.data("{ viewer { chargers { isReachable } } }", token=alice)
        return bool(data["viewer"]["chargers"][0]["isReachable"])

    await wait_for(reachable, timeout=20)
    for secret in (creds["password"], "wrong-pass-XYZ"):
        assert secret not in caplog.text  # secrets never reach a log
