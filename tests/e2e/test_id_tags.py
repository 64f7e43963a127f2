"""Vehicle idTags through GraphQL: set, listed, checked, one vehicle per tag."""

from __future__ import annotations

from tests.e2e import flows
from tests.e2e.harness import Stack, make_user

SET = "mutation($v: ID!, $t: [String!]!) { setVehicleIdTags(vehicleId: $v, idTags: $t) { id idTags } }"


async def test_set_and_check_id_tags(st: Stack) -> None:
    _, token = await make_user(st)
    linked = await flows.link(st, token, "smartcar", [flows.car("VINTAGA"), flows.car("VINTAGB")])
    a, b = (v["id"] for v in linked["vehicles"])
    done = await st.data(SET, {"v": a, "t": ["04A1B2C3", "04A1B2C3", "EMAID-1"]}, token=token)
    assert done["setVehicleIdTags"]["idTags"] == ["04A1B2C3", "EMAID-1"]
    view = await st.data("{ viewer { vehicles { id idTags } } }", token=token)
    assert {v["id"]: v["idTags"] for v in view["viewer"]["vehicles"]} == {a: ["04A1B2C3", "EMAID-1"], b: []}

    for bad in (["has space"], ["x" * 21], [""], [f"T{i}" for i in range(21)]):
        body = await st.gql(SET, {"v": b, "t": bad}, token=token)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", bad
    taken = await st.gql(SET, {"v": b, "t": ["04A1B2C3"]}, token=token)
    assert taken["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "another of your vehicles" in taken["errors"][0]["message"]
    view = await st.data("{ viewer { vehicles { id idTags } } }", token=token)
    assert {v["id"]: v["idTags"] for v in view["viewer"]["vehicles"]}[b] == []  # nothing changed

    _, other = await make_user(st, "u2")
    missing = await st.gql(SET, {"v": a, "t": ["X1"]}, token=other)
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    cleared = await st.data(SET, {"v": a, "t": []}, token=token)
    assert cleared["setVehicleIdTags"]["idTags"] == []
