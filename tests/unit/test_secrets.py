"""The key for data at rest (#12): a file no database copy holds, created only in development,
refused when missing or exposed in production (fail closed); one subkey per purpose."""

from __future__ import annotations

import base64
import os
import stat
import threading
from pathlib import Path

import pytest

from core import secrets
from core.settings import ConfigurationError

DEVELOPMENT = "development"


def _settings(path: Path, environment: str = "production") -> dict[str, str]:
    return {"cjs.secrets.key_file": str(path), "cjs.environment": environment}


def test_development_creates_a_private_key_file_once(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secrets.key"

    keys = secrets.keys_for(_settings(path, DEVELOPMENT))

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(base64.b64decode(path.read_text())) == secrets.KEY_BYTES
    content = path.read_text()
    secrets.create_key_file(path)  # another process starting later: the key stays
    assert path.read_text() == content
    assert secrets.keys_for(_settings(path, DEVELOPMENT)) is keys
    assert [p.name for p in path.parent.iterdir()] == ["secrets.key"]  # no temporary left


def test_processes_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    """Several app processes of one machine start together: the first file written wins."""
    path = tmp_path / "secrets.key"
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        secrets.create_key_file(path)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(base64.b64decode(path.read_text())) == secrets.KEY_BYTES
    assert [p.name for p in tmp_path.iterdir()] == ["secrets.key"]


def test_production_refuses_a_missing_key_file_and_creates_none(tmp_path: Path) -> None:
    path = tmp_path / "secrets.key"

    with pytest.raises(ConfigurationError, match=r"^cjs\.secrets\.key_file: .* does not exist"):
        secrets.keys_for(_settings(path))

    assert not path.exists()


@pytest.mark.parametrize(
    ("content", "mode", "message"),
    [
        (base64.b64encode(bytes(range(32))).decode(), 0o644, "readable by others"),
        (base64.b64encode(bytes(range(16))).decode(), 0o600, "16 bytes, at least 32"),
        ("not base64!", 0o600, "not base64"),
        ("", 0o600, "0 bytes"),
    ],
    ids=["world-readable", "short", "not-base64", "empty"],
)
def test_production_refuses_an_exposed_or_malformed_key_file(
    tmp_path: Path, content: str, mode: int, message: str
) -> None:
    path = tmp_path / "secrets.key"
    path.write_text(content)
    path.chmod(mode)

    with pytest.raises(ConfigurationError, match=message):
        secrets.keys_for(_settings(path))


def test_the_app_does_not_start_in_production_without_its_key_file(
    app_settings: dict[str, str], tmp_path: Path
) -> None:
    """Fail closed at start, not at the first mail: the sender is built when the app is."""
    from core.app import make_app

    settings = {
        **app_settings,
        "cjs.environment": "production",
        "cjs.ca.key_passphrase": "env:CJS_TEST_CA_PASSPHRASE",
        "cjs.secrets.key_file": str(tmp_path / "missing.key"),
    }
    os.environ["CJS_TEST_CA_PASSPHRASE"] = app_settings["cjs.ca.key_passphrase"]
    try:
        with pytest.raises(ConfigurationError, match=r"^cjs\.secrets\.key_file: "):
            make_app(settings)
    finally:
        del os.environ["CJS_TEST_CA_PASSPHRASE"]


def test_each_purpose_has_its_own_subkey() -> None:
    keys = secrets.SecretKeys.from_master(os.urandom(32))

    assert len({keys.outbox_body, keys.audit_pseudonym}) == 2
    assert all(len(key) == 32 for key in (keys.outbox_body, keys.audit_pseudonym))


def test_a_pseudonym_is_stable_keyed_and_does_not_hold_the_text() -> None:
    """#12 item 5: the same typed text gives the same pseudonym (tries correlate); another key
    another one; the text itself is not in it."""
    typed = "Passw0rd!"
    keys = secrets.SecretKeys.from_master(os.urandom(32))
    other = secrets.SecretKeys.from_master(os.urandom(32))

    pseudonym = keys.pseudonym(typed)

    assert pseudonym == keys.pseudonym(typed) != keys.pseudonym("Passw0rd?")
    assert pseudonym != other.pseudonym(typed)
    assert pseudonym.startswith("hmac:") and len(pseudonym) == len("hmac:") + 16
    assert typed.lower() not in pseudonym.lower()


def test_sealing_binds_the_associated_data() -> None:
    keys = secrets.SecretKeys.from_master(os.urandom(32))

    sealed = keys.seal("認証コード：493817", associated="<a@cjs>")

    assert b"493817" not in sealed
    assert keys.unseal(sealed, associated="<a@cjs>") == "認証コード：493817"
    with pytest.raises(secrets.UnsealError):
        keys.unseal(sealed, associated="<b@cjs>")
    with pytest.raises(secrets.UnsealError):
        keys.unseal(sealed[:-1] + bytes([sealed[-1] ^ 1]), associated="<a@cjs>")
    with pytest.raises(secrets.UnsealError):
        keys.unseal(b"\x02" + sealed[1:], associated="<a@cjs>")
