"""Charge point credentials this process has verified, so a charge point reconnecting to the same
process (a network blip, a dropped socket) skips the scrypt check.

An entry is `chargePointId -> (stored hash, HMAC-SHA256 of the password)`, the HMAC under a random
key of this process (never written anywhere): the password itself is not kept, and the entry is
worthless outside this process. A hit needs the same stored hash (a relink or a new password
misses) and the same HMAC, compared in constant time; anything else (a wrong password, an unknown
id) goes to scrypt as before and fails there. At most `max_entries` entries, least recently used
dropped first (about 200 bytes each).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from typing import Literal

from app.ocpp import passwords

Outcome = Literal["cached", "accepted", "unauthenticated", "busy"]
#: Entries kept at most: more charge points than one web process holds sockets for.
MAX_ENTRIES = 200_000


class VerifiedCredentials:
    """An LRU of credentials that passed `passwords.verify` in this process."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max(1, max_entries)
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[str, tuple[str, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def knows(self, cp_id: str) -> bool:
        """Whether `cp_id` has an entry (it may still miss: `hit` compares hash and password)."""
        return cp_id in self._entries

    def _mac(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode(), hashlib.sha256).digest()

    def hit(self, cp_id: str, password: str, stored: str | None) -> bool:
        """Whether `password` was verified against `stored` for `cp_id` by this process."""
        entry = self._entries.get(cp_id)
        if entry is None or stored is None or entry[0] != stored:
            return False
        if not hmac.compare_digest(entry[1], self._mac(password)):
            return False
        self._entries.move_to_end(cp_id)
        return True

    def remember(self, cp_id: str, password: str, stored: str) -> None:
        """Note a verified credential (replacing `cp_id`'s previous one)."""
        self._entries[cp_id] = (stored, self._mac(password))
        self._entries.move_to_end(cp_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def check(self, cp_id: str, password: str, stored: str | None) -> Outcome:
        """Whether `password` is `cp_id`'s (`stored`: its hash, None for an unknown id):
        "cached" when this process's entry matched (no scrypt); else, unless the password threads
        are `passwords.busy()` ("busy": nothing checked), scrypt in a password thread: "accepted"
        (remembered) or "unauthenticated"."""
        if self.hit(cp_id, password, stored):
            return "cached"
        if passwords.busy():
            return "busy"
        if not await passwords.check(password, stored):
            return "unauthenticated"
        if stored is not None:
            self.remember(cp_id, password, stored)
        return "accepted"
