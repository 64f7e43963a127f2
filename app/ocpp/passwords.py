"""Charge point passwords (OCPP security profile 1): stored as scrypt hashes, compared in constant time.

scrypt is slow on purpose (about 50-80 ms of one core and 16 MB per check with these parameters):
the async forms run it in threads of their own (hashlib releases the GIL), so the event loop keeps
serving every other socket while a charge point's handshake or a link is being checked. There are
one fewer such threads than cores (at least one): a reconnect storm queues its checks there and
leaves a core to the sockets, and the memory scrypt keeps per thread stays bounded.

Each check allocates a 16 MB buffer (128 · r · N bytes). glibc serves a block that large from
mmap, but after freeing it raises its mmap threshold to that size, so from the second check on the
buffer comes from a thread's heap arena and stays resident: +16 MB per process for good, which
was half of the OCPP bench's "memory per connection" at 1,000 charge points. The threshold is
pinned at import (`mallopt(M_MMAP_THRESHOLD)`), so every check's buffer is mmapped and given back.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import hashlib
import hmac
import math
import os
import random
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

N, R, P = 2**14, 8, 1
#: glibc's mallopt parameter, and the size from which blocks are mmapped (and unmapped when freed).
M_MMAP_THRESHOLD = -3
MMAP_FROM_BYTES = 1 << 20


def pin_mmap_threshold() -> bool:
    """Keep blocks of MMAP_FROM_BYTES and more out of the heap arenas (glibc; elsewhere a no-op:
    False), so a scrypt buffer is returned to the system when its check ends."""
    name = ctypes.util.find_library("c")
    try:
        return bool(name and ctypes.CDLL(name).mallopt(M_MMAP_THRESHOLD, MMAP_FROM_BYTES) == 1)
    except (OSError, AttributeError):  # no such library or function (musl, macOS)
        return False


pin_mmap_threshold()
THREADS = max(1, (os.cpu_count() or 2) - 1)
_THREADS = ThreadPoolExecutor(THREADS, thread_name_prefix="scrypt")
#: Handshake checks queued at most (about a second of work per thread): past that a handshake is
#: refused at once (`busy`), and the charge point retries later, as it does after any refusal. A
#: reconnect storm (every charge point after a restart) so drains at the checks' pace, instead of
#: queueing checks for sockets whose charge point has given up waiting and retried meanwhile.
MAX_WAITING = 16 * THREADS
_checks = 0
#: One check's duration in a password thread (s): a moving average of the measured ones, so a
#: refused handshake is told how long the queued checks will take (`retry_after_s`).
_per_check_s = 0.08


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


async def hashed(password: str) -> str:
    """`hash_password` in a password thread."""
    return await asyncio.get_running_loop().run_in_executor(_THREADS, hash_password, password)


def busy() -> bool:
    """Whether `MAX_WAITING` handshake checks are already queued or running."""
    return _checks >= MAX_WAITING


def per_check_s() -> float:
    """The measured duration of one check in a password thread (s, a moving average)."""
    return _per_check_s


def retry_after_s() -> int:
    """Seconds a handshake refused as `busy` is told to wait (`Retry-After`): the work queued in
    the password threads at the measured pace per check, times a random factor in [1, 2) so the
    refused charge points do not all come back at the same moment; at least 1."""
    backlog_s = _checks * _per_check_s / THREADS
    return max(1, math.ceil(backlog_s * random.uniform(1.0, 2.0)))


def _timed_verify(password: str, stored: str | None) -> bool:
    """`verify`, folding its duration into `_per_check_s` (runs in a password thread)."""
    global _per_check_s
    start = time.perf_counter()
    try:
        return verify(password, stored)
    finally:
        _per_check_s += 0.1 * (time.perf_counter() - start - _per_check_s)


async def check(password: str, stored: str | None) -> bool:
    """`verify` in a password thread."""
    global _checks
    _checks += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_THREADS, _timed_verify, password, stored)
    finally:
        _checks -= 1
