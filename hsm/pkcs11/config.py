"""The ``cjs.signer.pkcs11.*`` settings, read and checked: one-line errors naming the setting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.settings import ConfigurationError, resolve_secret

PREFIX = "cjs.signer.pkcs11."
DEFAULT_IDLE_SECONDS = 300
RSA_PADDINGS = ("pkcs1v15", "pss")
_SETTINGS = ("module", "token_label", "key_label", "pin", "rsa_padding", "idle_seconds")


@dataclass(frozen=True)
class Pkcs11Config:
    """The ``cjs.signer.pkcs11.*`` settings, read and checked."""

    module: str
    token_label: str
    key_label: str
    pin: str = field(repr=False)
    rsa_padding: str = "pkcs1v15"
    idle_seconds: int = DEFAULT_IDLE_SECONDS


_DOCS = {
    "module": "path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so",
    "token_label": "label of the token holding the CA key",
    "key_label": "label of the CA key on the token",
    "pin": "the token's user PIN as env:NAME or file:/path",
}


def read_config(settings: Mapping[str, Any], *, key_label: str | None = None) -> Pkcs11Config:
    """Read the ``cjs.signer.pkcs11.*`` settings; one-line :class:`ConfigurationError` for each fault."""
    unknown = sorted(
        k for k in settings if k.startswith(PREFIX) and k[len(PREFIX) :] not in _SETTINGS
    )
    if unknown:
        raise ConfigurationError(f"{unknown[0]}: unknown setting (known: {', '.join(_SETTINGS)})")

    def required(name: str) -> str:
        value = str(settings.get(PREFIX + name, "") or "").strip()
        if not value:
            raise ConfigurationError(f"{PREFIX}{name}: missing ({_DOCS[name]})")
        return value

    module = required("module")
    if not Path(module).is_file():
        raise ConfigurationError(f"{PREFIX}module: {module} does not exist")
    token_label = required("token_label")
    label = key_label or required("key_label")
    pin = resolve_secret(
        PREFIX + "pin",
        required("pin"),
        environment=str(settings.get("cjs.environment", "production")),
    )
    rsa_padding = str(settings.get(PREFIX + "rsa_padding", "pkcs1v15")).strip()
    if rsa_padding not in RSA_PADDINGS:
        raise ConfigurationError(
            f"{PREFIX}rsa_padding: expected one of {', '.join(RSA_PADDINGS)}, got {rsa_padding!r}"
        )
    raw_idle = str(settings.get(PREFIX + "idle_seconds", DEFAULT_IDLE_SECONDS)).strip()
    try:
        idle_seconds = int(raw_idle)
        if idle_seconds <= 0:
            raise ValueError
    except ValueError:
        raise ConfigurationError(
            f"{PREFIX}idle_seconds: expected a positive whole number, got {raw_idle!r}"
        ) from None
    return Pkcs11Config(module, token_label, label, pin, rsa_padding, idle_seconds)
