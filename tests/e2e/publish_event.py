"""Another process: rename a vehicle in the database and announce it on the broadcast.

Run as `python -m tests.e2e.publish_event DATABASE_URL BROADCAST_URL NAMESPACE USER_ID VEHICLE_ID BRAND`;
the end-to-end tests use it to show that events cross process boundaries through Redis (and,
with another NAMESPACE, that another deployment's events do not).
"""

from __future__ import annotations

import asyncio
import os
import sys

from app import db
from app.db.models import Vehicle
from app.events import Event, EventBus
from app.settings import Settings


async def main(database_url: str, broadcast_url: str, namespace: str, user_id: str, vehicle_id: str,
               brand: str) -> None:
    """Update the row, then publish the change."""
    await db.init(Settings.from_env({}, database_url=database_url, secret_keys=os.environ.get("TANDEM_SECRET_KEYS")))
    bus = EventBus(broadcast_url, namespace=namespace)
    await bus.connect()
    try:
        await Vehicle.filter(id=vehicle_id, user_id=user_id).update(brand=brand)
        await bus.publish(Event("vehicle", user_id, vehicle_id))
    finally:
        await bus.disconnect()
        await db.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
