"""Vendor secrets at rest: keys, round trips, rotation, key files, refusal without a key."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import crypto
from app.db import fields as secret_fields
from app.settings import ConfigError, Settings


@pytest.fixture
def keyring() -> Iterator[crypto.Keyring]:
    """A fresh process keyring, restored afterwards."""
    before = crypto._keyring
    ring = crypto.Keyring((crypto.generate_key(),))
    crypto.configure(ring)
    yield ring
    crypto.configure(before)


@pytest.mark.parametrize("plain", ["", "hunter2", "pässwörd ✓", "x" * 5000])
def test_round_trip_hides_the_plaintext(plain: str) -> None:
    ring = crypto.Keyring((crypto.generate_key(),))
    token = ring.encrypt(plain)
    assert token.startswith(crypto.TOKEN_PREFIX)
    assert plain == "" or plain not in token
    assert ring.decrypt(token) == plain
    assert ring.encrypt(plain) != token  # random IV: equal secrets do not look equal


def test_rotation_first_key_encrypts_every_key_decrypts() -> None:
    old, new = crypto.generate_key(), crypto.generate_key()
    token = crypto.Keyring((old,)).encrypt("secret")
    both = crypto.Keyring((new, old))
    assert both.decrypt(token) == "secret"
    assert not both.is_current(token)
    rotated = both.rotate(token)
    assert both.is_current(rotated)
    only_new = crypto.Keyring((new,))
    assert only_new.decrypt(rotated) == "secret"
    with pytest.raises(crypto.SecretsUnavailable):
        only_new.decrypt(token)  # never rotated: the dropped key was needed


@pytest.mark.parametrize("raw", ["", " , ", "not-a-key", "abc," + "A" * 44, crypto.generate_key() + ",short"])
def test_bad_keys_are_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="TANDEM_SECRET_KEYS"):
        crypto.keys_for(Settings(database_url="postgres://x@127.0.0.1/db", secret_keys=raw or " , "))


def test_keys_are_comma_separated_first_encrypts() -> None:
    a, b = crypto.generate_key(), crypto.generate_key()
    ring = crypto.keys_for(Settings(secret_keys=f" {a} , {b} "))
    assert ring.keys == (a, b)
    assert crypto.Keyring((a,)).decrypt(ring.encrypt("s")) == "s"


def test_postgres_without_a_key_refuses_to_start() -> None:
    with pytest.raises(ConfigError, match="TANDEM_SECRET_KEYS is required with PostgreSQL"):
        crypto.keys_for(Settings(database_url="postgres://x@127.0.0.1/db"))


def test_sqlite_file_gets_a_private_key_file_that_survives_restarts(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite://{tmp_path}/data/t.sqlite3")
    first = crypto.keys_for(settings)
    path = tmp_path / "data" / "t.sqlite3.keys"
    assert path.exists() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = crypto.keys_for(settings)
    assert again.keys == first.keys
    assert again.decrypt(first.encrypt("kept")) == "kept"


def test_memory_sqlite_gets_a_process_key() -> None:
    ring = crypto.keys_for(Settings(database_url="sqlite://:memory:"))
    assert len(ring.keys) == 1


def test_no_keyring_is_a_clear_error() -> None:
    before = crypto._keyring
    crypto.configure(None)
    try:
        with pytest.raises(crypto.SecretsUnavailable, match="TANDEM_SECRET_KEYS"):
            crypto.encrypt("x")
    finally:
        crypto.configure(before)


def test_json_envelope_round_trip(keyring: crypto.Keyring) -> None:
    creds = {"username": "alice@example.com", "password": "p4ss"}
    sealed = secret_fields.seal_json(creds)
    assert secret_fields.is_encrypted_json(sealed)
    assert "p4ss" not in str(sealed) and "alice" not in str(sealed)
    assert secret_fields.open_json(sealed) == creds
    with pytest.raises(crypto.SecretsUnavailable, match="unencrypted"):
        secret_fields.open_json(creds)


def test_fields_encrypt_for_the_database_and_decrypt_for_python(keyring: crypto.Keyring) -> None:
    jf = secret_fields.EncryptedJSONField(default=dict)
    tf = secret_fields.EncryptedTextField(default="")
    db_json = jf.to_db_value({"password": "p4ss"}, None)
    assert db_json is not None and "p4ss" not in db_json
    assert jf.to_python_value(db_json) == {"password": "p4ss"}
    db_text = tf.to_db_value("vendor-access-token", None)
    assert db_text is not None and "vendor-access-token" not in db_text
    assert tf.to_python_value(db_text) == "vendor-access-token"
    assert tf.to_db_value("", None) == "" and tf.to_python_value("") == ""
    with pytest.raises(crypto.SecretsUnavailable):
        jf.to_python_value('{"password": "plain"}')  # plaintext in the database is never used


def test_demo_on_postgres_makes_and_keeps_its_own_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.services.demo import with_secret_key

    monkeypatch.chdir(tmp_path)
    pg = Settings(database_url="postgres://x@127.0.0.1/db")
    first = with_secret_key(pg)
    assert first.secret_keys and crypto.keys_for(first).keys == (first.secret_keys,)
    assert with_secret_key(pg).secret_keys == first.secret_keys  # persisted in data/demo.keys
    assert stat.S_IMODE(os.stat(tmp_path / "data" / "demo.keys").st_mode) == 0o600
    given = Settings(database_url="postgres://x@127.0.0.1/db", secret_keys=crypto.generate_key())
    assert with_secret_key(given) == given
    sqlite = Settings(database_url=f"sqlite://{tmp_path}/d.sqlite3")
    assert with_secret_key(sqlite) == sqlite  # its key file beside the database serves
