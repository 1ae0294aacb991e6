"""The key for data at rest (#12): one file outside the database, one subkey per purpose.

A copy of the database (a backup, a dump handed to support) must not give away what the service
keeps sealed or pseudonymised, so the key lives in a file no database copy holds:
``cjs.secrets.key_file`` (32 random bytes, base64, one line; mode 0600). Every app process and job of
a deployment reads the same file; several machines are provisioned with the same file
(docs/deployment.md). In development a missing file is created (atomically, 0600: the first of
several starting processes wins, the others read its key); in production a missing, empty, short or
world-readable file stops the start with :class:`~core.settings.ConfigurationError` (fail closed).

Each use gets its own subkey, derived with HKDF-SHA256 from the file's key and the purpose's name, so
a key of one purpose says nothing about another's:

- :data:`OUTBOX_BODY`: AES-GCM key sealing the outbox's mail bodies (AUTH-3: a mailed code is
  "stored only hashed"; section 7),
- :data:`AUDIT_PSEUDONYM`: HMAC-SHA256 key for what an anonymous visitor typed as an ID that matched
  nothing (the audit trail keeps a pseudonym, never the text).

Keys are read once per process and file (:func:`keys_for`); changing the file needs a restart. There
is no rotation: a new file makes sealed pending mails unreadable and new pseudonyms unlike old ones.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import stat
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.settings import ConfigurationError

#: The setting naming the key file, and its default (beside the CA's folder, ``var/ca``).
KEY_FILE_SETTING = "cjs.secrets.key_file"
DEFAULT_KEY_FILE = "var/secrets.key"
KEY_BYTES = 32

#: Purposes (the HKDF ``info``): a new purpose gets a new name, never an existing one's.
OUTBOX_BODY = "cjs/outbox-body/v1"
AUDIT_PSEUDONYM = "cjs/audit-pseudonym/v1"

#: The first byte of a sealed value: the format (AES-256-GCM, 12-byte nonce, 16-byte tag).
_SEALED_V1 = b"\x01"
_NONCE_BYTES = 12
#: A pseudonym's prefix and the hex digits of the HMAC kept (64 bits: collisions among the unknown
#: IDs one deployment sees are negligible, and the value stays short in the audit's actor column).
PSEUDONYM_PREFIX = "hmac:"
_PSEUDONYM_HEX = 16


class UnsealError(ValueError):
    """A sealed value does not open with this key and associated data (other key, or tampered)."""


@dataclass(frozen=True)
class SecretKeys:
    """The subkeys of one key file; build with :func:`keys_for`."""

    outbox_body: bytes
    audit_pseudonym: bytes

    @classmethod
    def from_master(cls, master: bytes) -> SecretKeys:
        """Derive every purpose's subkey from the file's key."""
        return cls(
            outbox_body=_derive(master, OUTBOX_BODY),
            audit_pseudonym=_derive(master, AUDIT_PSEUDONYM),
        )

    def seal(self, plaintext: str, *, associated: str) -> bytes:
        """Encrypt ``plaintext`` (AES-256-GCM, a fresh nonce) bound to ``associated`` (e.g. the
        outbox row's Message-ID: a sealed body moved to another row does not open)."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.outbox_body).encrypt(
            nonce, plaintext.encode("utf-8"), associated.encode("utf-8")
        )
        return _SEALED_V1 + nonce + sealed

    def unseal(self, sealed: bytes, *, associated: str) -> str:
        """The plaintext of :meth:`seal`; :class:`UnsealError` for another key, other associated
        data, a tampered or unknown format."""
        data = bytes(sealed)
        if data[:1] != _SEALED_V1 or len(data) < 1 + _NONCE_BYTES + 16:
            raise UnsealError("not a sealed value of a known format")
        nonce, ciphertext = data[1 : 1 + _NONCE_BYTES], data[1 + _NONCE_BYTES :]
        try:
            plaintext = AESGCM(self.outbox_body).decrypt(
                nonce, ciphertext, associated.encode("utf-8")
            )
        except InvalidTag:
            raise UnsealError("sealed with another key, for another row, or altered") from None
        return plaintext.decode("utf-8")

    def pseudonym(self, typed: str) -> str:
        """``hmac:`` and 16 hex digits of HMAC-SHA256(``typed``): the same text always gives the
        same pseudonym (tries stay correlatable), and the text cannot be read back from it."""
        digest = hmac.new(self.audit_pseudonym, typed.encode("utf-8"), hashlib.sha256).hexdigest()
        return PSEUDONYM_PREFIX + digest[:_PSEUDONYM_HEX]


def _derive(master: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode("ascii")
    ).derive(master)


_CACHE: dict[Path, SecretKeys] = {}
_LOCK = threading.Lock()


def key_file(settings: Mapping[str, Any]) -> Path:
    """The key file named by ``cjs.secrets.key_file`` (default ``var/secrets.key``), absolute."""
    return Path(str(settings.get(KEY_FILE_SETTING, DEFAULT_KEY_FILE)).strip()).absolute()


def keys_for(settings: Mapping[str, Any]) -> SecretKeys:
    """The subkeys of the key file of ``settings``, read once per process and file.

    In development (``cjs.environment``) a missing file is created; otherwise a missing or bad file
    raises :class:`ConfigurationError` naming ``cjs.secrets.key_file``.
    """
    path = key_file(settings)
    with _LOCK:
        keys = _CACHE.get(path)
        if keys is None:
            create = str(settings.get("cjs.environment", "production")).strip() == "development"
            keys = SecretKeys.from_master(_read_or_create(path, create=create))
            _CACHE[path] = keys
        return keys


def _read_or_create(path: Path, *, create: bool) -> bytes:
    if create and not path.exists():
        create_key_file(path)
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise ConfigurationError(
            f"{KEY_FILE_SETTING}: {path} does not exist (provision the deployment's key file, "
            "see docs/deployment.md)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{KEY_FILE_SETTING}: cannot read {path}: {exc}") from None
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise ConfigurationError(f"{KEY_FILE_SETTING}: {path} is readable by others (chmod 600)")
    try:
        master = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ConfigurationError(f"{KEY_FILE_SETTING}: {path} is not base64") from None
    if len(master) < KEY_BYTES:
        raise ConfigurationError(
            f"{KEY_FILE_SETTING}: {path} holds {len(master)} bytes, at least {KEY_BYTES} needed"
        )
    return master


def create_key_file(path: Path) -> None:
    """Write a new random key to ``path`` (0600) unless it exists: a private temporary file
    hard-linked to the name, so of several processes starting at once one wins and the others
    read its key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii") + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)  # never replaces a key another process wrote first
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
