"""Learning idTags from sessions confirmed by other evidence (app.domain.idtags) and how a learnt
tag counts in pairing: never a card shared by two cars, never a tag chargers send for any car,
and never over a car that fits or may come with that very card."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain import idtags as di
from app.domain.pairing import Decision, VehicleTrack
from tests.unit.test_pairing_logic import at, car, charger, decide, obs, text


def seen(tag: str, vid: str, t: float = 0, confirmed: bool = True, cid: str = "c1") -> di.Sighting:
    return di.Sighting(tag, vid, confirmed, cid, at(t))


def tags_of(found: dict[str, tuple[di.LearntTag, ...]]) -> dict[str, set[str]]:
    return {vid: {t.id_tag for t in tags} for vid, tags in found.items()}


def with_learnt(v: VehicleTrack, *tags: str, t: float = -86_400) -> VehicleTrack:
    return replace(v, learnt_tags=tuple(di.LearntTag(tag, v.vehicle_id, "c1", at(t)) for tag in tags))


# --- what is learnt ----------------------------------------------------------------------


def test_a_confirmed_session_teaches_its_tag_and_the_first_session_is_kept() -> None:
    found = di.learnt([seen("04A1B2C3", "v1", 600), seen("04A1B2C3", "v1", 0)], {})
    (tag,) = found["v1"]
    assert (tag.id_tag, tag.session_at) == ("04A1B2C3", at(0))
    assert "plugged in at 2024-06-01 18:00:00 on c1" in tag.origin()


def test_a_card_seen_with_two_cars_is_shared_and_learnt_for_neither() -> None:
    sightings = [seen("HOUSE01", "v1", 0), seen("OWN0002", "v2", 100), seen("HOUSE01", "v2", 200)]
    assert tags_of(di.learnt(sightings, {})) == {"v2": {"OWN0002"}}
    assert di.shared_with("HOUSE01", "v2", sightings) == ["v1"]


def test_a_refuted_or_dismissed_tag_is_not_learnt_and_user_set_tags_are_never_learnt_over() -> None:
    refuted = [seen("CARD0001", "v1", 0), seen("CARD0001", "v1", 600, confirmed=False)]
    assert di.learnt(refuted, {}) == {}
    dismissed = [seen("CARD0001", "v1", 0), di.Sighting("CARD0001", "v1", False)]
    assert di.learnt(dismissed, {}) == {}
    # a refutation of another vehicle does not matter: the card was never confirmed with it
    assert tags_of(di.learnt([seen("CARD0001", "v1"), seen("CARD0001", "v2", confirmed=False)], {})) == \
        {"v1": {"CARD0001"}}
    assert di.learnt([seen("CARD0001", "v1")], {"v2": ["CARD0001"]}) == {}
    assert di.learnt([seen("CARD0001", "v1")], {"v1": ["CARD0001"]}) == {}  # the user's word already


GENERIC = st.one_of(
    st.sampled_from(sorted(di.GENERIC)).map(lambda t: t.lower() if len(t) % 2 else t),
    st.tuples(st.sampled_from("0F9A"), st.integers(1, 20)).map(lambda p: p[0] * p[1]),
    st.just("CP-HOME-1"), st.just("SN123456789"), st.just("TANDEM"),
)


@given(tag=GENERIC, n=st.integers(1, 5))
def test_generic_tags_are_never_learnt(tag: str, n: int) -> None:
    """Free-vend and default tags, one character repeated, the charge point's id or serial and
    Tandem's own remote-start tag: never learnt, however often confirmed with one car."""
    own = ["TANDEM", "CP-HOME-1", "SN123456789"]
    assert di.generic(tag, own)
    assert di.learnt([seen(tag, "v1", 600 * i) for i in range(n)], {}, own) == {}


def test_an_ordinary_card_is_not_generic() -> None:
    assert not di.generic("04A1B2C3", ["TANDEM", "CP-HOME-1"])


# --- a learnt tag in pairing ---------------------------------------------------------------


def test_a_learnt_tag_singles_out_its_car_over_silent_cars_with_cards_of_their_own() -> None:
    c = replace(charger(), id_tag="CARD-A")
    a = with_learnt(car("v1", obs(-3600, False)), "CARD-A")
    b = with_learnt(car("v2", obs(-3600, False)), "CARD-B")
    d = decide([c], [a, b], now=2)["c1"]
    assert d.vehicle_id == "v1" and d.by_id_tag
    assert "idTag CARD-A, which Tandem learnt for v1 from its session plugged in at 2024-05-31 18:00:00 on c1" \
        in text(d)
    assert "singled out by the learnt idTag CARD-A" in text(d)


def test_a_learnt_tag_never_passes_over_a_car_that_may_come_with_the_same_card() -> None:
    """v2 has no card of its own seen: it may be the car this household card came with today."""
    c = replace(charger(), id_tag="HOUSE01")
    a = with_learnt(car("v1", obs(-3600, False)), "HOUSE01")
    d = decide([c], [a, car("v2", obs(-3600, False))], now=2)["c1"]
    assert d.vehicle_id is None and not d.ambiguous


def test_a_learnt_tag_never_passes_over_a_car_that_fits_and_excludes_nobody() -> None:
    c = replace(charger(), id_tag="HOUSE01")
    a = with_learnt(car("v1", obs(-3600, False)), "HOUSE01")
    b = with_learnt(car("v2", obs(-3600, False), obs(30, True)), "OTHER02")
    d = decide([c], [a, b], now=60)["c1"]
    assert d.vehicle_id is None  # v1 silent, v2 fits: wait (the card does not exclude v2)
    assert "v2" in d.candidates and "v1" in d.candidates
    # once v1's own data says it is elsewhere, v2 is chosen by its own data, not by any tag
    a_out = with_learnt(car("v1", obs(-3600, False), obs(40, False)), "HOUSE01")
    d = decide([c], [a_out, b], now=60)["c1"]
    assert d.vehicle_id == "v2" and not d.by_id_tag and d.id_tag == "HOUSE01"
    assert d.refuted == ("v1",)  # presented where its car is not: forget it


def test_a_learnt_tag_is_refuted_when_its_car_is_active_on_another_charger() -> None:
    c1, c2 = charger("c1"), replace(charger("c2", plugged_at=10), id_tag="CARD-A")
    a = with_learnt(car("v1", obs(-3600, False)), "CARD-A")
    d = decide([c1, c2], [a, car("v2", obs(-3600, False))], now=60, active={"c1": "v1"})["c2"]
    assert d.refuted == ("v1",) and d.vehicle_id is None


def test_a_user_set_tag_outranks_a_learnt_one() -> None:
    c = replace(charger(), id_tag="CARD-A")
    a = with_learnt(car("v1", obs(-3600, False)), "CARD-A")
    b = replace(car("v2", obs(-3600, False)), id_tags=frozenset({"CARD-A"}))
    d = decide([c], [a, b], now=2)["c1"]
    assert d.vehicle_id == "v2" and d.by_id_tag
    assert "learnt" not in text(d)


def test_a_choice_by_the_cars_data_is_not_by_tag() -> None:
    c = replace(charger(), id_tag="NEWCARD1")
    d = decide([c], [car("v1", obs(-3600, False), obs(30, True)), car("v2", obs(-3600, False), obs(30, False))],
               now=60)["c1"]
    assert d.vehicle_id == "v1" and not d.by_id_tag and d.id_tag == "NEWCARD1"


# --- households over many sessions (property) -------------------------------------------------


def _session(rng: random.Random, n: int, occupant: int, tag: str | None, learnt: dict[str, tuple[di.LearntTag, ...]],
             now: float) -> tuple[Decision, list[VehicleTrack]]:
    """One plug session: the occupant's cloud reports the cable (or lags), the others report
    "unplugged" (or lag); nothing is ever false, some of it is late."""
    vehicles = []
    for i in range(n):
        vid = f"v{i}"
        history = [obs(-3600, False)]
        if rng.random() < 0.5 or now > 120:
            history.append(obs(min(now, 200) - 20, i == occupant))
        vehicles.append(replace(car(vid, *history), learnt_tags=learnt.get(vid, ())))
    c = replace(charger(), id_tag=tag)
    return decide([c], vehicles, now=now)["c1"], vehicles


@pytest.mark.parametrize("seed", range(40))
def test_learning_never_activates_the_wrong_car(seed: int) -> None:
    """Households whose cards are personal, shared by every car, the charger's own fixed tag, or
    shared by two cars while a third has its own; cars of random promptness over 30 sessions,
    learning from every session confirmed by a car's data and forgetting refuted tags: no
    decision ever names a car that is not on the cable."""
    rng = random.Random(seed)
    n = rng.randint(1, 3)
    policy = rng.choice(["personal", "shared", "fixed", "mixed"])
    cards = {"personal": [f"CARD{i:04d}" for i in range(n)], "shared": ["HOUSE001"] * n,
             "fixed": ["CPCARD42"] * n, "mixed": ["HOUSE001", "HOUSE001", "OWN00002"][:n]}[policy]
    sightings: list[di.Sighting] = []
    learnt: dict[str, tuple[di.LearntTag, ...]] = {}
    for k in range(30):
        occupant = rng.randrange(n)
        tag = cards[occupant] if rng.random() < 0.9 else None
        for now in (2.0, 60.0, 300.0):  # just after the plug-in, a minute on, when every cloud has spoken
            d, _ = _session(rng, n, occupant, tag, learnt, now)
            assert d.vehicle_id in (None, f"v{occupant}"), (policy, k, text(d))
            for vid in d.refuted:
                assert tag is not None
                sightings.append(di.Sighting(tag, vid, False, "c1", at(-k)))
            if d.vehicle_id is not None:
                if tag is not None and not d.by_id_tag:
                    sightings.append(di.Sighting(tag, d.vehicle_id, True, "c1", at(-k)))
                break
        learnt = di.learnt(sightings, {})
    if policy in ("shared", "fixed") and n > 1 and len({s.vehicle_id for s in sightings if s.confirmed}) > 1:
        assert learnt == {}  # seen with two cars: shared, learnt for none
