"""Database models (Tortoise ORM). The database is the source of truth; events are hints.

Ids are opaque strings (uuid4 hex). Vendor secrets live only in `VendorLink.credentials`
and are never logged or returned; Tandem's own tokens are stored as SHA-256 hashes.
"""

from __future__ import annotations

import uuid
from typing import Any

from tortoise import fields
from tortoise.models import Model


def new_id() -> str:
    """A new opaque id."""
    return uuid.uuid4().hex


class Client(Model):
    """A server-to-server API client (an energy company's backend)."""

    id = fields.CharField(max_length=32, primary_key=True, default=new_id)
    name = fields.CharField(max_length=200)
    secret_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "client"


class User(Model):
    """An end user of a client, who owns assets."""

    id = fields.CharField(max_length=32, primary_key=True, default=new_id)
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="users", on_delete=fields.CASCADE
    )
    external_id = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "app_user"
        unique_together = (("client", "external_id"),)


class UserToken(Model):
    """A bearer token acting as one user. Only its hash is stored."""

    id = fields.CharField(max_length=32, primary_key=True, default=new_id)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tokens", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "user_token"


class VendorLink(Model):
    """One linked vendor account of a user."""

    id = fields.CharField(max_length=32, primary_key=True, default=new_id)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="links", on_delete=fields.CASCADE
    )
    vendor = fields.CharField(max_length=50)
    #: Hash of the vendor account identity, to find a re-link of the same account.
    account_key = fields.CharField(max_length=64)
    credentials: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    access_token = fields.TextField(default="")
    status = fields.CharField(max_length=20, default="OK")  # OK | REVOKED
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "vendor_link"
        unique_together = (("user", "vendor", "account_key"),)


class Location(Model):
    """A named place of a user (home), with coordinates."""

    id = fields.CharField(max_length=32, primary_key=True, default=new_id)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="locations", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    latitude = fields.FloatField()
    longitude = fields.FloatField()
    timezone = fields.CharField(max_length=64, default="UTC")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "location"


class Asset(Model):
    """Fields shared by vehicles and chargers: identity, reachability, polling."""

    id = fields.CharField(max_length=32, primary_key=True, default=new_id)
    vendor = fields.CharField(max_length=50)
    vendor_id = fields.CharField(max_length=100)
    brand = fields.CharField(max_length=100, null=True)
    model = fields.CharField(max_length=100, null=True)
    capabilities: fields.JSONField[list[str]] = fields.JSONField(default=list)  # list of Cap values
    is_reachable = fields.BooleanField(default=False)
    last_seen = fields.DatetimeField(null=True)
    state_updated_at = fields.DatetimeField(null=True)
    #: Last error code from the vendor (None when the last poll worked).
    poll_error = fields.CharField(max_length=50, null=True)
    shard = fields.IntField(default=0, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # Foreign-key columns, declared on the concrete models below; named here for type checkers.
    user_id: str
    link_id: str

    class Meta:
        abstract = True


class Vehicle(Asset):
    """A linked vehicle and its last known state."""

    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="vehicles", on_delete=fields.CASCADE
    )
    link: fields.ForeignKeyRelation[VendorLink] = fields.ForeignKeyField(
        "models.VendorLink", related_name="vehicles", on_delete=fields.CASCADE
    )
    vin = fields.CharField(max_length=32, null=True)
    year = fields.IntField(null=True)
    battery_capacity = fields.FloatField(null=True)
    battery_level = fields.FloatField(null=True)
    range_km = fields.FloatField(null=True)
    is_plugged_in = fields.BooleanField(null=True)
    is_charging = fields.BooleanField(null=True)
    is_fully_charged = fields.BooleanField(null=True)
    charge_limit = fields.FloatField(null=True)
    charge_rate = fields.FloatField(null=True)
    max_current = fields.FloatField(null=True)
    latitude = fields.FloatField(null=True)
    longitude = fields.FloatField(null=True)
    location_updated = fields.DatetimeField(null=True)
    #: When the vendor cloud last heard from the car (its data's age).
    data_age = fields.DatetimeField(null=True)
    #: Polling faster until this time (after a charger plug-in, to confirm pairing).
    confirm_until = fields.DatetimeField(null=True)
    #: Seconds from a charger's plug-in to this car's cloud first reporting it, at its recent
    #: activations (newest last): evidence of how promptly its cloud reports a cable.
    #: (None until the first; nullable so that existing rows need no value.)
    report_lags: fields.JSONField[list[float] | None] = fields.JSONField(null=True)
    #: How far its cloud's clock was seen running ahead of ours (seconds; taken off its times).
    clock_ahead_s = fields.FloatField(null=True)

    class Meta:
        table = "vehicle"
        unique_together = (("user", "vendor", "vendor_id"),)


class Charger(Asset):
    """A linked charger and its last known state."""

    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="chargers", on_delete=fields.CASCADE
    )
    link: fields.ForeignKeyRelation[VendorLink] = fields.ForeignKeyField(
        "models.VendorLink", related_name="chargers", on_delete=fields.CASCADE
    )
    location: fields.ForeignKeyNullableRelation[Location] = fields.ForeignKeyField(
        "models.Location", related_name="chargers", null=True, on_delete=fields.SET_NULL
    )
    serial_number = fields.CharField(max_length=64, null=True)
    hw_max_current = fields.FloatField(null=True)
    is_online = fields.BooleanField(default=False)
    is_plugged_in = fields.BooleanField(null=True)
    is_charging = fields.BooleanField(null=True)
    power_state = fields.CharField(max_length=40, default="UNKNOWN")
    charge_rate = fields.FloatField(null=True)
    max_current = fields.FloatField(null=True)
    session_energy = fields.FloatField(null=True)
    schedule_blocking = fields.BooleanField(default=False)
    plugged_in_at = fields.DatetimeField(null=True)
    unplugged_at = fields.DatetimeField(null=True)
    charging_changed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "charger"
        unique_together = (("user", "vendor", "vendor_id"),)


class Observation(Model):
    """A recent poll result of an asset, kept briefly as evidence for pairing detection."""

    id = fields.BigIntField(primary_key=True)
    asset_type = fields.CharField(max_length=10)  # vehicle | charger
    asset_id = fields.CharField(max_length=32, db_index=True)
    observed_at = fields.DatetimeField()
    data_age = fields.DatetimeField(null=True)
    is_plugged_in = fields.BooleanField(null=True)
    is_charging = fields.BooleanField(null=True)
    charge_rate = fields.FloatField(null=True)
    battery_level = fields.FloatField(null=True)
    latitude = fields.FloatField(null=True)
    longitude = fields.FloatField(null=True)

    class Meta:
        table = "observation"


class EvSystem(Model):
    """A vehicle and a charger of the same user, ACTIVE while plugged into each other."""

    id = fields.CharField(max_length=32, primary_key=True, default=new_id)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="ev_systems", on_delete=fields.CASCADE
    )
    vehicle: fields.ForeignKeyRelation[Vehicle] = fields.ForeignKeyField(
        "models.Vehicle", related_name="ev_systems", on_delete=fields.CASCADE
    )
    charger: fields.ForeignKeyRelation[Charger] = fields.ForeignKeyField(
        "models.Charger", related_name="ev_systems", on_delete=fields.CASCADE
    )
    vehicle_id: str
    charger_id: str
    user_id: str
    status = fields.CharField(max_length=20, default="ESTABLISHED")  # ESTABLISHED | ACTIVE
    activated_at = fields.DatetimeField(null=True)
    evidence: fields.JSONField[list[str]] = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "ev_system"
        unique_together = (("vehicle", "charger"),)


class ChargeAction(Model):
    """An asynchronous charging command and its progress."""

    id = fields.CharField(max_length=32, primary_key=True, default=new_id)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="actions", on_delete=fields.CASCADE
    )
    target_id = fields.CharField(max_length=32, db_index=True)
    target_type = fields.CharField(max_length=10)  # VEHICLE | CHARGER
    kind = fields.CharField(max_length=20)  # START | STOP | SET_MAX_CURRENT
    state = fields.CharField(max_length=12, default="PENDING", db_index=True)
    max_current = fields.FloatField(null=True)
    idempotency_key = fields.CharField(max_length=200, null=True)
    failure_type = fields.CharField(max_length=40, null=True)
    failure_detail = fields.TextField(null=True)
    #: Orchestrator working memory (paths tried, schedule to restore, ...).
    plan: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    deadline = fields.DatetimeField()
    next_step_at = fields.DatetimeField(null=True)
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    completed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "charge_action"
        unique_together = (("user", "idempotency_key"),)


class ActionAttempt(Model):
    """One command sent for an action, through the vehicle or the charger."""

    id = fields.BigIntField(primary_key=True)
    action: fields.ForeignKeyRelation[ChargeAction] = fields.ForeignKeyField(
        "models.ChargeAction", related_name="attempts", on_delete=fields.CASCADE
    )
    via = fields.CharField(max_length=10)  # VEHICLE | CHARGER
    command = fields.CharField(max_length=40)
    outcome = fields.CharField(max_length=40)
    detail = fields.TextField(default="")
    at = fields.DatetimeField()

    class Meta:
        table = "action_attempt"


class WorkerLease(Model):
    """Ownership of one shard of assets (and actions) by one worker process."""

    shard = fields.IntField(primary_key=True)
    owner = fields.CharField(max_length=64, null=True)
    lease_until = fields.DatetimeField(null=True)

    class Meta:
        table = "worker_lease"


class WorkerHeartbeat(Model):
    """A live worker process, used to share shards fairly."""

    id = fields.CharField(max_length=64, primary_key=True)
    heartbeat_at = fields.DatetimeField()

    class Meta:
        table = "worker_heartbeat"
