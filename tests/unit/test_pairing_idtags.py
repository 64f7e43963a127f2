"""Pairing evidence from the charger itself (OCPP): the session's idTag and the SoC it reports."""

from __future__ import annotations

from dataclasses import replace

from app.domain.pairing import VehicleObs
from tests.unit.test_pairing_logic import at, car, charger, decide, obs, text


def lvl(t: float, level: float, plugged: bool | None = None) -> VehicleObs:
    return replace(obs(t, plugged), battery_level=level)


def test_a_known_idtag_singles_out_its_car_while_every_cloud_is_silent() -> None:
    c = replace(charger(), id_tag="04A1B2C3")
    mine = replace(car("v1", obs(-3600, False)), id_tags=frozenset({"04A1B2C3"}))
    other = car("v2", obs(-3600, False))
    d = decide([c], [mine, other], now=2)["c1"]
    assert d.vehicle_id == "v1"
    assert "idTag 04A1B2C3, which names v1" in text(d)
    assert "names v1, not v2: excluded" in text(d)


def test_an_idtag_of_another_car_excludes_this_one_and_unknown_tags_prove_nothing() -> None:
    c = replace(charger(), id_tag="CARD-B")
    a = car("v1", obs(-3600, False), obs(30, True))  # reports plugged in, but the card is v2's
    b = replace(car("v2", obs(-3600, False)), id_tags=frozenset({"CARD-B"}))
    assert decide([c], [a, b], now=60)["c1"].vehicle_id == "v2"
    stranger = replace(charger(), id_tag="GUEST")
    d = decide([stranger], [car("v1", obs(-3600, False)), car("v2", obs(-3600, False))], now=60)["c1"]
    assert d.vehicle_id is None  # a card nobody named: the data decides, and it is silent


def test_the_cars_own_data_beats_its_card() -> None:
    c = replace(charger(), id_tag="04A1B2C3")
    far = replace(car("v1", obs(-3600, False), obs(30, False)), id_tags=frozenset({"04A1B2C3"}))
    d = decide([c], [far], now=60)["c1"]
    assert d.vehicle_id is None
    assert "reported unplugged" in text(d)


def test_a_tagged_car_is_certain_here_even_with_another_charger_open() -> None:
    c1 = replace(charger("c1"), id_tag="T1")
    c2 = charger("c2", plugged_at=1)
    mine = replace(car("v1", obs(-3600, False)), id_tags=frozenset({"T1"}))
    d = decide([c1, c2], [mine], now=3)
    assert d["c1"].vehicle_id == "v1" and d["c2"].vehicle_id is None


def test_a_known_idtag_decides_at_once_while_another_charger_is_still_to_be_seen() -> None:
    """A pushed plug-in with the car's own card: the user's other charger, last seen before the
    plug-in, cannot change which car the card names, so nothing waits for its poll. A choice from
    a car's data at that other charger still waits for the full view."""
    c1 = replace(charger("c1", 0), id_tag="T1", seen_at=at(0.2))
    unseen = replace(charger("c2", None, plugged=False), seen_at=at(-40))
    mine = replace(car("v1", obs(-3600, False)), id_tags=frozenset({"T1"}))
    d = decide([c1, unseen], [mine, car("v2", obs(-3600, False))], now=0.3)["c1"]
    assert d.vehicle_id == "v1" and d.by_id_tag and not d.stale_chargers
    # the same plug-in with a card nobody named, and v2 reporting plugged in: v2 fits c1, but c2
    # has not been seen since v2's answer, so the choice waits for c2's poll
    guest = replace(c1, id_tag="GUEST", seen_at=at(5))
    v2 = car("v2", obs(-3600, False), obs(3, True, lag=1))
    held = decide([guest, unseen], [v2], now=5)["c1"]
    assert held.vehicle_id is None and held.stale_chargers == ("c2",)
    assert "v2 would be singled out, but waiting for a poll of c2" in text(held)
    # both at once (v2's plug-in fits c3, and the card at c1 excludes it there): the tagged choice
    # goes through, the data-based one waits
    c3 = replace(charger("c3", 1), seen_at=at(5))
    both = decide([replace(c1, seen_at=at(5)), c3, unseen], [mine, v2], now=5)
    assert both["c1"].vehicle_id == "v1" and both["c3"].vehicle_id is None
    assert both["c3"].stale_chargers == ("c2",)


def test_soc_from_the_charger_excludes_a_car_at_another_level_and_agrees_otherwise() -> None:
    c = replace(charger(), soc=54.0)
    low = car("v1", obs(-3600, False), lvl(30, 31.0, True))
    right = car("v2", obs(-3600, False), lvl(30, 53.0, True))
    d = decide([c], [low, right], now=60)["c1"]
    assert d.vehicle_id == "v2"
    assert "v1 reported 31 %: excluded" in text(d)
    assert "at 54 %, as v2 does" in text(d)
    # an older level (before the plug-in) says nothing
    stale = car("v1", lvl(-600, 31.0, False), obs(30, True))
    assert decide([c], [stale], now=60)["c1"].vehicle_id == "v1"
