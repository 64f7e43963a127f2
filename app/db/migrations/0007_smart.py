from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from app.db.models import new_id
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_decisions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChargingSession',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=32)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='charging_sessions', on_delete=OnDelete.CASCADE)),
                ('charger', fields.ForeignKeyField('models.Charger', source_field='charger_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('vehicle_id', fields.CharField(null=True, db_index=True, max_length=32)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ended_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('energy_kwh', fields.FloatField(default=0.0)),
                ('meter_kwh', fields.FloatField(null=True, description="The charger's session meter at the last poll (kWh), to count what each poll added.")),
                ('max_power_kw', fields.FloatField(default=0.0)),
                ('start_battery_level', fields.FloatField(null=True)),
                ('end_battery_level', fields.FloatField(null=True)),
                ('cost', fields.FloatField(null=True)),
                ('non_smart_cost', fields.FloatField(null=True)),
                ('currency', fields.CharField(null=True, max_length=3)),
                ('is_smart', fields.BooleanField(default=False)),
            ],
            options={'table': 'charging_session', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One plug-in of a charger (and the vehicle on it, once known), with its energy and cost.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SmartChargingPlan',
            fields=[
                ('vehicle', fields.OneToOneField('models.Vehicle', source_field='vehicle_id', primary_key=True, db_index=True, db_constraint=True, to_field='id', related_name='smart_plan', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='smart_plans', on_delete=OnDelete.CASCADE)),
                ('plan_id', fields.CharField(default=new_id, max_length=32)),
                ('state', fields.CharField(default='DISABLED', max_length=30)),
                ('session_plugged_at', fields.DatetimeField(null=True, description="The plug session this plan is for (the charger's plug-in time) and its deadline.", auto_now=False, auto_now_add=False)),
                ('deadline_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('start_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('stop_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('estimated_finish_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('energy_kwh', fields.FloatField(null=True)),
                ('smart_cost', fields.FloatField(null=True)),
                ('non_smart_cost', fields.FloatField(null=True)),
                ('currency', fields.CharField(null=True, max_length=3)),
                ('slots', fields.JSONField(default=list, description='[{"startAt", "endAt", "powerKw", "price"}]', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('reason', fields.TextField(null=True, unique=False)),
                ('planned', fields.BooleanField(default=False, description='Whether a plan (not boost, not the minimum alone) steered this session.')),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'smart_charging_plan', 'app': 'models', 'pk_attr': 'vehicle_id', 'table_description': 'The current smart charging plan of a vehicle (one row per vehicle, rewritten on re-plan).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SmartChargingPolicy',
            fields=[
                ('vehicle', fields.OneToOneField('models.Vehicle', source_field='vehicle_id', primary_key=True, db_index=True, db_constraint=True, to_field='id', related_name='smart_policy', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='smart_policies', on_delete=OnDelete.CASCADE)),
                ('is_enabled', fields.BooleanField(default=False)),
                ('deadline', fields.CharField(default='07:00', description='Local time "HH:MM" at the charging location.', max_length=5)),
                ('minimum_charge_limit', fields.FloatField(default=0.0)),
                ('target_charge_limit', fields.FloatField(null=True, description="None: the vehicle's own charge limit, else 80 %.")),
                ('boost_session', fields.DatetimeField(null=True, description="The plug session (its charger's plug-in time) that `boostCharging` boosts, if any.", auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'smart_charging_policy', 'app': 'models', 'pk_attr': 'vehicle_id', 'table_description': "A vehicle's smart charging wishes: when it leaves and how full it must be."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Tariff',
            fields=[
                ('location', fields.OneToOneField('models.Location', source_field='location_id', primary_key=True, db_index=True, db_constraint=True, to_field='id', related_name='tariff', on_delete=OnDelete.CASCADE)),
                ('currency', fields.CharField(max_length=3)),
                ('rates', fields.JSONField(default=list, description='[{"startAt": ISO-8601, "endAt": ISO-8601, "price": per kWh}], sorted by start.', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('repeat_daily', fields.BooleanField(default=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'tariff', 'app': 'models', 'pk_attr': 'location_id', 'table_description': 'Energy prices at a location, as the client gives them: a day-ahead series of rates, or a'},
            bases=['Model'],
        ),
    ]
