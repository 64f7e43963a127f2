"""Encryption at rest of vendor secrets (credentials, vendor access tokens).

Keys are Fernet keys (url-safe base64 of 32 bytes). `TANDEM_SECRET_KEYS` holds one or more,
comma-separated: the first encrypts, every one decrypts (`MultiFernet`), so a key is rotated by
putting a new key first, running `tandem rotate-secrets` (re-encrypts every row with it) and then
dropping the old key. Without `TANDEM_SECRET_KEYS`:

- a SQLite file database (the embedded default and the demo) uses a key file beside it,
  `<database file>.keys`, created with mode 0600 on first start;
- an in-memory SQLite database gets a key for the life of the process;
- PostgreSQL refuses to start: its processes may run on several machines and must share a key.

The keyring is process-wide, set by `configure` when the database is initialised.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.settings import ConfigError, Settings

#: Every Fernet token (version byte 0x80) starts with this in url-safe base64.
TOKEN_PREFIX = "gAAAAA"
KEYS_VARIABLE = "TANDEM_SECRET_KEYS"


class SecretsUnavailable(RuntimeError):
    """No keyring is configured, or a stored secret cannot be decrypted with its keys."""


def generate_key() -> str:
    """A new random Fernet key (text)."""
    return Fernet.generate_key().decode()


def parse_keys(raw: str, source: str = KEYS_VARIABLE) -> list[str]:
    """Comma- or line-separated Fernet keys; raises ConfigError naming `source` on a bad one."""
    keys = [k.strip() for k in raw.replace("\n", ",").split(",") if k.strip()]
    if not keys:
        raise ConfigError(f"{source} holds no key")
    for i, key in enumerate(keys, 1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise ConfigError(f"{source}: key {i} is not a Fernet key (32 url-safe base64-encoded bytes)") from None
    return keys


@dataclass(frozen=True)
class Keyring:
    """Encrypts with the first key, decrypts with any."""

    keys: tuple[str, ...]
    _fernet: MultiFernet = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigError(f"{KEYS_VARIABLE} holds no key")
        object.__setattr__(self, "_fernet", MultiFernet([Fernet(k.encode()) for k in self.keys]))

    def encrypt(self, plaintext: str) -> str:
        """A Fernet token (text) of `plaintext`."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        """The plaintext of a token; raises SecretsUnavailable when no key opens it."""
        return self._apply(self._fernet.decrypt, token).decode()

    def rotate(self, token: str) -> str:
        """The same plaintext re-encrypted with the first key; SecretsUnavailable when no key opens it."""
        return self._apply(self._fernet.rotate, token).decode()

    @staticmethod
    def _apply(op: Callable[[bytes], bytes], token: str) -> bytes:
        try:
            return op(token.encode())
        except (InvalidToken, ValueError, TypeError):
            raise SecretsUnavailable(
                f"a stored vendor secret cannot be decrypted with the keys in {KEYS_VARIABLE} "
                "(was the key that encrypted it removed?)"
            ) from None

    def is_current(self, token: str) -> bool:
        """Whether `token` was encrypted with the first key."""
        try:
            Fernet(self.keys[0].encode()).decrypt(token.encode())
            return True
        except (InvalidToken, ValueError, TypeError):
            return False


_keyring: Keyring | None = None


def configure(keyring: Keyring | None) -> None:
    """Install the process keyring (None: none)."""
    global _keyring
    _keyring = keyring


def current() -> Keyring:
    """The process keyring; raises SecretsUnavailable when none is configured."""
    if _keyring is None:
        raise SecretsUnavailable(f"no encryption key is configured ({KEYS_VARIABLE})")
    return _keyring


def encrypt(plaintext: str) -> str:
    """Encrypt with the process keyring."""
    return current().encrypt(plaintext)


def decrypt(token: str) -> str:
    """Decrypt with the process keyring."""
    return current().decrypt(token)


def key_file_for(database_url: str) -> str | None:
    """The key file of a SQLite file database (`<file>.keys`); None for memory or PostgreSQL."""
    if not database_url.startswith("sqlite://"):
        return None
    path = database_url[len("sqlite://"):].split("?", 1)[0]
    if path in ("", ":memory:"):
        return None
    return os.path.abspath(path) + ".keys"


def read_or_create_key_file(path: str) -> list[str]:
    """The keys in `path`, creating it (mode 0600, one new key) when it does not exist."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(generate_key() + "\n")
    with open(path) as f:
        return parse_keys(f.read(), source=path)


def keys_for(settings: Settings) -> Keyring:
    """The keyring these settings call for (see the module docstring); ConfigError when none can be had."""
    if settings.secret_keys.strip():
        return Keyring(tuple(parse_keys(settings.secret_keys)))
    path = key_file_for(settings.database_url)
    if path is not None:
        return Keyring(tuple(read_or_create_key_file(path)))
    if settings.is_sqlite:
        return Keyring((generate_key(),))
    raise ConfigError(
        f"{KEYS_VARIABLE} is required with PostgreSQL: vendor credentials are encrypted at rest and every "
        "process must use the same key (create one with `tandem generate-secret-key`)"
    )
