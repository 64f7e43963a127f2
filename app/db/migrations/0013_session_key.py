from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """A charger's session key (OCPP: the plug session's latest transaction id): a charger back from
    an outage continues its plug session only with the same one."""

    dependencies = [("models", "0012_session_energy")]

    operations = [
        ops.AddField(model_name="Charger", name="session_key", field=fields.CharField(null=True, max_length=40)),
    ]
