"""Passwords are stored as argon2id hashes with RFC 9106 parameters (ACC-2, AUTH-1)."""

from __future__ import annotations

import argon2

from core.auth import passwords


def test_production_parameters_are_argon2id_with_64_mib():
    hasher = passwords.make_hasher()  # what core.auth.passwords uses outside the test suite
    parameters = argon2.extract_parameters(hasher.hash("Passw0rd!"))
    assert parameters.type is argon2.Type.ID
    assert parameters.memory_cost >= 65536 and parameters.time_cost >= 3


def test_hash_and_verify():
    hashed = passwords.hash_password("Passw0rd!")
    assert hashed.startswith("$argon2id$") and "Passw0rd!" not in hashed
    assert passwords.verify_password(hashed, "Passw0rd!")
    assert not passwords.verify_password(hashed, "passw0rd!")  # case-sensitive
    assert not passwords.verify_password("not a hash", "Passw0rd!")
    assert hashed != passwords.hash_password("Passw0rd!")  # salted
