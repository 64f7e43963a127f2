from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """Per-vehicle evidence of how its cloud reports: cable-report lags and clock lead."""

    dependencies = [("models", "0008_smart_options")]

    operations = [
        ops.AddField(model_name="Vehicle", name="report_lags", field=fields.JSONField(null=True)),
        ops.AddField(model_name="Vehicle", name="clock_ahead_s", field=fields.FloatField(null=True)),
    ]
