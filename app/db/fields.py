"""Model fields that encrypt their value at rest with the process keyring (`app.crypto`).

The column types do not change: `EncryptedJSONField` is a JSON column holding
`{"fernet": "<token>"}`, `EncryptedTextField` a text column holding the token ("" stays ""
and means "none"). Python code reads and writes plain values; only the database sees tokens.
A stored JSON value that is not an envelope (plaintext left by a missed migration), or a token
that no configured key opens, raises `SecretsUnavailable` instead of being used.
"""

from __future__ import annotations

import json
from typing import Any

from tortoise import fields

from app import crypto

#: The key of the one entry an encrypted JSON value is stored as.
ENVELOPE = "fernet"


def is_encrypted_json(value: Any) -> bool:
    """Whether a decoded JSON column value is an encrypted envelope."""
    return isinstance(value, dict) and set(value) == {ENVELOPE} and isinstance(value[ENVELOPE], str)


def seal_json(value: Any) -> dict[str, str]:
    """The envelope holding `value` (any JSON value) encrypted."""
    return {ENVELOPE: crypto.encrypt(json.dumps(value, separators=(",", ":"), sort_keys=True))}


def open_json(value: Any) -> Any:
    """The JSON value inside an envelope; SecretsUnavailable for anything else."""
    if not is_encrypted_json(value):
        raise crypto.SecretsUnavailable("a vendor secret is stored unencrypted: run `tandem migrate`")
    return json.loads(crypto.decrypt(value[ENVELOPE]))


class EncryptedJSONField(fields.JSONField):  # type: ignore[type-arg]
    """A JSON value stored encrypted (see the module docstring)."""

    def to_db_value(self, value: Any, instance: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, (str, bytes)):
            value = json.loads(value)
        return super().to_db_value(seal_json(value), instance)

    def to_python_value(self, value: Any) -> Any:
        if isinstance(value, (str, bytes)):  # from the database: must be an envelope
            return open_json(self.decoder(value))
        return value  # a Python value being assigned (Model(...) passes kwargs through here)


class EncryptedTextField(fields.TextField):
    """A text value stored encrypted; the empty string is stored as is (see the module docstring)."""

    def to_db_value(self, value: Any, instance: Any) -> str | None:
        if value is None or value == "":
            return value  # type: ignore[no-any-return]
        return crypto.encrypt(str(value))

    def to_python_value(self, value: Any) -> str | None:
        if isinstance(value, str) and value.startswith(crypto.TOKEN_PREFIX):
            return crypto.decrypt(value)
        # "" / None, or a Python value being assigned (Model(...) passes kwargs through here).
        return value  # type: ignore[no-any-return]
