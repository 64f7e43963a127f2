from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """When the reading behind a charging session's start battery level was taken: a level from a
    reading older than the session is taken again from the first newer one."""

    dependencies = [("models", "0013_session_key")]

    operations = [
        ops.AddField(model_name="ChargingSession", name="start_level_at", field=fields.DatetimeField(
            null=True, description="When the reading behind `start_battery_level` was taken (None: no level yet).")),
    ]
