"""`tandem serve --demo`: a demo client and user owning a simulated car and charger.

The car is a make that cannot start or stop charging itself; the charger can. Both are linked
through the simulator and the real linking flow. Assets from an earlier demo run (whose
simulator is gone) are removed first.
"""

from __future__ import annotations

import dataclasses
import os

import httpx

from app import crypto
from app.auth import CLIENT_PREFIX, USER_PREFIX
from app.db.models import Charger, Vehicle
from app.runtime import Runtime
from app.services import accounts, linking
from app.settings import ConfigError, Settings

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


async def seed(rt: Runtime) -> dict[str, str]:
    """Create the demo client, user, token and linked assets; print the contract's lines."""
    fixed_secret = _fixed("TANDEM_DEMO_CLIENT_SECRET", CLIENT_PREFIX)
    client, secret = await accounts.create_client("demo", fixed_secret)
    user = await accounts.create_user(client.id, "demo-user")
    _, token = await accounts.create_user_token(
        client.id, user.id, _fixed("TANDEM_DEMO_USER_TOKEN", USER_PREFIX), default_ttl_s=rt.settings.user_token_ttl_s
    )
    for model in (Vehicle, Charger):
        for row in await model.filter(user_id=user.id):
            await linking.unlink_asset(rt, user.id, "vehicle" if model is Vehicle else "charger", row.id)
    # An earlier run's demo user (of another, random client) still holds the demo car and charger:
    # release them, since a device is linked by one user only (DEVICE_ALREADY_LINKED).
    for row in await Vehicle.filter(vin=DEMO_VIN, user__external_id="demo-user", user__client__name="demo"):
        await linking.unlink_asset(rt, row.user_id, "vehicle", row.id)
    for box_row in await Charger.filter(serial_number=DEMO_SERIAL, user__external_id="demo-user",
                                        user__client__name="demo"):
        await linking.unlink_asset(rt, box_row.user_id, "charger", box_row.id)
    sim = rt.settings.simulator_url.rstrip("/")
    async with httpx.AsyncClient(base_url=sim, timeout=10) as http:
        car = await http.post("/sim/accounts", json={"vendor": "smartcar", "devices": [{
            "kind": "vehicle", "vin": DEMO_VIN, "make": "Jeep", "model": "Wrangler 4xe", "year": 2023,
            "capacity_kwh": 17, "soc": 0.45, "can_start": False, "can_stop": False, "has_location": False,
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
    return {"client_secret": secret, "user_token": token, "user_id": user.id}
