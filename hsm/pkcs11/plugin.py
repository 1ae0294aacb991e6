"""The PKCS#11 signer's hooks: the ``cjs.signers`` entry point ``pkcs11``.

``cjs ca init`` keeps a CA whose key is on the token (checked with a signature) or makes the key
(``cjs.signer.pkcs11.key_label``, generated per ``cjs.ca.key_type`` unless a key of that label is
there) and self-signs its certificate on the token. ``cjs ca rotate`` does the same with
``--key-label``, by default the configured label plus ``-YYYYMMDD`` when the configured key is the
current CA's (else the configured label itself: a rotation from another signer to the token).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography import x509

from core.hookspecs import NewCAKey, RetiredKey, SignerFactory, hookimpl
from core.pki.x509 import CA_CERT_FILE, ca_dir
from core.settings import ConfigurationError
from hsm.pkcs11.ca_keys import ensure_key, self_signed_ca
from hsm.pkcs11.config import PREFIX, read_config
from hsm.pkcs11.signer import Pkcs11Signer

NAME = Pkcs11Signer.name


@hookimpl
def cjs_signer_factories() -> Mapping[str, SignerFactory]:
    """The PKCS#11 signer, registered under the name ``pkcs11``."""
    return {NAME: Pkcs11Signer.from_settings}


@hookimpl
def cjs_signer_has_ca_key(
    signer: str, settings: Mapping[str, Any], ca_certificate: x509.Certificate
) -> bool | None:
    """The CA's key must be on the token: checked with a signature, else one line says why."""
    if signer != NAME:
        return None
    path = ca_dir(settings) / CA_CERT_FILE
    Pkcs11Signer.for_certificate(read_config(settings), ca_certificate, path)
    return True


@hookimpl
def cjs_signer_new_ca_key(
    signer: str,
    settings: Mapping[str, Any],
    key_label: str | None,
    replacing: x509.Certificate | None,
    replacing_key: RetiredKey | None,
    now: dt.datetime,
) -> NewCAKey | None:
    """The key labelled ``key_label`` (or the default label) on the token, made there if missing."""
    if signer != NAME:
        return None
    configured = read_config(settings).key_label  # every setting checked first
    label = key_label or configured
    current = (replacing_key.signer, replacing_key.key) if replacing_key else None
    if key_label is None and current == (NAME, configured):
        label = f"{configured}-{now:%Y%m%d}"  # the configured key is the current CA's
    config, made = ensure_key(settings, key_label=label)
    if replacing is not None and made.key.public_key() == replacing.public_key():
        raise ConfigurationError(
            f"{PREFIX}key_label: key {label!r} is the current CA's key; name a new one"
        )
    certificate = self_signed_ca(settings, config, made.key, now)
    steps = () if label == configured else (f"set {PREFIX}key_label = {label} (the new CA key)",)
    return NewCAKey(certificate, label, next_steps=steps)


@hookimpl(trylast=True)
def cjs_signer_retire_ca_key(settings: Mapping[str, Any]) -> RetiredKey | None:
    """The configured key label, when the settings name one: the key stays on the token.

    Tried last: this answer comes from the settings, not from the token, so a signer that finds the
    retired CA's key itself (the software signer's key file) answers first.
    """
    label = str(settings.get(PREFIX + "key_label") or "")
    return RetiredKey(NAME, label) if label else None


@hookimpl
def cjs_signer_previous_ca(
    signer: str,
    key: str,
    settings: Mapping[str, Any],
    ca_certificate: x509.Certificate,
    path: Path,
) -> Pkcs11Signer | None:
    """The previous CA's key by its label on the configured token (checked with a signature)."""
    if signer != NAME or PREFIX + "module" not in settings:
        return None
    config = read_config(settings, key_label=key)
    return Pkcs11Signer.for_certificate(config, ca_certificate, path)
