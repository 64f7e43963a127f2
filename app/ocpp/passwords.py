"""Charge point passwords (OCPP security profile 1): stored as scrypt hashes, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt$hash` (hex) of `password`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${salt.hex()}${digest.hex()}"


#: Compared against when the charge point id is unknown, so both answers take as long.
_DUMMY = hash_password(secrets.token_urlsafe(16))


def verify(password: str, stored: str | None) -> bool:
    """Whether `password` matches `stored` (a `hash_password` value; None: unknown id, still hashed)."""
    try:
        _, n, r, p, salt, digest = (stored or _DUMMY).split("$")
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(got.hex(), digest) and stored is not None
