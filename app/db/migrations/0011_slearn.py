from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    """A vehicle's learned charge curve and its samples; the curve a plan assumed."""

    dependencies = [('models', '0010_idlearn')]

    initial = False

    operations = [
        ops.CreateModel(
            name='VehicleChargeCurve',
            fields=[
                ('vehicle', fields.OneToOneField('models.Vehicle', source_field='vehicle_id', primary_key=True, db_index=True, db_constraint=True, to_field='id', related_name='charge_curve', on_delete=OnDelete.CASCADE)),
                ('max_kw', fields.FloatField(null=True)),
                ('capacity_kwh', fields.FloatField(null=True)),
                ('efficiency', fields.FloatField(null=True)),
                ('shape', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('sessions', fields.IntField(default=0)),
                ('learned_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('samples', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('energy_kwh', fields.FloatField(default=0.0)),
                ('soc_gained', fields.FloatField(default=0.0)),
                ('session_plugged_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('session_first', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('session_last', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('session_samples', fields.IntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'vehicle_charge_curve', 'app': 'models', 'pk_attr': 'vehicle_id', 'table_description': "A vehicle's charge curve learned from its sessions (app.smart.learning), and the recent"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='SmartChargingPlan',
            name='curve',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AlterModelOptions(
            name='VehicleChargeCurve',
            options={'table': 'vehicle_charge_curve', 'app': 'models', 'pk_attr': 'vehicle_id', 'table_description': "A vehicle's charge curve learned from its sessions (app.smart.learning), and the recent"},
        ),
    ]
