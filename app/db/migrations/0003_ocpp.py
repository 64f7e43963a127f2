from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_auth')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OcppStation',
            fields=[
                ('charge_point_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=48)),
                ('charger', fields.ForeignKeyField('models.Charger', source_field='charger_id', null=True, db_constraint=True, to_field='id', related_name='ocpp_station', on_delete=OnDelete.CASCADE)),
                ('password_hash', fields.CharField(description='scrypt hash of the Basic-auth password ("scrypt$n$r$p$salt$hash", hex).', max_length=200)),
                ('connected_node', fields.CharField(null=True, description='The web process holding the websocket (None: not connected anywhere).', max_length=100)),
                ('connected_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_message_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('heartbeat_s', fields.IntField(default=300)),
                ('vendor_name', fields.CharField(null=True, max_length=50)),
                ('model_name', fields.CharField(null=True, max_length=50)),
                ('serial', fields.CharField(null=True, max_length=50)),
                ('firmware', fields.CharField(null=True, max_length=50)),
                ('status', fields.CharField(null=True, description="Connector 1's status (Available, Preparing, Charging, ...) and its (clamped) timestamp.", max_length=20)),
                ('status_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('status_claimed_at', fields.DatetimeField(null=True, description="The charge point's own timestamp of that status (its clock), to order its messages.", auto_now=False, auto_now_add=False)),
                ('error_code', fields.CharField(null=True, max_length=40)),
                ('features', fields.JSONField(default=list, description='Configuration read at connect: feature profiles, rate unit ("A"/"W"), remote-start auth.', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('rate_unit', fields.CharField(null=True, max_length=1)),
                ('authorize_remote', fields.BooleanField(null=True)),
                ('transaction_id', fields.IntField(null=True)),
                ('tx_id_tag', fields.CharField(null=True, max_length=20)),
                ('tx_started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('tx_meter_start_wh', fields.FloatField(null=True)),
                ('last_id_tag', fields.CharField(null=True, description='The last idTag the charge point presented (Authorize / StartTransaction).', max_length=20)),
                ('last_id_tag_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('power_w', fields.FloatField(null=True)),
                ('energy_wh', fields.FloatField(null=True)),
                ('soc', fields.FloatField(null=True)),
                ('meter_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('limit_a', fields.FloatField(null=True, description='Limit Tandem set (A) with a TxDefaultProfile, and whether a TxProfile pauses the session.')),
                ('paused', fields.BooleanField(default=False)),
                ('reported_limit_a', fields.FloatField(null=True, description='The effective limit the charge point reported (GetCompositeSchedule), in A.')),
                ('next_tx_id', fields.IntField(default=1)),
            ],
            options={'table': 'ocpp_station', 'app': 'models', 'pk_attr': 'charge_point_id', 'table_description': 'An OCPP 1.6J charge point linked to a charger, and what it last reported.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Charger',
            name='session_id_tag',
            field=fields.CharField(null=True, description="The idTag the current session was started with, and the car's SoC (%) as the charger", max_length=20),
        ),
        ops.AddField(
            model_name='Charger',
            name='session_soc',
            field=fields.FloatField(null=True),
        ),
        ops.AddField(
            model_name='Vehicle',
            name='id_tags',
            field=fields.JSONField(default=list, db_default=[], description='RFID cards or ISO 15118 ids seen with this vehicle (OCPP idTags): pairing evidence.', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
