"""`tandem serve --demo`: a demo client and user owning a simulated car and charger.

The car is a make that cannot start or stop charging itself; the charger can. Both are linked
through the simulator and the real linking flow. The car's cloud reports changes at once (as cars
with a telemetry stream do), so a plug-in is confirmed within a charger poll or two.

The simulator lives in the process and starts empty, while the database persists: what an earlier
demo run left is removed first. Earlier demo clients go with their users and tokens (a token from an
earlier run stops working); with fixed tokens (`TANDEM_DEMO_*`) the client and user stay and their
vendor links and assets are replaced by ones in the new simulator. Nothing is left that would fail
every poll.
"""

from __future__ import annotations

import dataclasses
import os

import httpx

from app import crypto
from app.auth import CLIENT_PREFIX, USER_PREFIX, forget_cached
from app.db import column
from app.db.models import Charger, Client, Observation, User, Vehicle, VendorLink
from app.runtime import Runtime
from app.services import accounts, linking
from app.settings import ConfigError, Settings

DEMO_CLIENT = "demo"
DEMO_VIN = "WVGZZZE2ZPE000001"
DEMO_SERIAL = "EH000001"


def _fixed(variable: str, prefix: str) -> str | None:
    """A fixed demo credential from the environment; it must carry the prefix tokens are told apart by."""
    value = os.environ.get(variable) or None
    if value is not None and (not value.startswith(prefix) or len(value) < len(prefix) + 16):
        raise ConfigError(f"{variable} must start with {prefix!r} followed by at least 16 characters")
    return value


def with_secret_key(settings: Settings) -> Settings:
    """The demo's settings with a vendor-secret key: `TANDEM_SECRET_KEYS` when set, else the key
    file beside its SQLite database (app/crypto.py), else (a PostgreSQL demo) `data/demo.keys`,
    created on first use, so a restarted demo still decrypts what it stored."""
    if settings.secret_keys.strip() or settings.is_sqlite:
        return settings
    keys = crypto.read_or_create_key_file(os.path.abspath(os.path.join("data", "demo.keys")))
    return dataclasses.replace(settings, secret_keys=",".join(keys))


async def forget_earlier_runs(keep_client_id: str) -> None:
    """Remove what earlier demo runs left: other demo clients with everything they own, and the kept
    client's vendor links with their assets (linked to a simulator that is gone)."""
    for client in await Client.filter(name=DEMO_CLIENT):
        users = await column(User.filter(client_id=client.id), "id")
        assets = [*await column(Vehicle.filter(user_id__in=users), "id"),
                  *await column(Charger.filter(user_id__in=users), "id")]
        await Observation.filter(asset_id__in=assets).delete()
        if client.id == keep_client_id:
            await VendorLink.filter(user_id__in=users).delete()  # its assets, systems and their evidence go too
        else:
            await client.delete()  # users, tokens, links, assets, systems, actions
    forget_cached()  # tokens just deleted must not live on in this process's cache


async def seed(rt: Runtime) -> dict[str, str]:
    """Create the demo client, user, token and linked assets; print the contract's lines.

    Returns the demo's `client_secret`, `user_token`, `user_id` and `simulator` URL.
    """
    fixed_secret = _fixed("TANDEM_DEMO_CLIENT_SECRET", CLIENT_PREFIX)
    client, secret = await accounts.create_client(DEMO_CLIENT, fixed_secret)
    await forget_earlier_runs(client.id)
    user = await accounts.create_user(client.id, "demo-user")
    _, token = await accounts.create_user_token(
        client.id, user.id, _fixed("TANDEM_DEMO_USER_TOKEN", USER_PREFIX), default_ttl_s=rt.settings.user_token_ttl_s
    )
    sim = rt.settings.simulator_url.rstrip("/")
    async with httpx.AsyncClient(base_url=sim, timeout=10) as http:
        car = await http.post("/sim/accounts", json={"vendor": "smartcar", "devices": [{
            "kind": "vehicle", "vin": DEMO_VIN, "make": "Jeep", "model": "Wrangler 4xe", "year": 2023,
            "capacity_kwh": 17, "soc": 0.45, "can_start": False, "can_stop": False, "has_location": False,
            "pushes_on_change": True,
        }]})
        car.raise_for_status()
        box = await http.post("/sim/accounts", json={"vendor": "easee", "devices": [{
            "kind": "charger", "serialNumber": DEMO_SERIAL, "max_current": 32,
        }]})
        box.raise_for_status()
    await linking.link_vendor(rt, user.id, "smartcar", car.json()["credentials"])
    await linking.link_vendor(rt, user.id, "easee", box.json()["credentials"])
    print(f"demo client secret: {secret}", flush=True)
    print(f"demo user token: {token}", flush=True)
    return {"client_secret": secret, "user_token": token, "user_id": user.id, "simulator": sim}
