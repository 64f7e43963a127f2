from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """A smart charging plan's revision: a plan made from inputs that changed meanwhile (another
    process's tick, a policy, boost or tariff change) is not stored over the newer one."""

    dependencies = [("models", "0014_session_start_level")]

    operations = [
        ops.AddField(model_name="SmartChargingPlan", name="revision", field=fields.IntField(
            default=0, db_default=0, description="Raised by each write of the plan and each change of its inputs (see app.smart.service.tick).")),
    ]
