"""OCPP pure parts: meter values, frames, status mapping, passwords, credentials."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from adapters import errors as ve
from adapters.ocpp import mapping
from adapters.ocpp.adapter import check_credentials
from adapters.ocpp.hub import StationState
from adapters.types import PowerState
from app.ocpp import connectors, messages, passwords

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def sv(value: object, measurand: str | None = None, unit: str | None = None, phase: str | None = None) -> dict:
    out: dict = {"value": value}
    if measurand:
        out["measurand"] = measurand
    if unit:
        out["unit"] = unit
    if phase:
        out["phase"] = phase
    return out


def test_meter_reading_units_phases_and_defaults() -> None:
    reading = messages.meter_reading([{"timestamp": "2026-11-30T11:59:00Z", "sampled_value": [
        sv("3.68", "Power.Active.Import", "kW", "L1"), sv("3680", "Power.Active.Import", "W", "L2"),
        sv("12.5", "Energy.Active.Import.Register", "kWh"), sv("55.5", "SoC", "Percent"),
    ]}])
    assert reading.power_w == pytest.approx(7360)
    assert reading.energy_wh == pytest.approx(12500)
    assert reading.soc == pytest.approx(55.5)
    assert reading.at == datetime(2026, 11, 30, 11, 59, tzinfo=UTC)
    # no measurand: the energy register, in Wh
    assert messages.meter_reading([{"timestamp": "x", "sampled_value": [sv("1000")]}]).energy_wh == 1000
    # a total wins over phases; junk values are skipped; SoC outside 0-100 ignored
    r = messages.meter_reading([{"sampled_value": [sv("100", "Power.Active.Import", "W", "L1"),
                                                   sv("11000", "Power.Active.Import", "W"),
                                                   sv("nan", "Power.Active.Import"), sv("150", "SoC")]}])
    assert r.power_w == 11000 and r.soc is None


def test_meter_reading_newest_entry_wins() -> None:
    r = messages.meter_reading([
        {"timestamp": "2026-11-30T11:00:00Z", "sampled_value": [sv("5000", "Power.Active.Import", "W")]},
        {"timestamp": "2026-11-30T10:00:00Z", "sampled_value": [sv("9000", "Power.Active.Import", "W")]},
    ])
    assert r.power_w == 5000


@pytest.mark.parametrize("frame, code", [
    ("not json", "FormationViolation"),
    ("[" * 5000, "FormationViolation"),
    (json.dumps({"a": 1}), "FormationViolation"),
    (json.dumps([2, "id-1", "Heartbeat"]), "FormationViolation"),
    (json.dumps([2, "x" * 40, "Heartbeat", {}]), "FormationViolation"),
    (json.dumps([9, "id", "Heartbeat", {}]), "FormationViolation"),
    ("[2, \"id\", \"DataTransfer\", {\"data\": \"" + "x" * 70000 + "\"}]", "ProtocolError"),
])
def test_frame_problems(frame: str, code: str) -> None:
    problem = messages.frame_problem(frame)
    assert problem is not None and problem[1] == code


def test_good_frames_pass() -> None:
    assert messages.frame_problem(json.dumps([2, "abc", "Heartbeat", {}])) is None
    assert messages.frame_problem(json.dumps([3, "abc", {"currentTime": "x"}])) is None


def state(**kw: object) -> StationState:
    base: dict = dict(charge_point_id="CP", connected=True, last_message_at=NOW, heartbeat_s=60,
                      status="Available", status_at=NOW)
    base.update(kw)
    return StationState(**base)


@pytest.mark.parametrize("status, plugged, charging, power", [
    ("Available", False, False, PowerState.UNPLUGGED),
    ("Preparing", True, False, PowerState.PLUGGED_IN_INITIALIZING),
    ("Charging", True, True, PowerState.PLUGGED_IN_CHARGING),
    ("SuspendedEV", True, False, PowerState.PLUGGED_IN_STOPPED),
    ("SuspendedEVSE", True, False, PowerState.PLUGGED_IN_STOPPED),
    ("Finishing", True, False, PowerState.PLUGGED_IN_STOPPED),
    ("Faulted", None, None, PowerState.PLUGGED_IN_FAULT),
    ("Unavailable", None, None, PowerState.UNKNOWN),
])
def test_status_mapping(status: str, plugged: bool | None, charging: bool | None, power: PowerState) -> None:
    snap = mapping.snapshot(state(status=status), NOW)
    assert (snap.is_plugged_in, snap.is_charging, snap.power_state) == (plugged, charging, power)
    assert snap.is_online


def test_offline_after_missed_heartbeats_and_when_disconnected() -> None:
    late = NOW - timedelta(seconds=2 * 60 + mapping.SLACK_S + 1)
    assert not mapping.snapshot(state(last_message_at=late, status="Charging"), NOW).is_online
    assert mapping.snapshot(state(last_message_at=late, status="Charging"), NOW).is_plugged_in is None
    assert not mapping.snapshot(state(connected=False), NOW).is_online


def test_energy_rate_and_limit() -> None:
    snap = mapping.snapshot(state(status="Charging", power_w=7400, energy_wh=15_000, tx_meter_start_wh=10_000,
                                  limit_a=16, reported_limit_a=None), NOW)
    assert snap.charge_rate_kw == pytest.approx(7.4)
    assert snap.session_energy_kwh == pytest.approx(5.0)
    assert snap.max_current == 16
    reported = mapping.snapshot(state(limit_a=16, reported_limit_a=10), NOW)
    assert reported.max_current == 10
    # not delivering: no rate, whatever the last meter value said
    assert mapping.snapshot(state(status="SuspendedEVSE", power_w=7400), NOW).charge_rate_kw == 0.0


def test_the_session_idtag_is_the_cards_not_tandems_own_remote_start() -> None:
    by_card = mapping.snapshot(state(status="Charging", transaction_id=7, tx_id_tag="04A1B2C3"), NOW)
    assert by_card.id_tag == "04A1B2C3"
    # Tandem started it remotely with that tag (a card from an earlier session, or its own): no evidence
    remote = state(status="Charging", transaction_id=7, tx_id_tag="04A1B2C3", remote_id_tag="04A1B2C3")
    assert mapping.snapshot(remote, NOW).id_tag is None
    assert mapping.snapshot(state(status="Preparing", tx_id_tag="04A1B2C3"), NOW).id_tag is None  # no transaction


def test_the_session_energy_adds_the_plug_sessions_earlier_transactions() -> None:
    between = state(status="Finishing", energy_wh=1_000, tx_meter_start_wh=0, session_prior_wh=2_500)
    assert mapping.snapshot(between, NOW).session_energy_kwh == pytest.approx(3.5)
    # a new plug session before its first transaction: nothing delivered yet (a swap between polls shows)
    assert mapping.snapshot(state(status="Preparing"), NOW).session_energy_kwh == 0.0
    assert mapping.snapshot(state(status="Available"), NOW).session_energy_kwh is None
    assert mapping.snapshot(state(status="Unavailable"), NOW).session_energy_kwh is None
    went_back = state(status="Charging", energy_wh=900, tx_meter_start_wh=1_000, session_prior_wh=2_000)
    assert mapping.snapshot(went_back, NOW).session_energy_kwh == pytest.approx(2.0)


def test_units() -> None:
    assert mapping.amps_to_rate(16, "W") == pytest.approx(11040)
    assert mapping.amps_to_rate(16, "A") == 16
    assert mapping.rate_to_amps(11040, "W") == pytest.approx(16)


def test_clamp_vendor_time_to_receipt() -> None:
    ahead = NOW + timedelta(hours=1)
    assert messages.clamp(ahead, NOW) == NOW
    behind = NOW - timedelta(minutes=5)
    assert messages.clamp(behind, NOW) == behind
    assert messages.clamp(None, NOW) == NOW
    assert messages.clamp(datetime(2026, 11, 30, 11, 0), NOW) == datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


def test_passwords_hashed_and_checked() -> None:
    stored = passwords.hash_password("correct horse")
    assert "correct horse" not in stored and stored.startswith("scrypt$")
    assert passwords.verify("correct horse", stored)
    assert not passwords.verify("correct horsf", stored)
    assert not passwords.verify("anything", None)
    assert not passwords.verify("anything", "garbage")


@pytest.mark.parametrize("creds", [
    {}, {"chargePointId": "CP1"}, {"chargePointId": "", "password": "longenough"},
    {"chargePointId": "CP/1", "password": "longenough"}, {"chargePointId": "CP1", "password": "short"},
    {"chargePointId": "CP1", "password": "longenough", "extra": 1}, {"chargePointId": 5, "password": "longenough"},
    {"chargePointId": "x" * 49, "password": "longenough"},
])
def test_bad_credentials(creds: dict) -> None:
    with pytest.raises(ve.BadCredentials):
        check_credentials(creds)


def test_good_credentials() -> None:
    assert check_credentials({"chargePointId": "EVB-P1234:5", "password": "s3cret-pass"}) == ("EVB-P1234:5",
                                                                                               "s3cret-pass")


class _Station:
    """The central system as the adapter sees it: one charge point that refuses remote starts for
    tags it does not know, and every note and call in order."""

    def __init__(self, st: StationState, accepts: set[str]) -> None:
        self.st, self.accepts, self.log = st, accepts, []  # type: ignore[var-annotated]

    async def state(self, charge_point_id: str) -> StationState:
        return self.st

    async def call(self, charge_point_id: str, action: str, payload: dict) -> dict:
        self.log.append((action, payload.get("idTag")))
        return {"status": "Accepted" if payload.get("idTag") in self.accepts else "Rejected"}

    async def note(self, charge_point_id: str, **changes: object) -> None:
        self.log.append(("note", changes.get("remote_id_tag")))


async def test_a_remote_start_notes_its_idtag_before_sending_it() -> None:
    """Tandem's remote start names no car: the tag is noted before the Call (its StartTransaction
    may arrive before the answer), for the card the charger last presented, then Tandem's own."""
    from adapters.ocpp.adapter import OcppAdapter
    from adapters.types import Session

    hub = _Station(state(status="Preparing", last_id_tag="04OLDCARD"), accepts={"TANDEM"})
    await OcppAdapter(hub=hub, id_tag="TANDEM").start_charging(Session("ocpp", "CP"), "CP")
    assert hub.log == [("note", "04OLDCARD"), ("RemoteStartTransaction", "04OLDCARD"),
                       ("note", "TANDEM"), ("RemoteStartTransaction", "TANDEM"), ("note", None)]


# -- connectors: only connector 1's messages move what Tandem tracks -------------------------------

def reading(power: float | None = 7400.0, energy: float | None = 12_000.0, soc: float | None = 55.0,
            at: datetime | None = NOW - timedelta(seconds=5)) -> messages.MeterReading:
    return messages.MeterReading(at=at, power_w=power, energy_wh=energy, soc=soc)


@pytest.mark.parametrize("connector, status, applies", [
    (1, "Charging", True), (1, "Available", True), (0, "Unavailable", True), (0, "Faulted", True),
    (0, "Available", False), (0, "Charging", False), (2, "Charging", False), (2, "Faulted", False),
    (2, "Available", False),
])
def test_only_connector_1s_status_applies(connector: int, status: str, applies: bool) -> None:
    assert connectors.status_applies(connector, status) is applies


def test_a_start_on_connector_1_is_the_chargers_transaction() -> None:
    changes = connectors.start_changes(1, 17, "04A1B2C3", 1000.0, NOW)
    assert changes["transaction_id"] == 17 and changes["tx_id_tag"] == "04A1B2C3"
    assert changes["last_id_tag"] == "04A1B2C3" and changes["tx_meter_start_wh"] == 1000.0
    assert changes["energy_wh"] == 1000.0 and changes["paused"] is False


@pytest.mark.parametrize("connector", [0, 2, 3])
def test_a_start_on_another_connector_changes_nothing_tracked(connector: int) -> None:
    assert connectors.start_changes(connector, 18, "04A1B2C3", 1000.0, NOW) == {}


def test_connector_1s_meter_values() -> None:
    changes = connectors.meter_changes(1, reading(), NOW, None, 7, 10_000.0)
    assert changes == dict(meter_at=NOW - timedelta(seconds=5), power_w=7400.0, energy_wh=12_000.0, soc=55.0)
    # a reading stamped in the future is clamped to receipt; absent values are not written
    ahead = connectors.meter_changes(1, reading(soc=None, at=NOW + timedelta(hours=1)), NOW, None, 7, 10_000.0)
    assert ahead["meter_at"] == NOW and "soc" not in ahead


@pytest.mark.parametrize("connector", [0, 2])
def test_the_main_meter_and_other_connectors_meter_values_change_nothing(connector: int) -> None:
    assert connectors.meter_changes(connector, reading(), NOW, None, 7, 10_000.0) == {}
    assert connectors.meter_changes(connector, reading(), NOW, 41, None, None) == {}  # nor adopt its transaction


def test_a_lost_transaction_is_adopted_from_connector_1s_meter_values_only() -> None:
    adopted = connectors.meter_changes(1, reading(), NOW, 40, None, None)
    assert adopted["transaction_id"] == 40 and adopted["tx_meter_start_wh"] == 12_000.0
    kept_start = connectors.meter_changes(1, reading(), NOW, 40, None, 9_000.0)
    assert kept_start["transaction_id"] == 40 and "tx_meter_start_wh" not in kept_start
    assert "transaction_id" not in connectors.meter_changes(1, reading(), NOW, 40, 39, 9_000.0)  # one is tracked
    assert "transaction_id" not in connectors.meter_changes(1, reading(), NOW, None, None, None)
    assert "transaction_id" not in connectors.meter_changes(1, reading(), NOW, True, None, None)
    assert adopted["last_tx_id"] == 40  # a StopTransaction after a Finishing still finds it


def test_the_ended_transactions_late_reading_counts_but_is_not_adopted_again() -> None:
    """A Finishing status cleared transaction 40; its last MeterValues come after: the register
    reading is the best known of what it delivered, but it is not a running transaction."""
    late = connectors.meter_changes(1, reading(), NOW, 40, None, 9_000.0, last_tx=40)
    assert late["energy_wh"] == 12_000.0 and "transaction_id" not in late
    other = connectors.meter_changes(1, reading(), NOW, 41, None, 9_000.0, last_tx=40)
    assert other["transaction_id"] == 41 and other["last_tx_id"] == 41


def test_no_register_is_taken_between_transactions() -> None:
    """None tracked, none named: a register that restarts with each transaction may read 0 by now;
    power and SoC still count."""
    between = connectors.meter_changes(1, reading(power=0.0, energy=0.0), NOW, None, None, 9_000.0, last_tx=40)
    assert "energy_wh" not in between and between["power_w"] == 0.0 and between["soc"] == 55.0
    assert connectors.meter_changes(1, reading(), NOW, None, 40, 9_000.0, last_tx=40)["energy_wh"] == 12_000.0


def test_a_stop_applies_to_connector_1s_tracked_transaction_only() -> None:
    assert connectors.stop_applies(7, 7)
    assert not connectors.stop_applies(7, 8)  # another connector's
    assert not connectors.stop_applies(None, 8)  # unknown: maybe another connector's
    assert connectors.stop_applies(None, 7, last_tx=7)  # a Finishing came first and cleared it
    assert not connectors.stop_applies(8, 7, last_tx=8)  # an earlier one's, after the next started
    assert not connectors.stop_applies(None, 7, last_tx=None)


def test_statuses_end_transactions_and_the_unplug_ends_the_plug_session() -> None:
    finishing = connectors.status_changes("Finishing")
    assert finishing["transaction_id"] is None
    assert not {"last_tx_id", "tx_meter_start_wh", "session_prior_wh"} & set(finishing)  # the plug session goes on
    assert connectors.status_changes("Charging") == {}
    unplugged = connectors.status_changes("Available")
    assert unplugged["transaction_id"] is None and unplugged["last_tx_id"] is None
    assert unplugged["tx_meter_start_wh"] is None and unplugged["session_prior_wh"] == 0.0


@pytest.mark.parametrize("prior, last_start, last_energy, new_start, folded", [
    (0.0, None, None, 5_000.0, 0.0),  # the plug session's first transaction
    (0.0, None, 4_000.0, 5_000.0, 0.0),  # none since the unplug: the old register says nothing
    (0.0, 10_000.0, 11_000.0, 11_000.0, 1_000.0),  # a register that counts on
    (500.0, 10_000.0, 11_000.0, 11_000.0, 1_500.0),  # a third transaction
    (0.0, 10_000.0, 10_800.0, 11_000.0, 1_000.0),  # its last readings were lost: the new start tells
    (0.0, 0.0, 1_000.0, 0.0, 1_000.0),  # a register that restarts at 0 with every transaction
    (700.0, 0.0, 1_000.0, 0.0, 1_700.0),
    (0.0, 10_000.0, 9_000.0, 0.0, 0.0),  # a register that went back: never negative
    (0.0, 10_000.0, None, 2_000.0, 0.0),
])
def test_a_new_transaction_folds_what_the_previous_delivered(prior: float, last_start: float | None,
                                                            last_energy: float | None, new_start: float,
                                                            folded: float) -> None:
    assert connectors.folded_prior(prior, last_start, last_energy, new_start) == pytest.approx(folded)
    changes = connectors.start_changes(1, 9, "04A1B2C3", new_start, NOW, prior, last_start, last_energy)
    assert changes["session_prior_wh"] == pytest.approx(folded) and changes["last_tx_id"] == 9


class _Plug:
    """Connector 1's station row as the central system writes it, from the pure rules alone."""

    def __init__(self) -> None:
        self.row: dict = dict(status="Available", transaction_id=None, last_tx_id=None, tx_meter_start_wh=None,
                              energy_wh=None, session_prior_wh=0.0)

    def status(self, status: str) -> None:
        self.row.update(status=status, **connectors.status_changes(status))

    def start(self, tx: int, meter_start: float) -> None:
        r = self.row
        self.row.update(connectors.start_changes(1, tx, "04A1B2C3", meter_start, NOW, r["session_prior_wh"],
                                                 r["tx_meter_start_wh"], r["energy_wh"]))

    def meter(self, wh: float, tx: int | None) -> None:
        r = self.row
        self.row.update(connectors.meter_changes(1, reading(energy=wh), NOW, tx, r["transaction_id"],
                                                 r["tx_meter_start_wh"], r["last_tx_id"]))

    def stop(self, tx: int, meter_stop: float) -> None:
        if connectors.stop_applies(self.row["transaction_id"], tx, self.row["last_tx_id"]):
            self.row.update(transaction_id=None, energy_wh=meter_stop)

    def kwh(self) -> float | None:
        known = set(StationState.__dataclass_fields__)
        return mapping.snapshot(state(**{k: v for k, v in self.row.items() if k in known}), NOW).session_energy_kwh


@pytest.mark.parametrize("per_transaction", [False, True])
@pytest.mark.parametrize("finishing_first", [False, True])
def test_a_plug_sessions_energy_spans_its_transactions(per_transaction: bool, finishing_first: bool) -> None:
    """Stop and start again within one plug-in (a remote stop and start, or a stop at the charger):
    the session's energy keeps counting, whichever register and whichever order of the Finishing
    status and the StopTransaction; the unplug starts afresh."""
    base = 0.0 if per_transaction else 20_000.0
    plug = _Plug()
    plug.status("Preparing")
    assert plug.kwh() == 0.0
    plug.start(1, base)
    plug.status("Charging")
    plug.meter(base + 900, 1)
    if finishing_first:
        plug.status("Finishing")
        plug.meter(base + 980, 1)  # the ended transaction's last reading, after its end
        plug.stop(1, base + 1_000)
    else:
        plug.stop(1, base + 1_000)
        plug.status("Finishing")
    assert plug.kwh() == pytest.approx(1.0)
    plug.meter(0.0, None)  # between transactions: a per-transaction register may read 0
    assert plug.kwh() == pytest.approx(1.0)
    second = 0.0 if per_transaction else base + 1_000
    plug.start(2, second)
    assert plug.kwh() == pytest.approx(1.0)
    plug.status("Charging")
    plug.meter(second + 500, 2)
    assert plug.kwh() == pytest.approx(1.5)
    plug.status("Available")
    assert plug.kwh() is None
    plug.status("Preparing")
    assert plug.kwh() == 0.0  # a poll that missed the Available still sees the drop
    plug.start(3, 0.0 if per_transaction else base + 1_500)  # another car: from 0
    plug.meter((0.0 if per_transaction else base + 1_500) + 200, 3)
    assert plug.kwh() == pytest.approx(0.2)


def test_call_errors_are_told_apart_by_whether_a_retry_can_help() -> None:
    """OCPP-J CallError codes: the charge point's internal or generic trouble is retried; not
    implemented / not supported is not capable; a request it found malformed or not allowed is
    refused. The detail names the action, the code and the charge point's description."""
    from ocpp import exceptions as oe

    from adapters import errors as ve
    from app.ocpp.central import call_error

    retried = [oe.InternalError("busy writing flash"), oe.GenericError()]
    for exc in retried:
        err = call_error("SetChargingProfile", exc)
        assert type(err) is ve.VendorError and err.retryable, exc
    assert "InternalError (busy writing flash)" in str(call_error("SetChargingProfile", retried[0]))
    for exc in (oe.NotImplementedError(), oe.NotSupportedError()):
        err = call_error("SetChargingProfile", exc)
        assert isinstance(err, ve.NotCapable) and not err.retryable
    for exc in (oe.ProtocolError(), oe.SecurityError(), oe.FormationViolationError(),
                oe.PropertyConstraintViolationError(), oe.TypeConstraintViolationError(),
                oe.OccurrenceConstraintViolationError()):
        assert isinstance(call_error("RemoteStartTransaction", exc), ve.PreconditionFailed), exc


async def test_failed_handshakes_lock_out_the_failing_address_not_the_charger() -> None:
    """Failures with a charger's id from one address lock out that id from that address only (the
    charger elsewhere still gets in); an address is limited across ids, and one id across
    addresses, at ten times the rate; a refused attempt is told when to come back."""
    from app.ocpp.handshake import ADDRESS_FACTOR, ID_FACTOR, HandshakeLimiter

    limiter = HandshakeLimiter(3)
    for _ in range(3):
        assert await limiter.allowed("CP1", "198.51.100.7")
        await limiter.failed("CP1", "198.51.100.7")
    assert not await limiter.allowed("CP1", "198.51.100.7")
    assert 1 <= await limiter.retry_after_s("CP1", "198.51.100.7") <= 60
    assert await limiter.allowed("CP1", "203.0.113.9")  # the charger itself, at home
    assert await limiter.allowed("CP2", "198.51.100.7")
    # one address guessing many ids
    for i in range(3 * ADDRESS_FACTOR):
        await limiter.failed(f"GUESS{i}", "192.0.2.1")
    assert not await limiter.allowed("CP9", "192.0.2.1")
    # one id guessed from many addresses
    for i in range(3 * ID_FACTOR):
        await limiter.failed("CP5", f"10.0.{i // 250}.{i % 250}")
    assert not await limiter.allowed("CP5", "203.0.113.50")
    assert await HandshakeLimiter(0).allowed("CP1", "198.51.100.7")  # 0: no limit


def test_a_transaction_started_with_another_card_begins_the_session_energy_again() -> None:
    """The plug session's last transaction delivered 4 kWh with CARD-X; one started with CARD-Y (a
    car maybe swapped while Tandem could not see the cable) is not folded into it: the session's
    energy counts from 0 again, so the poll sees a new plug session. The same card, or Tandem's
    own remote start (same_card True), is folded as before."""
    other = connectors.start_changes(1, 9, "CARD-Y", 14_000.0, NOW, 0.0, 10_000.0, 14_000.0, same_card=False)
    assert other["session_prior_wh"] == 0.0 and other["tx_meter_start_wh"] == 14_000.0
    same = connectors.start_changes(1, 9, "CARD-X", 14_000.0, NOW, 0.0, 10_000.0, 14_000.0, same_card=True)
    assert same["session_prior_wh"] == 4_000.0
