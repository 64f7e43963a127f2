"""SmartcarAdapter against a mocked Smartcar-shaped cloud (docs/vendor-api.md, Smartcar API v2.0)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adapters import errors as ve
from adapters import registry
from adapters.budget import Budget
from adapters.capabilities import (
    ChargeController,
    CurrentLimiter,
    ScheduleOverrider,
    VehicleSource,
    Waker,
    capability,
)
from adapters.smartcar import SmartcarAdapter
from adapters.types import Cap, Session, VehicleInfo
from tests.adapters.helpers import HOST, FakeClock, FakeCloud, build, ok, raising, raw, rendered

PREFIX = "/smartcar"
TOKEN = "sc-access-7f3a9c21-secret"
SESSION = Session(vendor="smartcar", access_token=TOKEN)
VID = "veh-7b1e"
AGE = "2025-03-04T05:06:07.000Z"

ALL_PERMISSIONS = ("read_battery", "read_charge", "read_location", "control_charge_start", "control_charge",
                   "control_charge_amperage", "wake")


def sc_error(status: int, code: str | None = None, kind: str | None = None, description: str = "",
             headers: dict[str, str] | None = None) -> httpx.Response:
    """A Smartcar v2.0 error answer."""
    kinds = {400: "VALIDATION", 401: "AUTHENTICATION", 403: "PERMISSION", 404: "RESOURCE_NOT_FOUND",
             409: "VEHICLE_STATE", 429: "RATE_LIMIT", 500: "SERVER", 501: "COMPATIBILITY", 502: "UPSTREAM"}
    return ok(sc_error_body(status, code, kind or kinds.get(status, "SERVER"), description), status, headers)


def sc_error_body(status: int, code: str | None, kind: str, description: str = "") -> dict[str, Any]:
    return {"type": kind, "code": code, "description": description or kind, "statusCode": status,
            "requestId": "req-1", "resolution": {"type": None}}


def capabilities(**capable: bool) -> dict[str, Any]:
    """A /capabilities body; every permission capable unless overridden."""
    items = []
    for perm in ALL_PERMISSIONS:
        c = capable.get(perm, True)
        items.append({"permission": perm, "capable": c, "reason": None if c else "VEHICLE_NOT_CAPABLE"})
    return {"capabilities": items}


def vehicle_routes(vid: str, *, make: str = "Volkswagen", model: str = "ID.4", year: int = 2023,
                   vin: str = "WVWZZZE1ZPP000001", caps: dict[str, Any] | None = None,
                   capacity: httpx.Response | None = None) -> dict[tuple[str, str], Any]:
    base = f"/v2.0/vehicles/{vid}"
    return {
        ("GET", base): ok({"id": vid, "make": make, "model": model, "year": year}),
        ("GET", f"{base}/vin"): ok({"vin": vin}),
        ("GET", f"{base}/capabilities"): ok(caps if caps is not None else capabilities()),
        ("GET", f"{base}/battery/capacity"): capacity or ok({"capacity": 77}),
    }


def listing(*vids: str) -> httpx.Response:
    return ok({"vehicles": list(vids), "paging": {"count": len(vids), "offset": 0}})


def sub(path: str, body: Any, code: int = 200, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """One batch sub-response."""
    return {"path": path, "code": code, "body": body, "headers": {"sc-data-age": AGE} if headers is None else headers}


def default_parts() -> dict[str, dict[str, Any]]:
    return {
        "/battery": sub("/battery", {"percentRemaining": 0.5234, "range": 251.2}),
        "/charge": sub("/charge", {"isPluggedIn": True, "state": "CHARGING", "chargeRate": 7.2}),
        "/charge/limit": sub("/charge/limit", {"limit": 0.8}),
        "/location": sub("/location", {"latitude": 59.91, "longitude": 10.75}),
    }


def batch_answer(**overrides: dict[str, Any] | None) -> Any:
    """A /batch handler answering each requested path (None in overrides: leave that path out)."""
    parts = default_parts()
    for key, value in overrides.items():
        path = "/" + key.replace("__", "/")
        if value is None:
            parts.pop(path)
        else:
            parts[path] = value

    def answer(request: httpx.Request) -> httpx.Response:
        wanted = [r["path"] for r in json.loads(request.content)["requests"]]
        return ok({"responses": [parts[p] for p in wanted if p in parts]})

    return answer


def batch_cloud(**overrides: dict[str, Any] | None) -> FakeCloud:
    return FakeCloud(PREFIX, {("POST", f"/v2.0/vehicles/{VID}/batch"): batch_answer(**overrides)})


def command_cloud(answer: Any) -> FakeCloud:
    base = f"/v2.0/vehicles/{VID}"
    return FakeCloud(PREFIX, {("POST", f"{base}/charge"): answer, ("POST", f"{base}/charge/ampere"): answer,
                              ("POST", f"{base}/wake"): answer})


def assert_authorized(cloud: FakeCloud) -> None:
    assert cloud.requests, "no request was sent"
    for r in cloud.requests:
        assert r.headers.get("authorization") == f"Bearer {TOKEN}", r.url


# ---------------------------------------------------------------------------------------------
# Construction


def test_adapter_implements_the_vehicle_protocols_only() -> None:
    adapter = SmartcarAdapter(HOST + PREFIX, transport=httpx.MockTransport(lambda r: ok({})))
    assert isinstance(adapter, VehicleSource)
    for proto in (ChargeController, CurrentLimiter, Waker):
        assert capability(adapter, None, proto) is adapter
    assert capability(adapter, None, ScheduleOverrider) is None


async def test_accepts_a_ready_made_client() -> None:
    cloud = FakeCloud(PREFIX, {("POST", "/oauth/token"): ok({"access_token": "tok-1", "token_type": "Bearer",
                                                               "expires_in": 7200})})
    client = httpx.AsyncClient(base_url=HOST + PREFIX, transport=cloud.transport())
    adapter = SmartcarAdapter(HOST + PREFIX, client=client)
    try:
        session = await adapter.login({"username": "u", "password": "p"})
    finally:
        await adapter.aclose()
    assert session.access_token == "tok-1"
    assert client.is_closed
    assert cloud.calls == [("POST", "/oauth/token")]


# ---------------------------------------------------------------------------------------------
# Login


async def test_login_posts_credentials_and_returns_session() -> None:
    cloud = FakeCloud(PREFIX, {("POST", "/oauth/token"): ok({"access_token": "tok-abc", "token_type": "Bearer",
                                                               "expires_in": 7200})})
    adapter = build("smartcar", cloud)
    session = await adapter.login({"username": "ada@example.com", "password": "pw-1"})
    assert session == Session(vendor="smartcar", access_token="tok-abc")
    assert cloud.calls == [("POST", "/oauth/token")]
    assert cloud.body() == {"username": "ada@example.com", "password": "pw-1"}
    assert "authorization" not in cloud.requests[0].headers


async def test_login_bad_credentials_is_bad_credentials_without_secrets() -> None:
    password = "hunter2-very-secret"
    cloud = FakeCloud(PREFIX, {("POST", "/oauth/token"): sc_error(
        401, None, "AUTHENTICATION", f"invalid credentials for ada@example.com / {password}")})
    adapter = build("smartcar", cloud)
    with pytest.raises(ve.BadCredentials) as info:
        await adapter.login({"username": "ada@example.com", "password": password})
    assert info.value.code == "BAD_CREDENTIALS" and info.value.retryable is False
    shown = rendered(info.value)
    assert password not in shown
    assert "ada@example.com" not in shown


@pytest.mark.parametrize("credentials", [{}, {"username": "u"}, {"password": "p"},
                                         {"username": 1, "password": "p"}, {"username": "u", "password": None}])
async def test_login_rejects_malformed_credentials_without_calling_vendor(credentials: dict[str, object]) -> None:
    cloud = FakeCloud(PREFIX)
    adapter = build("smartcar", cloud)
    with pytest.raises(ve.BadCredentials):
        await adapter.login(credentials)
    assert cloud.requests == []


@pytest.mark.parametrize("answer", [
    ok({"token_type": "Bearer", "expires_in": 7200}),
    ok({"access_token": 12345, "token_type": "Bearer"}),
    ok({"access_token": None}),
    ok(["tok"]),
    raw("<html>oops</html>"),
    raw('{"access_token": "tok', content_type="application/json"),
], ids=["missing", "int", "null", "list", "html", "truncated"])
async def test_login_malformed_answer_is_bad_response(answer: httpx.Response) -> None:
    adapter = build("smartcar", FakeCloud(PREFIX, {("POST", "/oauth/token"): answer}))
    with pytest.raises(ve.BadResponse):
        await adapter.login({"username": "u", "password": "p"})


async def test_login_timeout_is_unreachable() -> None:
    adapter = build("smartcar", FakeCloud(PREFIX, {("POST", "/oauth/token"): raising(httpx.ConnectTimeout)}))
    with pytest.raises(ve.Unreachable):
        await adapter.login({"username": "u", "password": "p"})


# ---------------------------------------------------------------------------------------------
# Discovery and capabilities


async def test_list_vehicles_reads_info_vin_capabilities_and_capacity() -> None:
    cloud = FakeCloud(PREFIX, {("GET", "/v2.0/vehicles"): listing("veh-a", "veh-b")})
    cloud.routes.update(vehicle_routes("veh-a", make="Tesla", model="Model 3", year=2021, vin="5YJ3E1EA1MF000001",
                                       capacity=ok({"capacity": 57.5})))
    # A make that can neither start nor stop charging, has no GPS and does not report its capacity.
    cloud.routes.update(vehicle_routes(
        "veh-b", make="Nissan", model="Leaf", year=2019, vin="SJNFAAZE0U0000001",
        caps=capabilities(control_charge_start=False, control_charge=False, read_location=False,
                          control_charge_amperage=False, wake=False),
        capacity=sc_error(501, "VEHICLE_NOT_CAPABLE", "COMPATIBILITY"),
    ))
    adapter = build("smartcar", cloud)

    a, b = await adapter.list_vehicles(SESSION)

    assert a == VehicleInfo(vendor_id="veh-a", vin="5YJ3E1EA1MF000001", brand="Tesla", model="Model 3", year=2021,
                            battery_capacity_kwh=57.5, capabilities=frozenset(Cap) - {Cap.OVERRIDE_SCHEDULE})
    assert isinstance(a.battery_capacity_kwh, float)
    assert b.vendor_id == "veh-b" and b.vin == "SJNFAAZE0U0000001" and b.brand == "Nissan"
    assert b.battery_capacity_kwh is None
    assert b.capabilities == {Cap.INFORMATION, Cap.CHARGE_STATE}

    assert capability(adapter, a, ChargeController) is adapter
    assert capability(adapter, a, Waker) is adapter
    assert capability(adapter, b, ChargeController) is None
    assert capability(adapter, b, CurrentLimiter) is None
    assert capability(adapter, b, Waker) is None
    assert Cap.LOCATION not in b.capabilities

    assert cloud.calls[0] == ("GET", "/v2.0/vehicles")
    for vid in ("veh-a", "veh-b"):
        for tail in ("", "/vin", "/capabilities", "/battery/capacity"):
            assert ("GET", f"/v2.0/vehicles/{vid}{tail}") in cloud.calls
    assert all(m == "GET" for m, _ in cloud.calls)
    assert_authorized(cloud)


async def test_make_that_can_start_but_not_stop_is_not_a_charge_controller() -> None:
    cloud = FakeCloud(PREFIX, {("GET", "/v2.0/vehicles"): listing(VID)})
    cloud.routes.update(vehicle_routes(VID, caps=capabilities(control_charge=False)))
    adapter = build("smartcar", cloud)
    (info,) = await adapter.list_vehicles(SESSION)
    assert Cap.START_CHARGING in info.capabilities
    assert Cap.STOP_CHARGING not in info.capabilities
    assert capability(adapter, info, ChargeController) is None
    assert capability(adapter, info, ChargeController, Cap.START_CHARGING) is adapter
    assert capability(adapter, info, ChargeController, Cap.STOP_CHARGING) is None


async def test_list_vehicles_ignores_unknown_permissions() -> None:
    caps = capabilities()
    caps["capabilities"].append({"permission": "control_climate", "capable": True, "reason": None})
    cloud = FakeCloud(PREFIX, {("GET", "/v2.0/vehicles"): listing(VID)})
    cloud.routes.update(vehicle_routes(VID, caps=caps))
    (info,) = await build("smartcar", cloud).list_vehicles(SESSION)
    assert info.capabilities == frozenset(Cap) - {Cap.OVERRIDE_SCHEDULE}


async def test_list_vehicles_empty_account() -> None:
    cloud = FakeCloud(PREFIX, {("GET", "/v2.0/vehicles"): listing()})
    assert await build("smartcar", cloud).list_vehicles(SESSION) == []
    assert cloud.calls == [("GET", "/v2.0/vehicles")]


def _bad_listing(route: str, answer: httpx.Response) -> FakeCloud:
    cloud = FakeCloud(PREFIX, {("GET", "/v2.0/vehicles"): listing(VID)})
    cloud.routes.update(vehicle_routes(VID))
    cloud.routes[("GET", route)] = answer
    return cloud


@pytest.mark.parametrize(("route", "answer"), [
    ("/v2.0/vehicles", ok({"paging": {}})),
    ("/v2.0/vehicles", ok({"vehicles": "veh-1"})),
    ("/v2.0/vehicles", ok({"vehicles": [42]})),
    ("/v2.0/vehicles", raw("not json")),
    (f"/v2.0/vehicles/{VID}", ok({"id": VID, "make": 7})),
    (f"/v2.0/vehicles/{VID}", ok({"id": VID, "year": "2023"})),
    (f"/v2.0/vehicles/{VID}", ok(["not", "an", "object"])),
    (f"/v2.0/vehicles/{VID}/vin", ok({})),
    (f"/v2.0/vehicles/{VID}/vin", ok({"vin": None})),
    (f"/v2.0/vehicles/{VID}/capabilities", ok({})),
    (f"/v2.0/vehicles/{VID}/capabilities", ok({"capabilities": [{"permission": "wake"}]})),
    (f"/v2.0/vehicles/{VID}/capabilities", ok({"capabilities": [{"permission": "wake", "capable": "yes"}]})),
    (f"/v2.0/vehicles/{VID}/capabilities", ok({"capabilities": [{"capable": True}]})),
    (f"/v2.0/vehicles/{VID}/capabilities", ok({"capabilities": ["wake"]})),
    (f"/v2.0/vehicles/{VID}/battery/capacity", ok({"capacity": "77"})),
    (f"/v2.0/vehicles/{VID}/battery/capacity", ok({"capacity": True})),
    (f"/v2.0/vehicles/{VID}/battery/capacity", ok({})),
])
async def test_list_vehicles_malformed_answer_is_bad_response(route: str, answer: httpx.Response) -> None:
    with pytest.raises(ve.BadResponse):
        await build("smartcar", _bad_listing(route, answer)).list_vehicles(SESSION)


async def test_list_vehicles_bool_year_is_bad_response() -> None:
    with pytest.raises(ve.BadResponse):
        await build("smartcar", _bad_listing(f"/v2.0/vehicles/{VID}", ok({"id": VID, "year": True}))
                    ).list_vehicles(SESSION)


async def test_list_vehicles_revoked_token_is_auth_revoked() -> None:
    cloud = FakeCloud(PREFIX, {("GET", "/v2.0/vehicles"): sc_error(401, None, "AUTHENTICATION")})
    with pytest.raises(ve.AuthRevoked):
        await build("smartcar", cloud).list_vehicles(SESSION)


# ---------------------------------------------------------------------------------------------
# Reading state


async def test_read_vehicle_batches_the_poll_into_a_typed_snapshot() -> None:
    cloud = batch_cloud()
    snap = await build("smartcar", cloud).read_vehicle(SESSION, VID)

    assert cloud.calls == [("POST", f"/v2.0/vehicles/{VID}/batch")]
    assert_authorized(cloud)
    paths = [r["path"] for r in cloud.body()["requests"]]
    assert {"/battery", "/charge", "/charge/limit", "/location"} <= set(paths)

    assert snap.battery_level == pytest.approx(52.3)
    assert snap.range_km == pytest.approx(251.2)
    assert snap.is_plugged_in is True
    assert snap.is_charging is True
    assert snap.is_fully_charged is False
    assert snap.charge_limit == pytest.approx(80.0)
    assert snap.charge_rate_kw == pytest.approx(7.2)
    assert (snap.latitude, snap.longitude) == (59.91, 10.75)
    assert snap.data_age == datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert snap.battery_capacity_kwh is None and snap.max_current is None


@pytest.mark.parametrize(("state", "plugged", "charging", "full"), [
    ("CHARGING", True, True, False),
    ("FULLY_CHARGED", True, False, True),
    ("NOT_CHARGING", True, False, False),
    ("NOT_CHARGING", False, False, False),
])
async def test_read_vehicle_charge_states(state: str, plugged: bool, charging: bool, full: bool) -> None:
    cloud = batch_cloud(charge=sub("/charge", {"isPluggedIn": plugged, "state": state, "chargeRate": None}))
    snap = await build("smartcar", cloud).read_vehicle(SESSION, VID)
    assert (snap.is_plugged_in, snap.is_charging, snap.is_fully_charged) == (plugged, charging, full)
    assert snap.charge_rate_kw is None


async def test_read_vehicle_without_location_or_limit() -> None:
    cloud = batch_cloud(location=sub("/location", sc_error_body(501, "VEHICLE_NOT_CAPABLE", "COMPATIBILITY"),
                                     code=501, headers={}),
                        charge__limit=None)
    snap = await build("smartcar", cloud).read_vehicle(SESSION, VID)
    assert snap.latitude is None and snap.longitude is None
    assert snap.charge_limit is None
    assert snap.battery_level == pytest.approx(52.3)


def _not_capable(path: str) -> dict[str, Any]:
    return sub(path, sc_error_body(501, "VEHICLE_NOT_CAPABLE", "COMPATIBILITY"), code=501, headers={})


async def test_read_vehicle_of_a_make_without_charge_state_reports_only_its_location() -> None:
    cloud = batch_cloud(battery=_not_capable("/battery"), charge=_not_capable("/charge"),
                        charge__limit=_not_capable("/charge/limit"))
    snap = await build("smartcar", cloud).read_vehicle(SESSION, VID)
    assert (snap.is_plugged_in, snap.is_charging, snap.battery_level, snap.charge_rate_kw) == (None, None, None, None)
    assert (snap.latitude, snap.longitude) == (59.91, 10.75)
    assert snap.data_age == datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    blind = batch_cloud(battery=_not_capable("/battery"), charge=_not_capable("/charge"),
                        location=_not_capable("/location"))
    snap = await build("smartcar", blind).read_vehicle(SESSION, VID)
    assert snap.latitude is None and snap.data_age is None


async def test_read_vehicle_of_a_make_without_charge_state_still_reports_a_sleeping_car() -> None:
    cloud = batch_cloud(battery=_not_capable("/battery"), charge=_not_capable("/charge"),
                        location=sub("/location", sc_error_body(409, "ASLEEP", "VEHICLE_STATE"), code=409, headers={}))
    with pytest.raises(ve.Asleep):
        await build("smartcar", cloud).read_vehicle(SESSION, VID)


async def test_read_vehicle_without_data_age_header() -> None:
    cloud = batch_cloud(charge=sub("/charge", {"isPluggedIn": False, "state": "NOT_CHARGING"}, headers={}))
    snap = await build("smartcar", cloud).read_vehicle(SESSION, VID)
    assert snap.data_age is None


@pytest.mark.parametrize(("which", "status", "code", "kind", "expected"), [
    ("battery", 409, "ASLEEP", "VEHICLE_STATE", ve.Asleep),
    ("charge", 409, "ASLEEP", "VEHICLE_STATE", ve.Asleep),
    ("charge", 409, "UNREACHABLE", "VEHICLE_STATE", ve.Unreachable),
    ("battery", 401, None, "AUTHENTICATION", ve.AuthRevoked),
    ("battery", 404, "PATH", "RESOURCE_NOT_FOUND", ve.NotFound),
    ("charge", 501, "VEHICLE_NOT_CAPABLE", "COMPATIBILITY", ve.NotCapable),
    ("battery", 500, "INTERNAL", "SERVER", ve.Unreachable),
    ("charge", 502, "UNKNOWN_ISSUE", "UPSTREAM", ve.Unreachable),
])
async def test_read_vehicle_sub_response_errors_are_typed(which: str, status: int, code: str | None, kind: str,
                                                          expected: type[ve.VendorError]) -> None:
    cloud = batch_cloud(**{which: sub(f"/{which}", sc_error_body(status, code, kind), code=status, headers={})})
    with pytest.raises(expected):
        await build("smartcar", cloud).read_vehicle(SESSION, VID)


async def test_read_vehicle_sub_response_rate_limit_carries_retry_after() -> None:
    cloud = batch_cloud(battery=sub("/battery", sc_error_body(429, "VEHICLE", "RATE_LIMIT"), code=429,
                                    headers={"retry-after": "42"}))
    with pytest.raises(ve.RateLimited) as info:
        await build("smartcar", cloud).read_vehicle(SESSION, VID)
    assert info.value.retry_after == 42.0


@pytest.mark.parametrize(("status", "code", "expected"), [
    (409, "ASLEEP", ve.Asleep),
    (409, "UNREACHABLE", ve.Unreachable),
    (401, None, ve.AuthRevoked),
    (404, "PATH", ve.NotFound),
    (500, "INTERNAL", ve.Unreachable),
])
async def test_read_vehicle_top_level_errors_are_typed(status: int, code: str | None,
                                                       expected: type[ve.VendorError]) -> None:
    cloud = FakeCloud(PREFIX, {("POST", f"/v2.0/vehicles/{VID}/batch"): sc_error(status, code)})
    with pytest.raises(expected):
        await build("smartcar", cloud).read_vehicle(SESSION, VID)


def _batch_with(responses: Any) -> FakeCloud:
    return FakeCloud(PREFIX, {("POST", f"/v2.0/vehicles/{VID}/batch"): ok(responses)})


@pytest.mark.parametrize("cloud_factory", [
    lambda: FakeCloud(PREFIX, {("POST", f"/v2.0/vehicles/{VID}/batch"): raw("<html>502</html>")}),
    lambda: FakeCloud(PREFIX, {("POST", f"/v2.0/vehicles/{VID}/batch"):
                               raw(b'{"responses": [', content_type="application/json")}),
    lambda: _batch_with({}),
    lambda: _batch_with({"responses": {"/battery": {}}}),
    lambda: _batch_with([]),
    lambda: _batch_with({"responses": ["/battery"]}),
    lambda: _batch_with({"responses": [{"path": "/battery", "code": "200", "body": {}}]}),
    lambda: _batch_with({"responses": [{"code": 200, "body": {}}]}),
    lambda: batch_cloud(charge=None),
    lambda: batch_cloud(battery=None),
    lambda: batch_cloud(battery=sub("/battery", {"range": 100})),
    lambda: batch_cloud(battery=sub("/battery", {"percentRemaining": "0.5"})),
    lambda: batch_cloud(battery=sub("/battery", {"percentRemaining": True})),
    lambda: batch_cloud(battery=sub("/battery", {"percentRemaining": 0.5, "range": "far"})),
    lambda: batch_cloud(battery=sub("/battery", None)),
    lambda: batch_cloud(battery=sub("/battery", [0.5])),
    lambda: batch_cloud(charge=sub("/charge", {"isPluggedIn": True, "state": "DISCHARGING"})),
    lambda: batch_cloud(charge=sub("/charge", {"isPluggedIn": True})),
    lambda: batch_cloud(charge=sub("/charge", {"isPluggedIn": "yes", "state": "CHARGING"})),
    lambda: batch_cloud(charge=sub("/charge", {"isPluggedIn": True, "state": "CHARGING", "chargeRate": "7"})),
    lambda: batch_cloud(charge__limit=sub("/charge/limit", {"limit": "80%"})),
    lambda: batch_cloud(location=sub("/location", {"latitude": "59.9", "longitude": 10.7})),
    lambda: batch_cloud(battery=sub("/battery", {}, code=299)),
], ids=["html", "truncated-json", "no-responses", "responses-dict", "top-list", "item-str", "code-str",
        "no-path", "no-charge", "no-battery", "no-percent", "percent-str", "percent-bool", "range-str",
        "battery-null", "battery-list", "unknown-state", "no-state", "plugged-str", "rate-str", "limit-str",
        "lat-str", "empty-2xx"])
async def test_read_vehicle_malformed_answer_is_bad_response(cloud_factory: Any) -> None:
    with pytest.raises(ve.BadResponse):
        await build("smartcar", cloud_factory()).read_vehicle(SESSION, VID)


# ---------------------------------------------------------------------------------------------
# Commands


@pytest.mark.parametrize(("method", "args", "path", "body"), [
    ("start_charging", (), "/charge", {"action": "START"}),
    ("stop_charging", (), "/charge", {"action": "STOP"}),
    ("set_max_current", (16,), "/charge/ampere", {"amperage": 16}),
    ("set_max_current", (10.0,), "/charge/ampere", {"amperage": 10}),
    ("wake_up", (), "/wake", {}),
])
async def test_commands_post_the_smartcar_request(method: str, args: tuple[Any, ...], path: str,
                                                  body: dict[str, Any]) -> None:
    cloud = command_cloud(ok({"status": "success"}))
    result = await getattr(build("smartcar", cloud), method)(SESSION, VID, *args)
    assert result is None
    assert cloud.calls == [("POST", f"/v2.0/vehicles/{VID}{path}")]
    assert cloud.body() == body
    assert_authorized(cloud)


@pytest.mark.parametrize(("answer", "expected"), [
    (sc_error(501, "VEHICLE_NOT_CAPABLE", "COMPATIBILITY", "this make cannot start charging"), ve.NotCapable),
    (sc_error(409, "VEHICLE_NOT_CAPABLE", "COMPATIBILITY"), ve.NotCapable),
    (sc_error(409, "ASLEEP", "VEHICLE_STATE"), ve.Asleep),
    (sc_error(409, "UNREACHABLE", "VEHICLE_STATE"), ve.Unreachable),
    (sc_error(409, "CHARGING_PLUG_NOT_CONNECTED", "VEHICLE_STATE"), ve.PreconditionFailed),
    (sc_error(409, "CHARGING_SOC_TOO_LOW", "VEHICLE_STATE"), ve.PreconditionFailed),
    (sc_error(401, None, "AUTHENTICATION"), ve.AuthRevoked),
    (raw("", status=401), ve.AuthRevoked),
    (sc_error(404, "PATH", "RESOURCE_NOT_FOUND"), ve.NotFound),
    (sc_error(400, "PARAMETER", "VALIDATION"), ve.BadResponse),
    (sc_error(500, "INTERNAL", "SERVER"), ve.Unreachable),
    (sc_error(502, "UNKNOWN_ISSUE", "UPSTREAM"), ve.Unreachable),
    (raw("<html>Service Unavailable</html>", status=503), ve.Unreachable),
    (raw("upstream timed out", status=504, content_type="text/plain"), ve.Unreachable),
], ids=["501", "409-not-capable", "asleep", "offline", "unplugged", "soc-low", "401", "401-empty", "404",
        "400", "500", "502", "503-html", "504-text"])
@pytest.mark.parametrize("method", ["start_charging", "stop_charging"])
async def test_command_errors_are_typed(method: str, answer: httpx.Response, expected: type[ve.VendorError]) -> None:
    cloud = command_cloud(answer)
    with pytest.raises(expected) as info:
        await getattr(build("smartcar", cloud), method)(SESSION, VID)
    assert type(info.value) is expected
    assert len(cloud.requests) == 1


async def test_command_403_permission_is_auth_revoked() -> None:
    cloud = command_cloud(sc_error(403, None, "PERMISSION", "insufficient permissions"))
    with pytest.raises(ve.AuthRevoked):
        await build("smartcar", cloud).start_charging(SESSION, VID)


OTHER = "veh-9c2d"


def two_car_cloud(first: Any) -> FakeCloud:
    """Commands to VID answer `first` (then success); OTHER's always succeed; /vehicles lists both."""
    answers = [first]

    def answer(_r: httpx.Request) -> httpx.Response:
        return answers.pop() if answers else ok({"status": "success"})

    return FakeCloud(PREFIX, {("POST", f"/v2.0/vehicles/{VID}/charge"): answer,
                              ("POST", f"/v2.0/vehicles/{OTHER}/charge"): lambda _r: ok({"status": "success"}),
                              ("GET", "/v2.0/vehicles"): lambda _r: listing(VID, OTHER)})


async def test_vehicle_rate_limit_holds_that_vehicle_only_and_fails_fast() -> None:
    clock = FakeClock()
    cloud = two_car_cloud(sc_error(429, "VEHICLE", "RATE_LIMIT", headers={"Retry-After": "37"}))
    adapter = build("smartcar", cloud, clock)
    with pytest.raises(ve.RateLimited) as info:
        await adapter.start_charging(SESSION, VID)
    assert (info.value.retry_after, info.value.scope) == (37.0, ve.DEVICE)
    assert info.value.code == "RATE_LIMITED" and info.value.retryable
    with pytest.raises(ve.RateLimited) as again:  # refused at once, nothing sent
        await adapter.stop_charging(SESSION, VID)
    assert again.value.retry_after == pytest.approx(37.0) and len(cloud.requests) == 1
    await adapter.stop_charging(SESSION, OTHER)  # the account's other car is not limited
    assert (await adapter.http.request("GET", "/v2.0/vehicles", token=TOKEN)).is_success  # nor the account
    clock.now += 37.5
    await adapter.stop_charging(SESSION, VID)
    assert cloud.calls.count(("POST", f"/v2.0/vehicles/{VID}/charge")) == 2


async def test_app_quota_rate_limit_holds_every_request_of_the_vendor() -> None:
    clock = FakeClock()
    cloud = two_car_cloud(sc_error(429, "SMARTCAR_API", "RATE_LIMIT", headers={"Retry-After": "30"}))
    adapter = build("smartcar", cloud, clock)
    with pytest.raises(ve.RateLimited) as info:
        await adapter.start_charging(SESSION, VID)
    assert info.value.scope == ve.APP
    other = Session(vendor="smartcar", access_token="another-account")
    for call in (adapter.stop_charging(other, OTHER), adapter.login({"username": "u", "password": "p"})):
        with pytest.raises(ve.RateLimited) as held:
            await call
        assert held.value.scope == ve.APP and held.value.retry_after == pytest.approx(30.0)
    assert len(cloud.requests) == 1
    clock.now += 31
    await adapter.stop_charging(other, OTHER)


@pytest.mark.parametrize(("asked", "cap", "honoured"), [("37800", 900.0, 900.0), ("120", 900.0, 120.0),
                                                        ("37800", 60.0, 60.0)])
async def test_retry_after_is_capped_and_the_hold_ends_at_the_cap(asked: str, cap: float, honoured: float) -> None:
    clock = FakeClock()
    cloud = two_car_cloud(sc_error(429, "VEHICLE", "RATE_LIMIT", headers={"Retry-After": asked}))
    adapter = registry.build("smartcar", HOST + PREFIX, timeout_s=2.0, budget=Budget(1000, 1000.0, clock=clock),
                             transport=cloud.transport(), max_retry_after_s=cap)
    with pytest.raises(ve.RateLimited) as info:
        await adapter.start_charging(SESSION, VID)
    assert info.value.retry_after == honoured
    clock.now += honoured - 1
    with pytest.raises(ve.RateLimited):
        await adapter.start_charging(SESSION, VID)
    clock.now += 1.5
    await adapter.start_charging(SESSION, VID)


async def test_batch_sub_response_rate_limit_holds_the_vehicle() -> None:
    clock = FakeClock()
    cloud = batch_cloud(battery=sub("/battery", sc_error_body(429, "VEHICLE", "RATE_LIMIT"), code=429,
                                    headers={"retry-after": "42"}))
    adapter = build("smartcar", cloud, clock)
    with pytest.raises(ve.RateLimited) as info:
        await adapter.read_vehicle(SESSION, VID)
    assert (info.value.retry_after, info.value.scope) == (42.0, ve.DEVICE)
    with pytest.raises(ve.RateLimited):
        await adapter.read_vehicle(SESSION, VID)
    assert len(cloud.requests) == 1


@pytest.mark.parametrize("headers", [{}, {"retry-after": "soon"}])
async def test_rate_limit_without_usable_retry_after_defaults(headers: dict[str, str]) -> None:
    cloud = command_cloud(sc_error(429, "SMARTCAR_API", "RATE_LIMIT", headers=headers))
    with pytest.raises(ve.RateLimited) as info:
        await build("smartcar", cloud).stop_charging(SESSION, VID)
    assert info.value.retry_after == 60.0


@pytest.mark.parametrize("exc", [httpx.ConnectTimeout, httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout,
                                 httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError])
async def test_transport_failures_are_unreachable(exc: type[httpx.TransportError]) -> None:
    cloud = command_cloud(raising(exc))
    with pytest.raises(ve.Unreachable) as info:
        await build("smartcar", cloud).start_charging(SESSION, VID)
    assert TOKEN not in rendered(info.value)
    cloud = FakeCloud(PREFIX, {("POST", f"/v2.0/vehicles/{VID}/batch"): raising(exc)})
    with pytest.raises(ve.Unreachable):
        await build("smartcar", cloud).read_vehicle(SESSION, VID)


async def test_list_vehicles_timeout_is_unreachable() -> None:
    cloud = FakeCloud(PREFIX, {("GET", "/v2.0/vehicles"): raising(httpx.ReadTimeout)})
    with pytest.raises(ve.Unreachable):
        await build("smartcar", cloud).list_vehicles(SESSION)


async def test_error_messages_do_not_echo_the_token() -> None:
    echo = sc_error(401, None, "AUTHENTICATION", f"token {TOKEN} is revoked")
    cloud = command_cloud(echo)
    with pytest.raises(ve.AuthRevoked) as info:
        await build("smartcar", cloud).start_charging(SESSION, VID)
    assert TOKEN not in rendered(info.value)
    cloud = batch_cloud(battery=sub("/battery", sc_error_body(409, "ASLEEP", "VEHICLE_STATE", f"asleep {TOKEN}"),
                                    code=409, headers={}))
    with pytest.raises(ve.Asleep) as info2:
        await build("smartcar", cloud).read_vehicle(SESSION, VID)
    assert TOKEN not in rendered(info2.value)
