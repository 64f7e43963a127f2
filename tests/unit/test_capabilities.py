"""Capability resolution (app.domain.capabilities): which asset carries out each vehicle capability."""

from __future__ import annotations

import pytest

from adapters.types import Cap
from app.domain import capabilities as caps
from app.domain.capabilities import ChargerFacts, Path, SystemFacts, VehicleFacts

CHARGEABLE = (Cap.START_CHARGING, Cap.STOP_CHARGING, Cap.SET_MAX_CURRENT)
FULL_CHARGER = frozenset({Cap.INFORMATION, Cap.CHARGE_STATE, *CHARGEABLE})
BASIC_CAR = frozenset({Cap.INFORMATION, Cap.CHARGE_STATE})


def car(*extra: Cap, relink: bool = False, caps_: frozenset[Cap] = BASIC_CAR) -> VehicleFacts:
    return VehicleFacts("v1", caps_ | frozenset(extra), needs_relink=relink)


def charger(
    cid: str = "c1", capabilities: frozenset[Cap] = FULL_CHARGER, location: str | None = None, relink: bool = False
) -> ChargerFacts:
    return ChargerFacts(cid, capabilities, location_id=location, needs_relink=relink)


def index(*chargers: ChargerFacts) -> dict[str, ChargerFacts]:
    return {c.id: c for c in chargers}


# --- the vehicle first -------------------------------------------------------------------


@pytest.mark.parametrize("cap", list(caps.VEHICLE_CAPS))
def test_native_capability_is_carried_out_by_the_vehicle(cap: Cap) -> None:
    """A capability the vehicle has itself is VEHICLE, even when an ACTIVE charger could do it too."""
    v = VehicleFacts("v1", frozenset(caps.VEHICLE_CAPS))
    c = charger(location="loc1")
    r = caps.resolve_one(v, cap, [SystemFacts("v1", "c1", True)], index(c))
    assert r == caps.Resolved(True, "VEHICLE", None, ())


def test_resolve_vehicle_covers_exactly_the_vehicle_capabilities() -> None:
    out = caps.resolve_vehicle(car(), [], {})
    assert set(out) == {Cap.INFORMATION, Cap.CHARGE_STATE, Cap.LOCATION, *CHARGEABLE}
    assert out[Cap.INFORMATION].source == "VEHICLE"
    assert out[Cap.CHARGE_STATE].source == "VEHICLE"


# --- unlocked by a charger ---------------------------------------------------------------


@pytest.mark.parametrize("active", [False, True])
@pytest.mark.parametrize("cap", CHARGEABLE)
def test_missing_charging_capability_comes_from_a_charger_in_an_ev_system(cap: Cap, active: bool) -> None:
    """startCharging/stopCharging/setMaxCurrent unlock from the moment the system exists."""
    r = caps.resolve_one(car(), cap, [SystemFacts("v1", "c1", active)], index(charger()))
    assert r == caps.Resolved(True, "CHARGER", "c1", ())


@pytest.mark.parametrize("cap", CHARGEABLE)
def test_charger_must_itself_have_the_capability(cap: Cap) -> None:
    """A charger lacking the capability does not unlock it; nothing else can: NOT_SUPPORTED."""
    c = charger(capabilities=FULL_CHARGER - {cap})
    r = caps.resolve_one(car(), cap, [SystemFacts("v1", "c1", True)], index(c))
    assert (r.is_capable, r.source, r.charger_id) == (False, "NONE", None)
    assert r.interventions == (caps.NOT_SUPPORTED,)


def test_charger_unlocks_only_what_it_has() -> None:
    """A charger that can start but not set the current unlocks exactly startCharging."""
    c = charger(capabilities=frozenset({Cap.INFORMATION, Cap.START_CHARGING}))
    out = caps.resolve_vehicle(car(), [SystemFacts("v1", "c1", False)], index(c))
    assert out[Cap.START_CHARGING].source == "CHARGER"
    assert out[Cap.STOP_CHARGING].source == "NONE"
    assert out[Cap.SET_MAX_CURRENT].source == "NONE"


def test_charger_of_another_vehicles_system_does_not_unlock() -> None:
    """Only the vehicle's own EV systems count."""
    systems = [SystemFacts("other-car", "c1", True)]
    r = caps.resolve_one(car(), Cap.START_CHARGING, systems, index(charger()))
    assert not r.is_capable
    assert r.interventions == (caps.LINK_CHARGER,)


def test_system_whose_charger_is_unknown_is_ignored() -> None:
    r = caps.resolve_one(car(), Cap.START_CHARGING, [SystemFacts("v1", "gone", True)], {})
    assert (r.is_capable, r.interventions) == (False, (caps.LINK_CHARGER,))


@pytest.mark.parametrize("cap", CHARGEABLE)
def test_no_charger_at_all_suggests_linking_one(cap: Cap) -> None:
    r = caps.resolve_one(car(), cap, [], {})
    assert r == caps.Resolved(False, "NONE", None, (caps.LINK_CHARGER,))


@pytest.mark.parametrize("cap", [Cap.INFORMATION, Cap.CHARGE_STATE])
def test_information_and_charge_state_never_come_from_a_charger(cap: Cap) -> None:
    v = VehicleFacts("v1", frozenset())
    r = caps.resolve_one(v, cap, [SystemFacts("v1", "c1", True)], index(charger(location="loc")))
    assert r == caps.Resolved(False, "NONE", None, (caps.NOT_SUPPORTED,))


# --- location --------------------------------------------------------------------------


def test_location_from_charger_location_while_active() -> None:
    r = caps.resolve_one(car(), Cap.LOCATION, [SystemFacts("v1", "c1", True)], index(charger(location="home")))
    assert r == caps.Resolved(True, "CHARGER", "c1", ())


def test_location_not_unlocked_while_only_established() -> None:
    """Not plugged together: the charger's Location says nothing about where the car is."""
    r = caps.resolve_one(car(), Cap.LOCATION, [SystemFacts("v1", "c1", False)], index(charger(location="home")))
    assert (r.is_capable, r.source, r.charger_id) == (False, "NONE", None)
    assert r.interventions == (caps.PLUG_IN,)


def test_location_while_active_but_charger_has_no_location_asks_for_one() -> None:
    r = caps.resolve_one(car(), Cap.LOCATION, [SystemFacts("v1", "c1", True)], index(charger(location=None)))
    assert not r.is_capable
    assert r.interventions == (caps.SET_LOCATION,)


def test_location_without_any_charger_suggests_linking_one() -> None:
    r = caps.resolve_one(car(), Cap.LOCATION, [], {})
    assert r.interventions == (caps.LINK_CHARGER,)


def test_location_interventions_include_everything_needed_to_unlock() -> None:
    """Not plugged in and no charger location: both steps are needed, so both are suggested."""
    r = caps.resolve_one(car(), Cap.LOCATION, [SystemFacts("v1", "c1", False)], index(charger(location=None)))
    assert set(r.interventions) == {caps.PLUG_IN, caps.SET_LOCATION}


def test_location_blocked_by_a_revoked_charger_asks_for_relink() -> None:
    c = charger(location="home", relink=True)
    r = caps.resolve_one(car(), Cap.LOCATION, [SystemFacts("v1", "c1", True)], index(c))
    assert not r.is_capable
    assert r.interventions == (caps.RELINK_CHARGER,)


def test_location_needs_the_charger_information_capability() -> None:
    c = charger(capabilities=frozenset({Cap.START_CHARGING}), location="home")
    r = caps.resolve_one(car(), Cap.LOCATION, [SystemFacts("v1", "c1", True)], index(c))
    assert not r.is_capable
    assert caps.SET_LOCATION not in r.interventions  # it has a location; that is not what is missing


def test_location_needs_every_step_of_one_way_to_unlock() -> None:
    """A revoked, unlocated charger the vehicle is not plugged into: relink, locate and plug in."""
    c = charger(location=None, relink=True)
    r = caps.resolve_one(car(), Cap.LOCATION, [SystemFacts("v1", "c1", False)], index(c))
    assert set(r.interventions) == {caps.RELINK_CHARGER, caps.SET_LOCATION, caps.PLUG_IN}


def test_location_suggests_the_cheapest_way_among_several_chargers() -> None:
    """Plugging into the located charger is one step; the other charger would need two."""
    systems = [SystemFacts("v1", "bare", False), SystemFacts("v1", "located", False)]
    chargers = index(charger("bare", location=None), charger("located", location="home"))
    r = caps.resolve_one(car(), Cap.LOCATION, systems, chargers)
    assert r.interventions == (caps.PLUG_IN,)


def test_location_tie_prefers_the_active_charger() -> None:
    """ACTIVE without a location vs ESTABLISHED with one: one step each; the ACTIVE one's comes first."""
    systems = [SystemFacts("v1", "located", False), SystemFacts("v1", "plugged", True)]
    chargers = index(charger("located", location="home"), charger("plugged", location=None))
    r = caps.resolve_one(car(), Cap.LOCATION, systems, chargers)
    assert r.interventions == (caps.SET_LOCATION,)


def test_location_with_no_charger_able_to_report_is_not_supported() -> None:
    c = charger(capabilities=frozenset({Cap.START_CHARGING}), location=None, relink=True)
    r = caps.resolve_one(car(), Cap.LOCATION, [SystemFacts("v1", "c1", False)], index(c))
    assert r.interventions == (caps.NOT_SUPPORTED,)


# --- relink and suppression of the vehicle's own intervention ------------------------------


def test_vehicle_needing_relink_is_not_capable_and_asks_for_relink() -> None:
    r = caps.resolve_one(car(Cap.START_CHARGING, relink=True), Cap.START_CHARGING, [], {})
    assert r == caps.Resolved(False, "NONE", None, (caps.RELINK,))


def test_charger_unlock_suppresses_the_vehicles_relink_intervention() -> None:
    """The vehicle could do it but needs relinking; the charger can: CHARGER, no interventions."""
    r = caps.resolve_one(
        car(Cap.START_CHARGING, relink=True), Cap.START_CHARGING, [SystemFacts("v1", "c1", False)], index(charger())
    )
    assert r == caps.Resolved(True, "CHARGER", "c1", ())


def test_charger_needing_relink_does_not_unlock_and_says_so() -> None:
    r = caps.resolve_one(car(), Cap.STOP_CHARGING, [SystemFacts("v1", "c1", True)], index(charger(relink=True)))
    assert r == caps.Resolved(False, "NONE", None, (caps.RELINK_CHARGER,))


# --- several chargers ------------------------------------------------------------------


def test_active_charger_is_preferred_over_established_ones() -> None:
    """Listed second, the ACTIVE charger still wins."""
    systems = [SystemFacts("v1", "c-idle", False), SystemFacts("v1", "c-plugged", True)]
    chargers = index(charger("c-idle"), charger("c-plugged"))
    r = caps.resolve_one(car(), Cap.SET_MAX_CURRENT, systems, chargers)
    assert (r.source, r.charger_id) == ("CHARGER", "c-plugged")


def test_a_capable_charger_is_found_among_incapable_ones() -> None:
    systems = [SystemFacts("v1", "dumb", True), SystemFacts("v1", "smart", False)]
    chargers = index(charger("dumb", capabilities=frozenset({Cap.INFORMATION})), charger("smart"))
    r = caps.resolve_one(car(), Cap.START_CHARGING, systems, chargers)
    assert (r.is_capable, r.source, r.charger_id) == (True, "CHARGER", "smart")


def test_a_revoked_charger_is_skipped_for_a_working_one() -> None:
    systems = [SystemFacts("v1", "revoked", True), SystemFacts("v1", "ok", False)]
    chargers = index(charger("revoked", relink=True), charger("ok"))
    r = caps.resolve_one(car(), Cap.STOP_CHARGING, systems, chargers)
    assert r.charger_id == "ok"


def test_location_comes_from_the_active_located_charger_only() -> None:
    systems = [SystemFacts("v1", "away", False), SystemFacts("v1", "home", True)]
    chargers = index(charger("away", location="loc-away"), charger("home", location="loc-home"))
    r = caps.resolve_one(car(), Cap.LOCATION, systems, chargers)
    assert (r.source, r.charger_id) == ("CHARGER", "home")


def test_several_chargers_none_capable_one_revoked_asks_for_relink() -> None:
    systems = [SystemFacts("v1", "a", False), SystemFacts("v1", "b", False)]
    chargers = index(charger("a", capabilities=frozenset({Cap.INFORMATION})), charger("b", relink=True))
    r = caps.resolve_one(car(), Cap.START_CHARGING, systems, chargers)
    assert r.interventions == (caps.RELINK_CHARGER,)


# --- a charger's own capabilities ----------------------------------------------------------


def test_resolve_charger_reports_its_own_capabilities() -> None:
    own = frozenset({Cap.INFORMATION, Cap.CHARGE_STATE, Cap.START_CHARGING})
    out = caps.resolve_charger(charger("c9", capabilities=own))
    assert set(out) == set(caps.CHARGER_CAPS)
    for cap, r in out.items():
        if cap in own:
            assert r == caps.Resolved(True, "CHARGER", "c9", ())
        else:
            assert r == caps.Resolved(False, "NONE", None, (caps.NOT_SUPPORTED,))


def test_resolve_charger_needing_relink_is_capable_of_nothing() -> None:
    out = caps.resolve_charger(charger(relink=True))
    assert all(r == caps.Resolved(False, "NONE", None, (caps.RELINK_CHARGER,)) for r in out.values())


# --- routing actions ---------------------------------------------------------------------


def test_route_vehicle_first_then_active_chargers() -> None:
    systems = [SystemFacts("v1", "c1", True)]
    paths = caps.route_for(car(Cap.START_CHARGING), systems, index(charger()), Cap.START_CHARGING)
    assert paths == [Path("VEHICLE"), Path("CHARGER", "c1")]


def test_route_never_sends_commands_to_a_charger_not_plugged_into_the_vehicle() -> None:
    """ESTABLISHED unlocks the capability, but a command waits for ACTIVE."""
    systems = [SystemFacts("v1", "c1", False)]
    assert caps.route_for(car(), systems, index(charger()), Cap.START_CHARGING) == []


def test_route_skips_revoked_and_incapable_chargers_and_revoked_vehicle() -> None:
    systems = [SystemFacts("v1", "revoked", True), SystemFacts("v1", "dumb", True), SystemFacts("v1", "ok", True)]
    chargers = index(
        charger("revoked", relink=True), charger("dumb", capabilities=frozenset({Cap.INFORMATION})), charger("ok")
    )
    paths = caps.route_for(car(Cap.STOP_CHARGING, relink=True), systems, chargers, Cap.STOP_CHARGING)
    assert paths == [Path("CHARGER", "ok")]


def test_route_ignores_other_vehicles_systems() -> None:
    systems = [SystemFacts("v2", "c1", True)]
    assert caps.route_for(car(), systems, index(charger()), Cap.STOP_CHARGING) == []


def test_relink_text_names_the_asset_kind_that_must_be_linked_again() -> None:
    own = caps.resolve_one(car(Cap.START_CHARGING, relink=True), Cap.START_CHARGING, [], {})
    via = caps.resolve_one(car(), Cap.STOP_CHARGING, [SystemFacts("v1", "c1", True)], index(charger(relink=True)))
    charger_own = caps.resolve_charger(charger(relink=True))[Cap.START_CHARGING]
    assert [i.title for i in own.interventions] == ["Link the vehicle again"]
    assert [i.title for i in via.interventions] == ["Link the charger again"]
    assert [i.title for i in charger_own.interventions] == ["Link the charger again"]
    assert {i.id for i in (*own.interventions, *via.interventions, *charger_own.interventions)} == {"RELINK_VENDOR"}
