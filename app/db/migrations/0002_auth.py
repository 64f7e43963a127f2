"""Token expiry and revocation, client secret rotation, vendor secrets encrypted at rest, and one
user per vendor account.

Vendor secrets are encrypted with the keyring configured for the process running the migration
(`TANDEM_SECRET_KEYS`, or the SQLite key file; see app/crypto.py). The credentials and
access-token columns keep their types: only their content changes, so the field alterations
below touch the migration state, not the database.
"""

import functools
from json import dumps, loads
from typing import Any

from tortoise import fields, migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import UniqueConstraint

from app.db.fields import EncryptedJSONField, EncryptedTextField
from app.db.secrets import drop_stale_shared_links, rewrite_vendor_secrets, shared_accounts


class AlterFieldStateOnly(ops.AlterField):
    """A field whose Python class changes while its column stays the same (no DDL)."""

    async def database_forward(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def database_backward(self, *args: Any, **kwargs: Any) -> None:
        return None


async def encrypt_vendor_secrets(apps: Any, schema_editor: Any) -> None:
    """Encrypt plaintext credentials and access tokens; make room for the one-user-per-account rule."""
    client = schema_editor.client
    await rewrite_vendor_secrets(client)
    await drop_stale_shared_links(client)
    shared = await shared_accounts(client)
    if shared:
        raise RuntimeError(
            f"{shared} vendor account(s) are linked by more than one user, each with assets; a vendor account "
            "may now belong to one user only. Unlink the extra users' vehicles/chargers, then migrate again."
        )


class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Client',
            name='previous_secret_hash',
            field=fields.CharField(null=True, db_index=True, description="After `rotateClientSecret` with a grace period: the replaced secret's hash, valid until then.", max_length=64),
        ),
        ops.AddField(
            model_name='Client',
            name='previous_secret_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Client',
            name='secret_rotated_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='UserToken',
            name='expires_at',
            field=fields.DatetimeField(null=True, description='None: never expires.', auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='UserToken',
            name='last_used_at',
            field=fields.DatetimeField(null=True, description='Approximate (updated at most once a minute per process).', auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='UserToken',
            name='revoked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        AlterFieldStateOnly(
            model_name='VendorLink',
            name='access_token',
            field=EncryptedTextField(default='', description='The vendor session token, encrypted at rest.', unique=False),
        ),
        AlterFieldStateOnly(
            model_name='VendorLink',
            name='credentials',
            field=EncryptedJSONField(default=dict, description='Encrypted at rest (the column holds `{"fernet": token}`).', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.RunPython(encrypt_vendor_secrets, ops.RunPython.noop),
        ops.AddConstraint(
            model_name='VendorLink',
            constraint=UniqueConstraint(fields=('vendor', 'account_key'), name=None),
        ),
    ]
