"""Decision inputs in the database: probes, per-path success rates, poll times, action origin;
at most one ACTIVE EV system per vehicle and per charger (partial unique indexes, SQLite and
PostgreSQL alike; Tortoise's UniqueConstraint(condition=...) is PostgreSQL-only, hence RunSQL)."""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

from app.db.models import new_id

#: Before the constraint: an ACTIVE system that shares its vehicle or charger with a later
#: ACTIVE one is demoted to ESTABLISHED (in a chain more may go than needed: pairing re-decides
#: them from the devices' data; an activation made in error is worse than a late one).
DEMOTE_DUPLICATES = """
UPDATE ev_system SET status = 'ESTABLISHED', activated_at = NULL
WHERE status = 'ACTIVE' AND EXISTS (
    SELECT 1 FROM ev_system o
    WHERE o.status = 'ACTIVE' AND o.id <> ev_system.id
      AND (o.charger_id = ev_system.charger_id OR o.vehicle_id = ev_system.vehicle_id)
      AND (COALESCE(o.activated_at, o.updated_at) > COALESCE(ev_system.activated_at, ev_system.updated_at)
           OR (COALESCE(o.activated_at, o.updated_at) = COALESCE(ev_system.activated_at, ev_system.updated_at)
               AND o.id > ev_system.id)))
"""
ONE_ACTIVE = [
    "CREATE UNIQUE INDEX ev_system_one_active_vehicle ON ev_system (vehicle_id) WHERE status = 'ACTIVE'",
    "CREATE UNIQUE INDEX ev_system_one_active_charger ON ev_system (charger_id) WHERE status = 'ACTIVE'",
]


class Migration(migrations.Migration):
    dependencies = [('models', '0005_vendors')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChargerProbe',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=32)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='probes', on_delete=OnDelete.CASCADE)),
                ('charger', fields.ForeignKeyField('models.Charger', source_field='charger_id', db_constraint=True, to_field='id', related_name='probes', on_delete=OnDelete.CASCADE)),
                ('plugged_in_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('candidates', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('phase', fields.CharField(default='PAUSING', max_length=12)),
                ('readings', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('paused_at', fields.DatetimeField(null=True, description='Set before the pause command goes out (a car may stop as soon as the charger does).', auto_now=False, auto_now_add=False)),
                ('resumed_at', fields.DatetimeField(null=True, description='When the probe decided to resume: pairing ignores charging evidence from the pause until then.', auto_now=False, auto_now_add=False)),
                ('pause_action_id', fields.CharField(null=True, max_length=32)),
                ('resume_action_id', fields.CharField(null=True, max_length=32)),
                ('interrupted', fields.TextField(null=True, description="Why it ended early (a user's action on the charger or a candidate car, an unplug, ...).", unique=False)),
                ('outcome', fields.TextField(null=True, unique=False)),
                ('chosen_vehicle_id', fields.CharField(null=True, max_length=32)),
                ('next_step_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('kicked_at', fields.DatetimeField(null=True, description='When the probe last asked for the watched cars to be polled.', auto_now=False, auto_now_add=False)),
                ('ended_at', fields.DatetimeField(null=True, db_index=True, description='When the charger was restored (its resume action ended), None while the probe holds it.', auto_now=False, auto_now_add=False)),
                ('lease_owner', fields.CharField(null=True, max_length=64)),
                ('lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'charger_probe', 'app': 'models', 'unique_together': (('charger', 'plugged_in_at'),), 'pk_attr': 'id', 'table_description': "A probe of one charger's plug session: pause it, watch which candidate car stops, resume."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PathScore',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('asset_id', fields.CharField(max_length=32)),
                ('via', fields.CharField(max_length=10)),
                ('score', fields.FloatField()),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'path_score', 'app': 'models', 'unique_together': (('asset_id', 'via'),), 'pk_attr': 'id', 'table_description': 'Recent success rate (EWMA, 0..1) of commands to one asset through one path (`via`).'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ChargeAction',
            name='origin',
            field=fields.CharField(default='USER', db_default='USER', description="USER (requested through the API, visible) | PROBE (a probe's pause or resume, internal).", max_length=10),
        ),
        ops.AddField(
            model_name='Charger',
            name='polled_at',
            field=fields.DatetimeField(null=True, description='When a poll last succeeded (a vehicle: its cloud was asked, whatever the age of its data,', auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Vehicle',
            name='polled_at',
            field=fields.DatetimeField(null=True, description='When a poll last succeeded (a vehicle: its cloud was asked, whatever the age of its data,', auto_now=False, auto_now_add=False),
        ),
        ops.RunSQL([DEMOTE_DUPLICATES, *ONE_ACTIVE],
                   reverse_sql=["DROP INDEX ev_system_one_active_vehicle", "DROP INDEX ev_system_one_active_charger"]),
    ]
