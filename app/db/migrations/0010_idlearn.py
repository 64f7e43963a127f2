import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """idTags learnt from plug sessions confirmed by other evidence: the sightings, the learnt tags
    per vehicle, and the idTag of Tandem's own remote start (never learnt)."""

    dependencies = [("models", "0009_pairing")]

    operations = [
        ops.CreateModel(
            name="IdTagSighting",
            fields=[
                ("id", fields.BigIntField(primary_key=True, unique=True, db_index=True)),
                ("vehicle", fields.ForeignKeyField("models.Vehicle", source_field="vehicle_id", db_constraint=True,
                                                   to_field="id", related_name="id_tag_sightings",
                                                   on_delete=OnDelete.CASCADE)),
                ("id_tag", fields.CharField(max_length=20)),
                ("confirmed", fields.BooleanField()),
                ("charger_id", fields.CharField(null=True, max_length=32)),
                ("session_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "id_tag_sighting", "app": "models", "unique_together": (("vehicle", "id_tag",
                                                                                         "confirmed", "session_at"),),
                     "pk_attr": "id",
                     "table_description": "An idTag seen with a vehicle (app.domain.idtags): `confirmed` when the vehicle was"},
            bases=["Model"],
        ),
        ops.AddField(model_name="Vehicle", name="learnt_id_tags",
                     field=fields.JSONField(default=list, db_default=[], encoder=functools.partial(dumps, separators=(",", ":")),
                                            decoder=loads)),
        ops.AddField(model_name="OcppStation", name="remote_id_tag", field=fields.CharField(null=True, max_length=20)),
    ]
