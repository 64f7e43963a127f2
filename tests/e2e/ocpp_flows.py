"""Steps of OCPP end-to-end scenarios: simulated charge points linked and connected over real websockets."""

from __future__ import annotations

from typing import Any

from tests.e2e.flows import CHARGER_FIELDS, wait_for
from tests.e2e.harness import Stack

OCPP_CHARGER = CHARGER_FIELDS + " vendor information { brand model serialNumber } chargeState { maxCurrent }"


def central_url(st: Stack) -> str:
    """Tandem's OCPP endpoint base, as a charge point is configured with it."""
    return st.url.replace("http://", "ws://") + "/ocpp"


async def sim_station(st: Stack, serial: str, options: dict[str, Any] | None = None, **box: Any) -> dict[str, Any]:
    """A simulated OCPP charge point (connecting to Tandem); returns its credentials."""
    body: dict[str, Any] = {"vendor": "ocpp", "devices": [{"kind": "charger", "serialNumber": serial, **box}],
                            "centralSystemUrl": central_url(st)}
    if options:
        body["ocppOptions"] = options
    return dict((await st.sim("/sim/accounts", body))["credentials"])


async def link_ocpp(st: Stack, token: str, serial: str, options: dict[str, Any] | None = None,
                    **box: Any) -> dict[str, Any]:
    """Create a simulated charge point, link it as `ocpp`, wait until it is reachable; the Charger."""
    creds = await sim_station(st, serial, options, **box)
    data = await st.data(
        f"mutation($c: JSON!) {{ linkVendor(vendor: \"ocpp\", credentials: $c) {{ chargers {{ {OCPP_CHARGER} }} }} }}",
        {"c": creds}, token=token)
    charger = dict(data["linkVendor"]["chargers"][0])
    return await reachable(st, token, charger["id"])


async def charger(st: Stack, token: str, charger_id: str) -> dict[str, Any]:
    """A charger as it now is."""
    data = await st.data(f"query($i: ID!) {{ charger(id: $i) {{ {OCPP_CHARGER} }} }}", {"i": charger_id}, token=token)
    return dict(data["charger"])


async def until_charger(st: Stack, token: str, charger_id: str, check: Any, timeout: float = 20) -> dict[str, Any]:
    """Wait until `check(charger)` holds."""
    async def look() -> dict[str, Any] | None:
        c = await charger(st, token, charger_id)
        return c if check(c) else None
    return dict(await wait_for(look, timeout, every=0.2))


async def reachable(st: Stack, token: str, charger_id: str, timeout: float = 20) -> dict[str, Any]:
    """Wait until the charge point is connected and reported."""
    return await until_charger(st, token, charger_id, lambda c: c["isReachable"]
                               and c["chargeState"]["powerDeliveryState"] != "UNKNOWN", timeout)


async def sim_world(st: Stack) -> dict[str, Any]:
    """The simulator's true state."""
    r = await st.http.get(f"{st.sim_url}/sim/world")
    return dict(r.json())


async def sim_faults(st: Stack, **ocpp: Any) -> None:
    """Set the simulated charge points' OCPP faults (replacing the previous ones)."""
    await st.sim("/sim/faults", {"vendor": "ocpp", "ocpp": ocpp})


async def sim_point(st: Stack, serial: str) -> dict[str, Any]:
    """The simulator's view of one charge point (connected, connects, transactionId, status)."""
    return dict((await sim_world(st))["chargePoints"][serial])


async def handshakes(st: Stack, outcome: str) -> float:
    """Tandem's `tandem_ocpp_handshakes_total` for one outcome (accepted, cached, busy, ...), from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    text = (await st.http.get(f"{st.url}/metrics")).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               if family.name == "tandem_ocpp_handshakes" for sample in family.samples
               if sample.name.endswith("_total") and sample.labels.get("outcome") == outcome)
