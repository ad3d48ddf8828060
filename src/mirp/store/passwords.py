"""Password hashing (argon2id), run in the worker pool (work.py), never on the control loop.

argon2 releases the GIL while it hashes, so a thread would not stall the loop by itself; the
pool is used anyway because it bounds how many hashes run at once (a login storm takes at most
MIRP_CPU_WORKERS cores, never the media plane's).
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane): the library default (64 MiB,
# 4 lanes) took seconds per login on a busy 2-core server and made logins a denial-of-service
# lever; this stays well above what offline guessing can afford.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@cache
def _dummy() -> str:
    """Verified against when the e-mail is unknown, so both answers take the same time."""
    return _hasher.hash("not a password of anyone")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; with no hash (unknown account) it does the same work and
    answers False."""
    try:
        _hasher.verify(password_hash or _dummy(), password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None
