from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """An OCPP plug session's energy across its transactions: connector 1's latest transaction
    (running or ended) and what the plug session's earlier transactions delivered (Wh). Also
    brings `last_id_tag`'s description up to date with the model (drift since connectors)."""

    dependencies = [("models", "0011_slearn")]

    operations = [
        ops.AddField(model_name="OcppStation", name="last_tx_id", field=fields.IntField(null=True)),
        ops.AddField(model_name="OcppStation", name="session_prior_wh",
                     field=fields.FloatField(default=0.0, db_default=0.0)),
        ops.AlterField(model_name="OcppStation", name="last_id_tag", field=fields.CharField(
            null=True, max_length=20,
            description="The idTag of connector 1's last StartTransaction (an Authorize names no connector).")),
    ]
