"""Password hashing with argon2id (RFC 9106 low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


def make_hasher() -> PasswordHasher:
    """The production hasher: argon2id with RFC 9106's low-memory profile (t=3, 64 MiB, p=4)."""
    return PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)


_hasher = make_hasher()


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password`` (salted; the hash names its parameters)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; argon2 compares in constant time."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def is_argon2_hash(value: str) -> bool:
    """Whether ``value`` looks like an argon2id hash string (bank files may carry hashes)."""
    return value.startswith("$argon2id$")
