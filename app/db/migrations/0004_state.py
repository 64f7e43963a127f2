from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """Vehicle: Tandem's SoC estimate and when a charger saw its cable out."""

    dependencies = [("models", "0003_ocpp")]

    operations = [
        ops.AddField(model_name="Vehicle", name="est_level", field=fields.FloatField(null=True)),
        ops.AddField(model_name="Vehicle", name="est_at", field=fields.DatetimeField(null=True)),
        ops.AddField(model_name="Vehicle", name="est_energy", field=fields.FloatField(null=True)),
        ops.AddField(model_name="Vehicle", name="est_floor", field=fields.FloatField(null=True)),
        ops.AddField(model_name="Vehicle", name="cable_out_at", field=fields.DatetimeField(null=True)),
    ]
