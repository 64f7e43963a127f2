"""Path choice for actions (app.orchestrator.routing): capability order, success rates, tries."""

from __future__ import annotations

from app.domain.capabilities import Path
from app.orchestrator import routing

VEHICLE, CHARGER = Path("VEHICLE"), Path("CHARGER", "box-1")
ASSETS = {"VEHICLE": "car-1", "CHARGER": "box-1"}


def setup_function() -> None:
    routing._ewma.clear()


def vias(paths: list[Path]) -> list[str]:
    return [p.via for p in paths]


def test_ties_keep_the_capability_order() -> None:
    assert vias(routing.order([VEHICLE, CHARGER], ASSETS, {}, set())) == ["VEHICLE", "CHARGER"]


def test_a_failing_path_falls_behind_and_recovers_with_successes() -> None:
    routing.record("car-1", "smartcar", "VEHICLE", False)
    assert vias(routing.order([VEHICLE, CHARGER], ASSETS, {}, set())) == ["CHARGER", "VEHICLE"]
    for _ in range(5):
        routing.record("car-1", "smartcar", "VEHICLE", True)
    assert routing.score("car-1", "VEHICLE") > routing.score("box-1", "CHARGER")
    assert vias(routing.order([VEHICLE, CHARGER], ASSETS, {}, set())) == ["VEHICLE", "CHARGER"]


def test_rates_are_kept_per_asset() -> None:
    routing.record("other-car", "smartcar", "VEHICLE", False)
    assert routing.score("car-1", "VEHICLE") == routing.PRIOR


def test_the_path_tried_least_by_this_action_goes_first_and_excluded_never() -> None:
    assert vias(routing.order([VEHICLE, CHARGER], ASSETS, {"VEHICLE": 1}, set())) == ["CHARGER", "VEHICLE"]
    assert vias(routing.order([VEHICLE, CHARGER], ASSETS, {}, {"VEHICLE"})) == ["CHARGER"]
    assert routing.order([VEHICLE, CHARGER], ASSETS, {}, {"VEHICLE", "CHARGER"}) == []


def test_first_leads_when_usable() -> None:
    assert vias(routing.order([VEHICLE, CHARGER], ASSETS, {}, set(), first="CHARGER")) == ["CHARGER", "VEHICLE"]
    assert vias(routing.order([VEHICLE, CHARGER], ASSETS, {}, {"CHARGER"}, first="CHARGER")) == ["VEHICLE"]


def test_which_path_leads() -> None:
    from app.orchestrator.engine import lead

    # a schedule holding the car: only the charger can override it
    assert lead("START", True, True, True, 0.9, 0.1) == "CHARGER"
    # a device that did not answer its last poll goes after one that did, whatever the kind
    assert lead("STOP", False, False, True, 0.9, 0.5) == "CHARGER"
    assert lead("SET_MAX_CURRENT", False, True, False, 0.5, 0.9) == "VEHICLE"
    # both answering: a stop leads with the charger (its pause leaves either path able to resume)
    assert lead("STOP", False, True, True, 0.9, 0.3) == "CHARGER"
    # otherwise the charger leads unless it has done worse
    assert lead("START", False, True, True, 0.85, 0.85) == "CHARGER"
    assert lead("SET_MAX_CURRENT", False, True, True, 0.85, 0.85) == "CHARGER"
    assert lead("START", False, True, True, 0.9, 0.6) is None
    # one path only: nothing to choose
    assert lead("STOP", False, None, True, 0.85, 0.85) is None
