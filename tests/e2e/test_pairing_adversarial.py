"""Adversarial pairing end to end (real uvicorn + simulator, GraphQL over HTTP and websockets):
a car charging elsewhere at the same rate while the right car's cloud is silent, plug-ins seconds
apart with mixed cloud lags, a cloud that goes stale, vendor clocks that run ahead or behind.

Every scenario runs under a `Watch` (tests.e2e.test_pairing_scenarios): any ACTIVE event or poll
for a pair outside `allowed`, however brief, is a violation. Cloud lags are scaled down (seconds,
not minutes) so the tests run in real time; what matters is which cloud reports first.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.e2e.flows import box, car, link, viewer, wait_for
from tests.e2e.harness import Stack, make_user
from tests.e2e.test_pairing_scenarios import Pair, Watch, systems_by_pair, until_established, vid_of

HOME = (59.91, 10.75)  # the simulator's default car position
LAG_S = 15  # a lagging cloud refreshes this often (minutes in the field)
AMPS_11KW = 16  # 16 A x 3 x 230 V = 11 kW: the charger delivers what an 11 kW car draws


async def at_home(st: Stack, token: str, charger_id: str) -> None:
    """Give the charger a home Location at the cars' position."""
    loc = (await st.data('mutation { createLocation(name: "home", latitude: 59.91, longitude: 10.75, '
                         'timezone: "Europe/Oslo") { id } }', token=token))["createLocation"]
    await st.data('mutation($c: ID!, $l: ID) { setChargerLocation(chargerId: $c, locationId: $l) { id } }',
                  {"c": charger_id, "l": loc["id"]}, token=token)


async def public_charger(st: Stack, serial: str) -> None:
    """A charger in an account the user never links (a public charger)."""
    await st.sim("/sim/accounts", {"vendor": "easee", "devices": [box(serial, max_current=AMPS_11KW)]})


async def all_polled(st: Stack, token: str) -> None:
    """Every vehicle polled at least once (its cloud's copy from before any plug-in is known)."""
    async def polled() -> bool:
        return all(v["isReachable"] for v in (await viewer(st, token))["vehicles"])
    await wait_for(polled, timeout=20)


async def evidence_of(st: Stack, token: str, pair: Pair) -> list[str]:
    return list((await systems_by_pair(st, token))[pair]["evidence"])


async def until_evidence(st: Stack, token: str, pair: Pair, words: str | tuple[str, ...],
                         timeout: float = 20) -> list[str]:
    """Wait until the pair's evidence holds one of `words`."""
    seen: list[str] = []
    wanted = (words,) if isinstance(words, str) else words

    async def found() -> list[str] | None:
        seen[:] = await evidence_of(st, token, pair)
        return seen if any(w in e for e in seen for w in wanted) else None
    try:
        return list(await wait_for(found, timeout=timeout, every=0.3))
    except TimeoutError:
        raise AssertionError(f"no {words!r} in the evidence: {seen}") from None


async def plug_together(st: Stack, *plugs: tuple[str, str]) -> None:
    """Plug cars in within a fraction of a second of each other."""
    await asyncio.gather(*(st.sim("/sim/plug", {"vin": vin, "serialNumber": serial}) for vin, serial in plugs))


async def _household_of_the_issue(st: Stack, b_car: dict[str, Any]) -> tuple[str, Pair, Pair]:
    """Car A (no location, reports at once), car B (at home; `b_car`), charger C at a home
    Location, a public charger P the user never linked; all 11 kW. Returns (token, A·C, B·C)."""
    _, token = await make_user(st)
    cars = (await link(st, token, "smartcar", [
        car("ISSA00000000001", has_location=False, pushes_on_change=True, max_charge_kw=11), b_car,
    ]))["vehicles"]
    c = (await link(st, token, "easee", [box("EH710001", max_current=AMPS_11KW)]))["chargers"][0]["id"]
    await at_home(st, token, c)
    await public_charger(st, "EHPUB71001")
    await all_polled(st, token)
    return token, (vid_of(cars, "ISSA00000000001"), c), (vid_of(cars, b_car["vin"]), c)


async def test_a_rate_match_never_passes_over_a_lagging_car_and_the_car_at_home_wins_once_it_reports(
        st: Stack) -> None:
    """The issue's household: A plugged into P and B into C within a second. A reports at once,
    plugged in and charging at C's rate; B's cloud lags. A·C is never ACTIVE (silence from a
    lagging cloud is not absence); once B reports plugged in at C's location, B·C is ACTIVE."""
    token, pa, pb = await _household_of_the_issue(
        st, car("ISSB00000000001", vehicle_refresh_s=LAG_S, max_charge_kw=11))
    async with Watch(st, token, allowed={pb}) as watch:
        await plug_together(st, ("ISSA00000000001", "EHPUB71001"), ("ISSB00000000001", "EH710001"))
        ev = await until_evidence(st, token, pa, "charge rates match")
        assert any("silence is not absence" in e for e in ev), ev
        system = await watch.until_active(pb, timeout=LAG_S + 40)
        assert any("cannot report a location" in e for e in system["evidence"]), system["evidence"]
        await asyncio.sleep(2)  # more polls of both: nothing flips
        watch.check()
    watch.once(pb)
    assert (await systems_by_pair(st, token))[pa]["status"] == "ESTABLISHED"


async def reports_unplugged(st: Stack, token: str, vid: str) -> bool:
    """Whether the vehicle's own data says it is unplugged."""
    v = next(x for x in (await viewer(st, token))["vehicles"] if x["id"] == vid)
    return v["chargeState"]["isPluggedIn"] is False


async def _train(st: Stack, token: str, vin: str, serial: str, pair: Pair, times: int) -> None:
    """Plug `vin` into `serial` and out again `times` times, each time until ACTIVE and back: the
    car's cloud shows how promptly it reports a cable."""
    async with Watch(st, token, allowed={pair}) as watch:
        for _ in range(times):
            await st.sim("/sim/plug", {"vin": vin, "serialNumber": serial})
            await watch.until_active(pair, timeout=30)
            await st.sim("/sim/unplug", {"vin": vin})
            await until_established(st, token, pair, timeout=15)
            await wait_for(lambda: reports_unplugged(st, token, pair[0]), timeout=15)
            await wait_for(lambda: _charger_unplugged(st, token, pair[1]), timeout=15)
            watch.activations.clear()
        watch.check()


async def _charger_unplugged(st: Stack, token: str, charger_id: str) -> bool:
    """The charger's own poll has seen the cable out (else a quick re-plug looks like one session)."""
    chargers = (await viewer(st, token))["chargers"]
    return any(c["id"] == charger_id and c["chargeState"]["isPluggedIn"] is False for c in chargers)


async def test_a_prompt_cloud_gone_stale_is_not_passed_over_by_its_silence(st: Stack) -> None:
    """B's cloud has reported every cable at once (three plug-ins), so its silence would count;
    then it goes stale (stops refreshing, serves its last copy) just as B is plugged into C and A
    into P. Its copy no longer refreshes at its usual rhythm, so A's rate match does not pass
    over it: A·C is never ACTIVE; once B's cloud reports again, B·C is."""
    token, pa, pb = await _household_of_the_issue(
        st, car("ISSB00000000002", pushes_on_change=True, max_charge_kw=11))
    await _train(st, token, "ISSB00000000002", "EH710001", pb, times=3)
    await st.sim("/sim/faults", {"vendor": "smartcar", "stale": ["ISSB00000000002"]})
    async with Watch(st, token, allowed={pb}) as watch:
        await plug_together(st, ("ISSA00000000001", "EHPUB71001"), ("ISSB00000000002", "EH710001"))
        # Either B's cloud is found stale (and A's match waits), or B's cloud still got the plug-in
        # through before the fault took hold and B is singled out: never A (the watch checks).
        await until_evidence(st, token, pa, ("it may be stale", "singled out"), timeout=60)
        await st.sim("/sim/faults", {"vendor": "smartcar"})
        await watch.until_active(pb, timeout=30)
        await asyncio.sleep(2)
        watch.check()
    watch.once(pb)


async def test_a_belief_ends_with_evidence_when_data_contradicts_it(st: Stack) -> None:
    """A (no location) is plugged into C while B, at home, is plugged into a socket Tandem does
    not know (a second charger in the garage) at the same rate. B, at C's location, is believed
    to be on C (nothing else tells them apart). When B is unplugged and driven away, B·C ends at
    once with that evidence, and A, plugged in since the plug-in and never seen unplugged, is
    then activated: every activation is re-checked on every datum."""
    token, pa, pb = await _household_of_the_issue(
        st, car("ISSB00000000003", pushes_on_change=True, max_charge_kw=11))
    await public_charger(st, "EHGAR71001")  # the garage socket
    async with Watch(st, token, allowed={pa, pb}) as watch:
        await plug_together(st, ("ISSA00000000001", "EH710001"), ("ISSB00000000003", "EHGAR71001"))
        await watch.until_active(pb, timeout=30)
        await st.sim("/sim/move", {"vin": "ISSB00000000003", "latitude": HOME[0] + 0.2, "longitude": HOME[1]})
        await watch.until_active(pa, timeout=30)
        ended = [s for s in watch.events if (s["vehicle"]["id"], s["charger"]["id"]) == pb
                 and s["status"] == "ESTABLISHED"]
        assert any(e.startswith("deactivated") for s in ended for e in s["evidence"]), ended
        watch.check()
    final = await systems_by_pair(st, token)
    assert final[pa]["status"] == "ACTIVE" and final[pb]["status"] == "ESTABLISHED"


async def test_plug_ins_a_moment_apart_with_mixed_cloud_lags_never_cross(st: Stack) -> None:
    """Two 11 kW cars, two 22 kW chargers, all at home. A's cloud lags, B's reports at once; A is
    plugged into C1 and B into C2 0.6 s later. B·C1 or A·C2 is never ACTIVE, not even briefly:
    no decision is taken before every charger was seen after the vehicle data it rests on."""
    _, token = await make_user(st)
    cars = (await link(st, token, "smartcar", [car("RACA00000000001", vehicle_refresh_s=LAG_S, max_charge_kw=11),
                                                car("RACB00000000001", pushes_on_change=True, max_charge_kw=11)]))
    await link(st, token, "easee", [box("EH720001"), box("EH720002")])
    data = await st.data("{ viewer { chargers { id information { serialNumber } } } }", token=token)
    serial_of = {c["id"]: c["information"]["serialNumber"] for c in data["viewer"]["chargers"]}
    c1, c2 = sorted(serial_of, key=lambda cid: serial_of[cid])
    for cid in (c1, c2):
        await at_home(st, token, cid)
    a, b = vid_of(cars["vehicles"], "RACA00000000001"), vid_of(cars["vehicles"], "RACB00000000001")
    await all_polled(st, token)
    async with Watch(st, token, allowed={(a, c1), (b, c2)}) as watch:
        await st.sim("/sim/plug", {"vin": "RACA00000000001", "serialNumber": "EH720001"})
        await asyncio.sleep(0.6)
        await st.sim("/sim/plug", {"vin": "RACB00000000001", "serialNumber": "EH720002"})

        async def a_reported() -> bool:
            v = next(x for x in (await viewer(st, token))["vehicles"] if x["id"] == a)
            return bool(v["chargeState"]["isPluggedIn"])

        await wait_for(a_reported, timeout=LAG_S + 40)
        await asyncio.sleep(3)  # A's data is in: more polls of every device
        watch.check()
    final = await systems_by_pair(st, token)
    assert final[(b, c1)]["status"] == final[(a, c2)]["status"] == "ESTABLISHED"


async def test_a_car_seen_before_its_charger_is_not_placed_on_another(st: Stack) -> None:
    """A guest car is plugged into C1 and the user's B (reports at once) into C2 0.6 s later; the
    user's A is at home, unplugged. When C1's plug-in is seen, B already reports plugged in and
    charging at C1's rate while C2 still looks unplugged: on that partial view B would fit C1
    alone. B·C1 is never ACTIVE."""
    _, token = await make_user(st)
    cars = (await link(st, token, "smartcar", [car("GSTA00000000001", pushes_on_change=True, max_charge_kw=11),
                                                car("GSTB00000000001", pushes_on_change=True, max_charge_kw=11)]))
    await link(st, token, "easee", [box("EH730001"), box("EH730002")])
    data = await st.data("{ viewer { chargers { id information { serialNumber } } } }", token=token)
    cid = {c["information"]["serialNumber"]: c["id"] for c in data["viewer"]["chargers"]}
    await st.sim("/sim/accounts", {"vendor": "smartcar", "devices": [car("GUEST0000000001", max_charge_kw=11)]})
    b = vid_of(cars["vehicles"], "GSTB00000000001")
    await all_polled(st, token)
    async with Watch(st, token, allowed={(b, cid["EH730002"])}) as watch:
        await st.sim("/sim/plug", {"vin": "GUEST0000000001", "serialNumber": "EH730001"})
        await asyncio.sleep(0.6)
        await st.sim("/sim/plug", {"vin": "GSTB00000000001", "serialNumber": "EH730002"})
        await until_evidence(st, token, (b, cid["EH730001"]), "fits", timeout=20)
        await asyncio.sleep(3)
        watch.check()
    assert (await systems_by_pair(st, token))[(b, cid["EH730001"])]["status"] == "ESTABLISHED"


async def test_a_vendor_clock_running_ahead_does_not_make_a_stale_unplugged_count(st: Stack) -> None:
    """The vehicle cloud's clock runs ten minutes ahead. X (at home, cloud lagging) is plugged into
    C, Y (no location) into P at the same rate. X's stale "unplugged" copy is stamped ten minutes
    in the future: it must not exclude X (which would leave Y alone to fit C). Y·C is never ACTIVE;
    X·C is, once X's cloud refreshes."""
    _, token = await make_user(st)
    await st.sim("/sim/faults", {"vendor": "smartcar", "clock_skew_s": 600})
    cars = (await link(st, token, "smartcar", [car("SKWX00000000001", vehicle_refresh_s=8, max_charge_kw=11),
                                                car("SKWY00000000001", has_location=False, pushes_on_change=True,
                                                    max_charge_kw=11)]))["vehicles"]
    c = (await link(st, token, "easee", [box("EH740001", max_current=AMPS_11KW)]))["chargers"][0]["id"]
    await at_home(st, token, c)
    await public_charger(st, "EHPUB74001")
    await all_polled(st, token)
    px = (vid_of(cars, "SKWX00000000001"), c)
    async with Watch(st, token, allowed={px}) as watch:
        await plug_together(st, ("SKWX00000000001", "EH740001"), ("SKWY00000000001", "EHPUB74001"))
        await watch.until_active(px, timeout=40)
        await asyncio.sleep(2)
        watch.check()
    watch.once(px)


async def test_a_vendor_clock_running_behind_does_not_make_a_plug_in_here_look_like_one_elsewhere(
        st: Stack) -> None:
    """The vehicle cloud's clock runs 150 s behind: X's plug-in into C is stamped as if it happened
    before the charger's, which must not exclude X as "plugged in elsewhere". Y (no location) is
    plugged into P at the same rate. Y·C is never ACTIVE; once the vendor's clock is right again,
    X·C is."""
    _, token = await make_user(st)
    await st.sim("/sim/faults", {"vendor": "smartcar", "clock_skew_s": -150})
    cars = (await link(st, token, "smartcar", [car("BHDX00000000001", pushes_on_change=True, max_charge_kw=11),
                                                car("BHDY00000000001", has_location=False, pushes_on_change=True,
                                                    max_charge_kw=11)]))["vehicles"]
    c = (await link(st, token, "easee", [box("EH750001", max_current=AMPS_11KW)]))["chargers"][0]["id"]
    await at_home(st, token, c)
    await public_charger(st, "EHPUB75001")
    await all_polled(st, token)
    px = (vid_of(cars, "BHDX00000000001"), c)
    async with Watch(st, token, allowed={px}) as watch:
        await plug_together(st, ("BHDX00000000001", "EH750001"), ("BHDY00000000001", "EHPUB75001"))
        ev = await until_evidence(st, token, px, "no data newer than the plug-in")
        await asyncio.sleep(3)
        ev = await evidence_of(st, token, px)
        assert not any("already plugged in" in e for e in ev), ev
        await st.sim("/sim/faults", {"vendor": "smartcar"})  # the vendor's clock is right again
        await watch.until_active(px, timeout=30)
        await asyncio.sleep(2)
        watch.check()
    watch.once(px)
