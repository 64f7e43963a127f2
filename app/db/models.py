"""Database models (Tortoise ORM). The database is the source of truth; events are hints.

Ids are opaque strings (uuid4 hex). Vendor secrets live only in `VendorLink.credentials` and
`VendorLink.access_token`, encrypted at rest (app/db/fields.py), and are never logged or returned;
Tandem's own tokens are stored as SHA-256 hashes.
"""

from __future__ import annotations

import uuid
from typing import Any

from tortoise import fields
from tortoise.models import Model

from app.db.fields import EncryptedJSONField, EncryptedTextField


def new_id() -> str:
    """A new opaque id."""
    return uuid.uuid4().hex


class Client(Model):
    """A server-to-server API client (an energy company's backend)."""

    id = fields.CharField(max_length=32, primary_key=True, default=new_id)
    name = fields.CharField(max_length=200)
    secret_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    #: After `rotateClientSecret` with a grace period: the replaced secret's hash, valid until then.
    previous_secret_hash = fields.CharField(max_length=64, null=True, db_index=True)
    previous_secret_until = fields.DatetimeField(null=True)
    secret_rotated_at = fields.DatetimeField(null=True)

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
    #: None: never expires.
    expires_at = fields.DatetimeField(null=True)
    #: Approximate (updated at most once a minute per process).
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    user_id: str

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
    #: Encrypted at rest (the column holds `{"fernet": token}`).
    credentials: fields.JSONField[dict[str, Any]] = EncryptedJSONField(default=dict)
    #: The vendor session token, encrypted at rest.
    access_token = EncryptedTextField(default="")
    status = fields.CharField(max_length=20, default="OK")  # OK | REVOKED
    created_at = fields.DatetimeField(auto_now_add=True)
    user_id: str

    class Meta:
        table = "vendor_link"
        #: One user per vendor account: a second user linking it is refused (DEVICE_ALREADY_LINKED).
        unique_together = (("user", "vendor", "account_key"), ("vendor", "account_key"))


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
    #: When a poll last succeeded (a vehicle: its cloud was asked, whatever the age of its data,
    #: a charger: its recorded state held then). Pairing's "polled since the plug-in" reads it.
    polled_at = fields.DatetimeField(null=True)
    # Until when the vendor rate-limits reads of this asset (its Retry-After, capped); None when not.
    # A plain comment on purpose: Tortoise turns doc comments into column comments, which SQLite cannot add.
    rate_limited_until = fields.DatetimeField(null=True)
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
    # Seconds from a charger's plug-in to this car's cloud first reporting it, at its recent
    # activations (newest last): evidence of how promptly its cloud reports a cable.
    # (None until the first; nullable so that existing rows need no value.)
    report_lags: fields.JSONField[list[float] | None] = fields.JSONField(null=True)
    # How far its cloud's clock was seen running ahead of ours (seconds; taken off its times).
    clock_ahead_s = fields.FloatField(null=True)
    #: RFID cards or ISO 15118 ids seen with this vehicle (OCPP idTags): pairing evidence.
    id_tags: fields.JSONField[list[str]] = fields.JSONField(default=list, db_default=[])
    # idTags Tandem learnt for it (derived from its IdTagSightings, app.domain.idtags):
    # [{"idTag", "chargerId", "sessionAt" (ISO 8601)}], recomputed whenever a sighting is added.
    learnt_id_tags: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list, db_default=[])
    # Tandem's SoC estimate (app.domain.soc): level (%) at est_at, the ACTIVE charger's session meter
    # (kWh) then, and the least level that may be shown.
    est_level = fields.FloatField(null=True)
    est_at = fields.DatetimeField(null=True)
    est_energy = fields.FloatField(null=True)
    est_floor = fields.FloatField(null=True)
    # When a charger this car was ACTIVE with saw the cable out (older car data must not say plugged in).
    cable_out_at = fields.DatetimeField(null=True)

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
    #: The idTag the current session was started with, and the car's SoC (%) as the charger
    #: reports it (OCPP chargers; None where the charger does not say).
    session_id_tag = fields.CharField(max_length=20, null=True)
    session_soc = fields.FloatField(null=True)
    # The vendor's own name for the session's charging (OCPP: the latest transaction id), where it
    # has one (adapters.types.ChargerSnapshot.session_key).
    session_key = fields.CharField(max_length=40, null=True)

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
    """A vehicle and a charger of the same user, ACTIVE while plugged into each other.

    At most one ACTIVE system per vehicle and per charger: partial unique indexes made by
    migration 0002 (`WHERE status = 'ACTIVE'`); an activation that would break it raises
    IntegrityError.
    """

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
    #: USER (requested through the API, visible) | PROBE (a probe's pause or resume, internal).
    origin = fields.CharField(max_length=10, default="USER", db_default="USER")
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


class ChargerProbe(Model):
    """A probe of one charger's plug session: pause it, watch which candidate car stops, resume.

    At most one per plug session (unique charger + plugged_in_at). Every input of its decision is
    here (readings, times, its pause and resume actions), so any worker can carry it on.
    `phase`: PAUSING | WATCHING | RESUMING | DONE. `readings`: {"before" | "paused" | "resumed":
    {vehicle id: VehicleObs as JSON}}.
    """

    id = fields.CharField(max_length=32, primary_key=True, default=new_id)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="probes", on_delete=fields.CASCADE
    )
    charger: fields.ForeignKeyRelation[Charger] = fields.ForeignKeyField(
        "models.Charger", related_name="probes", on_delete=fields.CASCADE
    )
    user_id: str
    charger_id: str
    plugged_in_at = fields.DatetimeField()
    candidates: fields.JSONField[list[str]] = fields.JSONField(default=list)
    phase = fields.CharField(max_length=12, default="PAUSING")
    readings: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    #: Set before the pause command goes out (a car may stop as soon as the charger does).
    paused_at = fields.DatetimeField(null=True)
    #: When the probe decided to resume: pairing ignores charging evidence from the pause until then.
    resumed_at = fields.DatetimeField(null=True)
    pause_action_id = fields.CharField(max_length=32, null=True)
    resume_action_id = fields.CharField(max_length=32, null=True)
    #: Why it ended early (a user's action on the charger or a candidate car, an unplug, ...).
    interrupted = fields.TextField(null=True)
    outcome = fields.TextField(null=True)
    chosen_vehicle_id = fields.CharField(max_length=32, null=True)
    next_step_at = fields.DatetimeField(null=True)
    #: When the probe last asked for the watched cars to be polled.
    kicked_at = fields.DatetimeField(null=True)
    #: When the charger was restored (its resume action ended), None while the probe holds it.
    ended_at = fields.DatetimeField(null=True, db_index=True)
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "charger_probe"
        unique_together = (("charger", "plugged_in_at"),)


class PathScore(Model):
    """Recent success rate (EWMA, 0..1) of commands to one asset through one path (`via`)."""

    id = fields.BigIntField(primary_key=True)
    asset_id = fields.CharField(max_length=32)
    via = fields.CharField(max_length=10)  # VEHICLE | CHARGER
    score = fields.FloatField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "path_score"
        unique_together = (("asset_id", "via"),)


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


class OcppStation(Model):
    """An OCPP 1.6J charge point linked to a charger, and what it last reported.

    The web process holding the charge point's websocket writes it; any process reads it (the
    `ocpp` adapter builds the charger's snapshot from it). Times are Tandem's receipt times, or
    the charge point's own timestamps clamped to receipt.
    """

    charge_point_id = fields.CharField(max_length=48, primary_key=True)
    charger: fields.ForeignKeyNullableRelation[Charger] = fields.ForeignKeyField(
        "models.Charger", related_name="ocpp_station", null=True, on_delete=fields.CASCADE
    )
    #: scrypt hash of the Basic-auth password ("scrypt$n$r$p$salt$hash", hex).
    password_hash = fields.CharField(max_length=200)
    #: The web process holding the websocket (None: not connected anywhere).
    connected_node = fields.CharField(max_length=100, null=True)
    connected_at = fields.DatetimeField(null=True)
    last_message_at = fields.DatetimeField(null=True)
    heartbeat_s = fields.IntField(default=300)
    vendor_name = fields.CharField(max_length=50, null=True)
    model_name = fields.CharField(max_length=50, null=True)
    serial = fields.CharField(max_length=50, null=True)
    firmware = fields.CharField(max_length=50, null=True)
    #: Connector 1's status (Available, Preparing, Charging, ...) and its (clamped) timestamp.
    status = fields.CharField(max_length=20, null=True)
    status_at = fields.DatetimeField(null=True)
    #: The charge point's own timestamp of that status (its clock), to order its messages.
    status_claimed_at = fields.DatetimeField(null=True)
    error_code = fields.CharField(max_length=40, null=True)
    #: Configuration read at connect: feature profiles, rate unit ("A"/"W"), remote-start auth.
    features: fields.JSONField[list[str]] = fields.JSONField(default=list)
    rate_unit = fields.CharField(max_length=1, null=True)
    authorize_remote = fields.BooleanField(null=True)
    transaction_id = fields.IntField(null=True)
    tx_id_tag = fields.CharField(max_length=20, null=True)
    tx_started_at = fields.DatetimeField(null=True)
    tx_meter_start_wh = fields.FloatField(null=True)
    # The plug session's transactions on connector 1: the latest one's id, running or ended (a
    # StopTransaction may come after a Finishing status cleared `transaction_id`), and what the
    # earlier ones delivered (Wh), so the session's energy spans all of them; both reset when the
    # connector goes Available (the unplug).
    last_tx_id = fields.IntField(null=True)
    session_prior_wh = fields.FloatField(default=0.0, db_default=0.0)
    #: The idTag of connector 1's last StartTransaction (an Authorize names no connector).
    last_id_tag = fields.CharField(max_length=20, null=True)
    last_id_tag_at = fields.DatetimeField(null=True)
    power_w = fields.FloatField(null=True)
    energy_wh = fields.FloatField(null=True)
    soc = fields.FloatField(null=True)
    meter_at = fields.DatetimeField(null=True)
    #: Limit Tandem set (A) with a TxDefaultProfile, and whether a TxProfile pauses the session.
    limit_a = fields.FloatField(null=True)
    paused = fields.BooleanField(default=False)
    #: The effective limit the charge point reported (GetCompositeSchedule), in A.
    reported_limit_a = fields.FloatField(null=True)
    next_tx_id = fields.IntField(default=1)
    # The idTag Tandem last sent in a RemoteStartTransaction in this plug session (cleared at
    # Available): a transaction started with it says nothing about the car.
    remote_id_tag = fields.CharField(max_length=20, null=True)
    charger_id: str | None
    class Meta:
        table = "ocpp_station"


class IdTagSighting(Model):
    """An idTag seen with a vehicle (app.domain.idtags): `confirmed` when the vehicle was
    confirmed on the plug session by other evidence than an idTag; a refutation when its own data
    excluded it there, or its user dismissed the tag (no charger then)."""

    id = fields.BigIntField(primary_key=True)
    vehicle: fields.ForeignKeyRelation[Vehicle] = fields.ForeignKeyField(
        "models.Vehicle", related_name="id_tag_sightings", on_delete=fields.CASCADE
    )
    id_tag = fields.CharField(max_length=20)
    confirmed = fields.BooleanField()
    charger_id = fields.CharField(max_length=32, null=True)
    # The charger's plug-in of the session.
    session_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    vehicle_id: str

    class Meta:
        table = "id_tag_sighting"
        unique_together = (("vehicle", "id_tag", "confirmed", "session_at"),)


class SmartChargingPolicy(Model):
    """A vehicle's smart charging wishes: when it leaves and how full it must be."""

    vehicle: fields.OneToOneRelation[Vehicle] = fields.OneToOneField(
        "models.Vehicle", related_name="smart_policy", on_delete=fields.CASCADE, primary_key=True
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="smart_policies", on_delete=fields.CASCADE
    )
    is_enabled = fields.BooleanField(default=False)
    #: Local time "HH:MM" at the charging location.
    deadline = fields.CharField(max_length=5, default="07:00")
    minimum_charge_limit = fields.FloatField(default=0.0)
    #: None: the vehicle's own charge limit, else 80 %.
    target_charge_limit = fields.FloatField(null=True)
    #: The plug session (its charger's plug-in time) that `boostCharging` boosts, if any.
    boost_session = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)
    vehicle_id: str
    user_id: str

    class Meta:
        table = "smart_charging_policy"


class Tariff(Model):
    """Energy prices at a location, as the client gives them: a day-ahead series of rates, or a
    daily time-of-use pattern (`repeat_daily`: only the times of day count)."""

    location: fields.OneToOneRelation[Location] = fields.OneToOneField(
        "models.Location", related_name="tariff", on_delete=fields.CASCADE, primary_key=True
    )
    currency = fields.CharField(max_length=3)
    #: [{"startAt": ISO-8601, "endAt": ISO-8601, "price": per kWh}], sorted by start.
    rates: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    repeat_daily = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)
    location_id: str

    class Meta:
        table = "tariff"


class SmartChargingPlan(Model):
    """The current smart charging plan of a vehicle (one row per vehicle, rewritten on re-plan)."""

    vehicle: fields.OneToOneRelation[Vehicle] = fields.OneToOneField(
        "models.Vehicle", related_name="smart_plan", on_delete=fields.CASCADE, primary_key=True
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="smart_plans", on_delete=fields.CASCADE
    )
    plan_id = fields.CharField(max_length=32, default=new_id)
    state = fields.CharField(max_length=30, default="DISABLED")
    #: The plug session this plan is for (the charger's plug-in time) and its deadline.
    session_plugged_at = fields.DatetimeField(null=True)
    deadline_at = fields.DatetimeField(null=True)
    start_at = fields.DatetimeField(null=True)
    stop_at = fields.DatetimeField(null=True)
    estimated_finish_at = fields.DatetimeField(null=True)
    energy_kwh = fields.FloatField(null=True)
    smart_cost = fields.FloatField(null=True)
    non_smart_cost = fields.FloatField(null=True)
    currency = fields.CharField(max_length=3, null=True)
    #: [{"startAt", "endAt", "powerKw", "price"}]
    slots: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    reason = fields.TextField(null=True)
    #: Whether a plan (not boost, not the minimum alone) steered this session.
    planned = fields.BooleanField(default=False)
    # The charge curve the plan assumed (app.smart.learning.curve_view); None without a plan.
    curve: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    #: Raised by each write of the plan and each change of its inputs (see app.smart.service.tick).
    revision = fields.IntField(default=0, db_default=0)
    updated_at = fields.DatetimeField(auto_now=True)
    vehicle_id: str
    user_id: str

    class Meta:
        table = "smart_charging_plan"


class VehicleChargeCurve(Model):
    """A vehicle's charge curve learned from its sessions (app.smart.learning), and the recent
    samples it is learned from."""

    vehicle: fields.OneToOneRelation[Vehicle] = fields.OneToOneField(
        "models.Vehicle", related_name="charge_curve", on_delete=fields.CASCADE, primary_key=True
    )
    # The learned curve (app.smart.curve.ChargeCurve): plateau (grid kW), usable capacity (kWh per
    # 100 %), battery kWh per grid kWh, taper (fractions of the plateau at 60, 65 ... 100 %);
    # max_kw is None until a session taught enough.
    max_kw = fields.FloatField(null=True)
    capacity_kwh = fields.FloatField(null=True)
    efficiency = fields.FloatField(null=True)
    shape: fields.JSONField[list[float] | None] = fields.JSONField(null=True)
    sessions = fields.IntField(default=0)
    learned_at = fields.DatetimeField(null=True)
    # Recent samples [[SoC %, grid kW, charger limit kW]], oldest first, bounded in number.
    samples: fields.JSONField[list[list[float]]] = fields.JSONField(default=list)
    # Grid kWh and SoC points (%) of the sessions learned from, summed (capacity = kWh per point).
    energy_kwh = fields.FloatField(default=0.0)
    soc_gained = fields.FloatField(default=0.0)
    # The session being recorded (its charger's plug-in time) and its first and last (meter kWh, SoC %).
    session_plugged_at = fields.DatetimeField(null=True)
    session_first: fields.JSONField[list[float] | None] = fields.JSONField(null=True)
    session_last: fields.JSONField[list[float] | None] = fields.JSONField(null=True)
    session_samples = fields.IntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)
    vehicle_id: str

    class Meta:
        table = "vehicle_charge_curve"


class ChargingSession(Model):
    """One plug-in of a charger (and the vehicle on it, once known), with its energy and cost."""

    id = fields.CharField(max_length=32, primary_key=True, default=new_id)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="charging_sessions", on_delete=fields.CASCADE
    )
    charger: fields.ForeignKeyRelation[Charger] = fields.ForeignKeyField(
        "models.Charger", related_name="sessions", on_delete=fields.CASCADE
    )
    vehicle_id = fields.CharField(max_length=32, null=True, db_index=True)
    started_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)
    energy_kwh = fields.FloatField(default=0.0)
    #: The charger's session meter at the last poll (kWh), to count what each poll added.
    meter_kwh = fields.FloatField(null=True)
    max_power_kw = fields.FloatField(default=0.0)
    start_battery_level = fields.FloatField(null=True)
    #: When the reading behind `start_battery_level` was taken (None: no level yet).
    start_level_at = fields.DatetimeField(null=True)
    end_battery_level = fields.FloatField(null=True)
    cost = fields.FloatField(null=True)
    non_smart_cost = fields.FloatField(null=True)
    currency = fields.CharField(max_length=3, null=True)
    is_smart = fields.BooleanField(default=False)
    charger_id: str
    user_id: str

    class Meta:
        table = "charging_session"
        ordering = ["-started_at"]
