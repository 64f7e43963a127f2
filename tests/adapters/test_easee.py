"""EaseeAdapter against a mocked Easee-shaped charger cloud (docs/vendor-api.md, Easee REST API)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adapters import errors as ve
from adapters.capabilities import (
    ChargeController,
    ChargerSource,
    CurrentLimiter,
    ScheduleOverrider,
    VehicleSource,
    Waker,
    capability,
)
from adapters.easee import EaseeAdapter
from adapters.types import Cap, ChargerInfo, PowerState, Session
from tests.adapters.helpers import HOST, FakeClock, FakeCloud, build, ok, raising, raw, rendered

PREFIX = "/easee"
TOKEN = "ee-access-5d0c-secret"
SESSION = Session(vendor="easee", access_token=TOKEN)
CID = "EH123456"
PULSE = "2025-03-04T05:06:07Z"


def ee_error(status: int, name: str | None = None, title: str = "",
             headers: dict[str, str] | None = None) -> httpx.Response:
    """An Easee error answer."""
    names = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "ChargerNotFound",
             429: "TooManyRequests", 500: "InternalError"}
    name = name or names.get(status, "Error")
    return ok({"errorCode": status * 10, "errorCodeName": name, "title": title or name, "status": status},
              status, headers)


def state(**overrides: Any) -> dict[str, Any]:
    """A /state body of a charging charger, with overrides (None values are kept as null)."""
    body: dict[str, Any] = {"chargerOpMode": 3, "isOnline": True, "totalPower": 7.36, "sessionEnergy": 3.25,
                            "lifetimeEnergy": 1234.5, "dynamicChargerCurrent": 16.0, "outputCurrent": 10.7,
                            "cableLocked": True, "latestPulse": PULSE, "reasonForNoCurrent": None, "voltage": 230}
    body.update(overrides)
    return body


def state_cloud(answer: Any) -> FakeCloud:
    return FakeCloud(PREFIX, {("GET", f"/api/chargers/{CID}/state"): answer})


def command_cloud(answer: Any) -> FakeCloud:
    base = f"/api/chargers/{CID}"
    routes = {("POST", f"{base}/commands/{c}"): answer
              for c in ("start_charging", "pause_charging", "override_schedule")}
    routes[("POST", f"{base}/settings")] = answer
    return FakeCloud(PREFIX, routes)


def accepted() -> httpx.Response:
    return ok({"commandId": 4711, "device": CID, "ticks": 638000000000000000}, 202)


def assert_authorized(cloud: FakeCloud) -> None:
    assert cloud.requests, "no request was sent"
    for r in cloud.requests:
        assert r.headers.get("authorization") == f"Bearer {TOKEN}", r.url


COMMANDS = [
    ("start_charging", ()),
    ("stop_charging", ()),
    ("override_schedule", ()),
    ("set_max_current", (16.0,)),
]


# ---------------------------------------------------------------------------------------------
# Construction


def test_adapter_implements_the_charger_protocols_only() -> None:
    adapter = EaseeAdapter(HOST + PREFIX, transport=httpx.MockTransport(lambda r: ok({})))
    assert isinstance(adapter, ChargerSource)
    assert not isinstance(adapter, VehicleSource)
    for proto in (ChargeController, CurrentLimiter, ScheduleOverrider):
        assert capability(adapter, None, proto) is adapter
    assert capability(adapter, None, Waker) is None


# ---------------------------------------------------------------------------------------------
# Login


async def test_login_posts_credentials_and_returns_session() -> None:
    cloud = FakeCloud(PREFIX, {("POST", "/api/accounts/login"): ok(
        {"accessToken": "tok-xyz", "expiresIn": 86400, "tokenType": "Bearer", "refreshToken": "zyx-kot"})})
    session = await build("easee", cloud).login({"username": "bo@example.com", "password": "pw-2"})
    assert session == Session(vendor="easee", access_token="tok-xyz")
    assert cloud.calls == [("POST", "/api/accounts/login")]
    assert cloud.body() == {"userName": "bo@example.com", "password": "pw-2"}
    assert "authorization" not in cloud.requests[0].headers


async def test_login_bad_credentials_is_bad_credentials_without_secrets() -> None:
    password = "correct-horse-battery"
    cloud = FakeCloud(PREFIX, {("POST", "/api/accounts/login"): ok(
        {"errorCode": 100, "errorCodeName": "InvalidUserPassword", "title": f"Unauthorized {password}",
         "status": 401}, 401)})
    with pytest.raises(ve.BadCredentials) as info:
        await build("easee", cloud).login({"username": "bo@example.com", "password": password})
    assert info.value.retryable is False
    shown = rendered(info.value)
    assert password not in shown
    assert "bo@example.com" not in shown


@pytest.mark.parametrize("credentials", [{}, {"username": "u"}, {"username": "u", "password": 1234},
                                         {"userName": "u", "password": "p"}])
async def test_login_rejects_malformed_credentials_without_calling_vendor(credentials: dict[str, object]) -> None:
    cloud = FakeCloud(PREFIX)
    with pytest.raises(ve.BadCredentials):
        await build("easee", cloud).login(credentials)
    assert cloud.requests == []


@pytest.mark.parametrize("answer", [
    ok({"expiresIn": 86400, "tokenType": "Bearer"}),
    ok({"accessToken": ["tok"]}),
    ok("tok"),
    raw("<html>login</html>"),
    raw(b"\xff\xfe", content_type="application/json"),
], ids=["missing", "list", "string-body", "html", "binary"])
async def test_login_malformed_answer_is_bad_response(answer: httpx.Response) -> None:
    cloud = FakeCloud(PREFIX, {("POST", "/api/accounts/login"): answer})
    with pytest.raises(ve.BadResponse):
        await build("easee", cloud).login({"username": "u", "password": "p"})


@pytest.mark.parametrize("exc", [httpx.ConnectTimeout, httpx.ReadTimeout, httpx.ConnectError])
async def test_login_transport_failure_is_unreachable(exc: type[httpx.TransportError]) -> None:
    cloud = FakeCloud(PREFIX, {("POST", "/api/accounts/login"): raising(exc)})
    with pytest.raises(ve.Unreachable) as info:
        await build("easee", cloud).login({"username": "u", "password": "pw-secret-9"})
    assert "pw-secret-9" not in rendered(info.value)


# ---------------------------------------------------------------------------------------------
# Discovery


def charger_routes(cid: str, details: dict[str, Any] | None = None,
                   config: dict[str, Any] | None = None) -> dict[tuple[str, str], Any]:
    return {
        ("GET", f"/api/chargers/{cid}/details"): ok(details if details is not None else
                                                    {"serialNumber": cid, "product": "Easee Home",
                                                     "manufacturer": "Easee"}),
        ("GET", f"/api/chargers/{cid}/config"): ok(config if config is not None else
                                                   {"maxChargerCurrent": 32, "isEnabled": True, "phaseMode": 2,
                                                    "authorizationRequired": False}),
    }


def listing(*cids: str) -> httpx.Response:
    return ok([{"id": c, "name": f"Garage {c}", "productCode": 1, "createdOn": "2024-01-01T00:00:00Z"}
               for c in cids])


async def test_list_chargers_reads_details_and_config() -> None:
    cloud = FakeCloud(PREFIX, {("GET", "/api/chargers"): listing("EH000001", "EH000002")})
    cloud.routes.update(charger_routes("EH000001", config={"maxChargerCurrent": 16, "isEnabled": True}))
    # Sparse details: serial and manufacturer fall back, current unknown.
    cloud.routes.update(charger_routes("EH000002", details={"product": "Easee Charge"}, config={"isEnabled": True}))
    adapter = build("easee", cloud)

    first, second = await adapter.list_chargers(SESSION)

    assert first == ChargerInfo(vendor_id="EH000001", serial_number="EH000001", brand="Easee", model="Easee Home",
                                max_current=16.0, capabilities=first.capabilities)
    assert isinstance(first.max_current, float)
    assert second == ChargerInfo(vendor_id="EH000002", serial_number="EH000002", brand="Easee",
                                 model="Easee Charge", max_current=None, capabilities=second.capabilities)
    for info in (first, second):
        assert {Cap.INFORMATION, Cap.CHARGE_STATE, Cap.START_CHARGING, Cap.STOP_CHARGING, Cap.SET_MAX_CURRENT,
                Cap.OVERRIDE_SCHEDULE} <= info.capabilities
        assert Cap.LOCATION not in info.capabilities and Cap.WAKE_UP not in info.capabilities
        assert capability(adapter, info, ChargeController) is adapter
        assert capability(adapter, info, CurrentLimiter) is adapter
        assert capability(adapter, info, ScheduleOverrider) is adapter

    assert cloud.calls == [("GET", "/api/chargers"),
                           ("GET", "/api/chargers/EH000001/details"), ("GET", "/api/chargers/EH000001/config"),
                           ("GET", "/api/chargers/EH000002/details"), ("GET", "/api/chargers/EH000002/config")]
    assert_authorized(cloud)


async def test_list_chargers_keeps_vendor_serial_and_manufacturer() -> None:
    cloud = FakeCloud(PREFIX, {("GET", "/api/chargers"): listing(CID)})
    cloud.routes.update(charger_routes(CID, details={"serialNumber": "SN-999", "product": "One",
                                                     "manufacturer": "Easee AS"}))
    (info,) = await build("easee", cloud).list_chargers(SESSION)
    assert (info.serial_number, info.brand, info.model, info.max_current) == ("SN-999", "Easee AS", "One", 32.0)


async def test_list_chargers_empty_account() -> None:
    cloud = FakeCloud(PREFIX, {("GET", "/api/chargers"): ok([])})
    assert await build("easee", cloud).list_chargers(SESSION) == []


@pytest.mark.parametrize(("route", "answer"), [
    ("/api/chargers", ok({"chargers": []})),
    ("/api/chargers", ok([{"name": "no id"}])),
    ("/api/chargers", ok([{"id": 42}])),
    ("/api/chargers", ok([CID])),
    ("/api/chargers", raw("<html/>")),
    (f"/api/chargers/{CID}/details", ok(["EH"])),
    (f"/api/chargers/{CID}/details", ok({"serialNumber": 1234})),
    (f"/api/chargers/{CID}/details", ok({"product": {"name": "Home"}})),
    (f"/api/chargers/{CID}/config", ok({"maxChargerCurrent": "32"})),
    (f"/api/chargers/{CID}/config", ok({"maxChargerCurrent": True})),
    (f"/api/chargers/{CID}/config", raw("{", content_type="application/json")),
])
async def test_list_chargers_malformed_answer_is_bad_response(route: str, answer: httpx.Response) -> None:
    cloud = FakeCloud(PREFIX, {("GET", "/api/chargers"): listing(CID)})
    cloud.routes.update(charger_routes(CID))
    cloud.routes[("GET", route)] = answer
    with pytest.raises(ve.BadResponse):
        await build("easee", cloud).list_chargers(SESSION)


async def test_list_chargers_revoked_token_is_auth_revoked() -> None:
    cloud = FakeCloud(PREFIX, {("GET", "/api/chargers"): ee_error(401)})
    with pytest.raises(ve.AuthRevoked):
        await build("easee", cloud).list_chargers(SESSION)


# ---------------------------------------------------------------------------------------------
# Reading state


async def test_read_charger_charging_snapshot() -> None:
    cloud = state_cloud(ok(state()))
    snap = await build("easee", cloud).read_charger(SESSION, CID)
    assert cloud.calls == [("GET", f"/api/chargers/{CID}/state")]
    assert_authorized(cloud)
    assert snap.is_online is True
    assert snap.is_plugged_in is True
    assert snap.is_charging is True
    assert snap.power_state is PowerState.PLUGGED_IN_CHARGING
    assert snap.charge_rate_kw == pytest.approx(7.36)
    assert snap.max_current == pytest.approx(16.0)
    assert snap.session_energy_kwh == pytest.approx(3.25)
    assert snap.schedule_blocking is False
    assert snap.data_age == datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.mark.parametrize(("mode", "reason", "power", "plugged", "charging"), [
    (1, None, PowerState.UNPLUGGED, False, False),
    (2, 2, PowerState.PLUGGED_IN_STOPPED, True, False),
    (3, None, PowerState.PLUGGED_IN_CHARGING, True, True),
    (4, 3, PowerState.PLUGGED_IN_STOPPED, True, False),
    (5, None, PowerState.PLUGGED_IN_FAULT, True, False),
    (6, 3, PowerState.PLUGGED_IN_STOPPED, True, False),
    (7, None, PowerState.PLUGGED_IN_INITIALIZING, True, False),
])
async def test_read_charger_op_modes(mode: int, reason: int | None, power: PowerState, plugged: bool,
                                     charging: bool) -> None:
    cloud = state_cloud(ok(state(chargerOpMode=mode, reasonForNoCurrent=reason, totalPower=7.0 if charging else 0.0)))
    snap = await build("easee", cloud).read_charger(SESSION, CID)
    assert snap.is_online is True
    assert (snap.power_state, snap.is_plugged_in, snap.is_charging) == (power, plugged, charging)
    assert snap.schedule_blocking is False


@pytest.mark.parametrize(("mode", "reason", "blocking"), [
    (2, 1, True),    # AwaitingStart, waiting in schedule
    (2, 4, True),    # AwaitingStart, charger disabled (mode)
    (2, 2, False),   # paused by user: not a schedule
    (2, None, False),
    (6, 1, False),   # only a car held waiting (AwaitingStart) counts
    (3, 1, False),
])
async def test_read_charger_schedule_or_mode_blocking(mode: int, reason: int | None, blocking: bool) -> None:
    cloud = state_cloud(ok(state(chargerOpMode=mode, reasonForNoCurrent=reason)))
    snap = await build("easee", cloud).read_charger(SESSION, CID)
    assert snap.schedule_blocking is blocking


@pytest.mark.parametrize("body", [
    state(chargerOpMode=0, isOnline=False, totalPower=0.0, sessionEnergy=None, reasonForNoCurrent=None),
    state(chargerOpMode=3, isOnline=False),
    state(chargerOpMode=0, isOnline=True),
], ids=["offline", "flag-offline", "mode-offline"])
async def test_read_charger_offline(body: dict[str, Any]) -> None:
    snap = await build("easee", state_cloud(ok(body))).read_charger(SESSION, CID)
    assert snap.is_online is False
    assert snap.is_plugged_in is None and snap.is_charging is None
    assert snap.power_state is PowerState.UNKNOWN
    assert snap.schedule_blocking is False


async def test_read_charger_optional_fields_missing() -> None:
    body = {"chargerOpMode": 1, "isOnline": True}
    snap = await build("easee", state_cloud(ok(body))).read_charger(SESSION, CID)
    assert snap.power_state is PowerState.UNPLUGGED
    assert (snap.charge_rate_kw, snap.max_current, snap.session_energy_kwh, snap.data_age) == (None, None, None, None)


@pytest.mark.parametrize("answer", [
    raw("<html>maintenance</html>"),
    raw('{"chargerOpMode": 3,', content_type="application/json"),
    ok([state()]),
    ok("charging"),
    ok(state(chargerOpMode=None)),
    ok({k: v for k, v in state().items() if k != "chargerOpMode"}),
    ok(state(chargerOpMode="3")),
    ok(state(chargerOpMode=3.0)),
    ok(state(chargerOpMode=42)),
    ok(state(chargerOpMode=-1)),
    ok({k: v for k, v in state().items() if k != "isOnline"}),
    ok(state(isOnline="true")),
    ok(state(isOnline=1)),
    ok(state(totalPower="7.4")),
    ok(state(totalPower=True)),
    ok(state(dynamicChargerCurrent="16")),
    ok(state(sessionEnergy=[1.0])),
    ok(state(reasonForNoCurrent="1")),
], ids=["html", "truncated", "list", "string", "mode-null", "mode-missing", "mode-str", "mode-float",
        "mode-unknown", "mode-negative", "online-missing", "online-str", "online-int", "power-str", "power-bool",
        "current-str", "energy-list", "reason-str"])
async def test_read_charger_malformed_answer_is_bad_response(answer: httpx.Response) -> None:
    with pytest.raises(ve.BadResponse):
        await build("easee", state_cloud(answer)).read_charger(SESSION, CID)


async def test_read_charger_bool_op_mode_is_bad_response() -> None:
    with pytest.raises(ve.BadResponse):
        await build("easee", state_cloud(ok(state(chargerOpMode=True)))).read_charger(SESSION, CID)


@pytest.mark.parametrize(("answer", "expected"), [
    (ee_error(401), ve.AuthRevoked),
    (ee_error(404), ve.NotFound),
    (ee_error(500), ve.Unreachable),
    (raw("Bad Gateway", status=502, content_type="text/plain"), ve.Unreachable),
    (raw("", status=503), ve.Unreachable),
])
async def test_read_charger_errors_are_typed(answer: httpx.Response, expected: type[ve.VendorError]) -> None:
    with pytest.raises(expected) as info:
        await build("easee", state_cloud(answer)).read_charger(SESSION, CID)
    assert type(info.value) is expected


# ---------------------------------------------------------------------------------------------
# Commands


@pytest.mark.parametrize(("method", "args", "path"), [
    ("start_charging", (), "/commands/start_charging"),
    ("stop_charging", (), "/commands/pause_charging"),
    ("override_schedule", (), "/commands/override_schedule"),
])
async def test_commands_post_to_the_easee_command(method: str, args: tuple[Any, ...], path: str) -> None:
    cloud = command_cloud(accepted())
    assert await getattr(build("easee", cloud), method)(SESSION, CID, *args) is None
    assert cloud.calls == [("POST", f"/api/chargers/{CID}{path}")]
    assert cloud.requests[0].content == b""
    assert_authorized(cloud)


@pytest.mark.parametrize("amps", [6, 13.5, 32.0])
async def test_set_max_current_posts_dynamic_charger_current(amps: float) -> None:
    cloud = command_cloud(ok({"commandId": 1}, 202))
    await build("easee", cloud).set_max_current(SESSION, CID, amps)
    assert cloud.calls == [("POST", f"/api/chargers/{CID}/settings")]
    assert cloud.body() == {"dynamicChargerCurrent": amps}
    assert_authorized(cloud)


class StatefulCharger:
    """A charger behind a schedule: start is accepted but holds; override lets it charge."""

    def __init__(self) -> None:
        self.schedule_active = True
        self.wants = False
        self.current = 32.0
        base = f"/api/chargers/{CID}"
        self.cloud = FakeCloud(PREFIX, {
            ("GET", f"{base}/state"): self.state,
            ("POST", f"{base}/commands/start_charging"): self.start,
            ("POST", f"{base}/commands/pause_charging"): self.pause,
            ("POST", f"{base}/commands/override_schedule"): self.override,
            ("POST", f"{base}/settings"): self.settings,
        })

    def state(self, request: httpx.Request) -> httpx.Response:
        if not self.wants:
            return ok(state(chargerOpMode=2, reasonForNoCurrent=2, totalPower=0.0, dynamicChargerCurrent=self.current))
        if self.schedule_active:
            return ok(state(chargerOpMode=2, reasonForNoCurrent=1, totalPower=0.0, dynamicChargerCurrent=self.current))
        return ok(state(chargerOpMode=3, totalPower=round(self.current * 230 * 3 / 1000, 2),
                        dynamicChargerCurrent=self.current))

    def start(self, request: httpx.Request) -> httpx.Response:
        self.wants = True
        return accepted()

    def pause(self, request: httpx.Request) -> httpx.Response:
        self.wants = False
        return accepted()

    def override(self, request: httpx.Request) -> httpx.Response:
        self.schedule_active = False
        return accepted()

    def settings(self, request: httpx.Request) -> httpx.Response:
        self.current = float(json.loads(request.content)["dynamicChargerCurrent"])
        return ok({"commandId": 2}, 202)


async def test_start_blocked_by_schedule_until_override() -> None:
    charger = StatefulCharger()
    adapter = build("easee", charger.cloud)

    before = await adapter.read_charger(SESSION, CID)
    assert before.power_state is PowerState.PLUGGED_IN_STOPPED and not before.schedule_blocking

    await adapter.start_charging(SESSION, CID)  # accepted (202) ...
    held = await adapter.read_charger(SESSION, CID)  # ... but the schedule holds the car
    assert held.is_charging is False
    assert held.schedule_blocking is True

    await adapter.override_schedule(SESSION, CID)
    charging = await adapter.read_charger(SESSION, CID)
    assert charging.is_charging is True and charging.schedule_blocking is False

    await adapter.set_max_current(SESSION, CID, 10)
    limited = await adapter.read_charger(SESSION, CID)
    assert limited.max_current == 10.0
    assert limited.charge_rate_kw == pytest.approx(6.9)

    await adapter.stop_charging(SESSION, CID)
    stopped = await adapter.read_charger(SESSION, CID)
    assert stopped.is_charging is False and stopped.power_state is PowerState.PLUGGED_IN_STOPPED
    assert [p.rsplit("/", 1)[-1] for m, p in charger.cloud.calls if m == "POST"] == [
        "start_charging", "override_schedule", "settings", "pause_charging"]


@pytest.mark.parametrize(("answer", "expected"), [
    (ee_error(400, "ChargerNotOnline", "charger is not online"), ve.Unreachable),
    (ee_error(401), ve.AuthRevoked),
    (raw("", status=401), ve.AuthRevoked),
    (ee_error(404), ve.NotFound),
    (ee_error(400, "BadRequest", "dynamicChargerCurrent must be 0-32"), ve.PreconditionFailed),
    (ee_error(500), ve.Unreachable),
    (raw("<html>Bad Gateway</html>", status=502), ve.Unreachable),
    (raw("upstream", status=504, content_type="text/plain"), ve.Unreachable),
], ids=["offline", "401", "401-empty", "404", "400", "500", "502-html", "504-text"])
@pytest.mark.parametrize(("method", "args"), COMMANDS, ids=[m for m, _ in COMMANDS])
async def test_command_errors_are_typed(method: str, args: tuple[Any, ...], answer: httpx.Response,
                                        expected: type[ve.VendorError]) -> None:
    cloud = command_cloud(answer)
    with pytest.raises(expected) as info:
        await getattr(build("easee", cloud), method)(SESSION, CID, *args)
    assert type(info.value) is expected
    assert len(cloud.requests) == 1


async def test_command_403_is_auth_revoked() -> None:
    cloud = command_cloud(ee_error(403, "Forbidden"))
    with pytest.raises(ve.AuthRevoked):
        await build("easee", cloud).start_charging(SESSION, CID)


async def test_rate_limit_holds_only_the_account_and_fails_fast_until_it_ends() -> None:
    """Easee does not say what a 429 limits: it holds the account (token) it was made for."""
    clock = FakeClock()
    answers = [ee_error(429, headers={"Retry-After": "25"})]
    cloud = FakeCloud(PREFIX, {("GET", f"/api/chargers/{CID}/state"): lambda _r: answers[-1]})
    adapter = build("easee", cloud, clock)
    with pytest.raises(ve.RateLimited) as info:
        await adapter.read_charger(SESSION, CID)
    assert (info.value.retry_after, info.value.scope) == (25.0, ve.ACCOUNT)
    with pytest.raises(ve.RateLimited) as again:  # held: refused at once, nothing sent
        await adapter.read_charger(SESSION, CID)
    assert again.value.retry_after == pytest.approx(25.0) and len(cloud.requests) == 1
    answers.append(ok(state()))
    other = Session(vendor="easee", access_token="another-account")
    assert (await adapter.read_charger(other, CID)).is_online is True  # another account is not held
    clock.now += 26
    assert (await adapter.read_charger(SESSION, CID)).is_online is True


@pytest.mark.parametrize(("headers", "expected"), [({}, 60.0), ({"retry-after": "later"}, 60.0),
                                                   ({"retry-after": "-5"}, 0.0), ({"retry-after": "1.5"}, 1.5)])
async def test_rate_limit_retry_after_parsing(headers: dict[str, str], expected: float) -> None:
    cloud = command_cloud(ee_error(429, headers=headers))
    with pytest.raises(ve.RateLimited) as info:
        await build("easee", cloud).start_charging(SESSION, CID)
    assert info.value.retry_after == expected


@pytest.mark.parametrize("exc", [httpx.ConnectTimeout, httpx.ReadTimeout, httpx.PoolTimeout, httpx.ConnectError,
                                 httpx.ReadError, httpx.RemoteProtocolError])
async def test_transport_failures_are_unreachable(exc: type[httpx.TransportError]) -> None:
    adapter = build("easee", state_cloud(raising(exc)))
    with pytest.raises(ve.Unreachable) as info:
        await adapter.read_charger(SESSION, CID)
    assert TOKEN not in rendered(info.value)
    for method, args in COMMANDS:
        with pytest.raises(ve.Unreachable):
            await getattr(build("easee", command_cloud(raising(exc))), method)(SESSION, CID, *args)


async def test_error_messages_do_not_echo_the_token() -> None:
    cloud = command_cloud(ee_error(401, "Unauthorized", f"token {TOKEN} revoked"))
    with pytest.raises(ve.AuthRevoked) as info:
        await build("easee", cloud).start_charging(SESSION, CID)
    assert TOKEN not in rendered(info.value)
    cloud = state_cloud(raw(f"<html>bad token {TOKEN}</html>"))
    with pytest.raises(ve.BadResponse) as info2:
        await build("easee", cloud).read_charger(SESSION, CID)
    assert TOKEN not in rendered(info2.value)
