"""Vendors: until when a vendor rate-limits an asset (shown as `rateLimitedUntil`)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0004_state")]

    operations = [
        ops.AddField(model_name="Vehicle", name="rate_limited_until",
                     field=fields.DatetimeField(null=True)),
        ops.AddField(model_name="Charger", name="rate_limited_until",
                     field=fields.DatetimeField(null=True)),
    ]
