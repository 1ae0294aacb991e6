"""CA keys on the token for ``cjs ca init`` and ``cjs ca rotate``: generated there (sensitive, never
extractable, sign only) or found by label, the CA certificate self-signed on the token, and the key's
security attributes for the key ceremony's record."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from pkcs11 import Attribute, KeyType, MechanismFlag
from pkcs11 import exceptions as p11e
from pkcs11.util.ec import encode_named_curve_parameters

from core.pki.x509 import build_ca_certificate, signature_hash
from core.settings import ConfigurationError
from hsm.interfaces import SignerUnavailable
from hsm.pkcs11.config import PREFIX, Pkcs11Config, read_config
from hsm.pkcs11.errors import reason
from hsm.pkcs11.keys import (
    CURVE_NAMES,
    KeyRef,
    TokenKey,
    TokenRSAKey,
    check_mechanism,
    find_private_keys,
    open_key,
    public_key_on_token,
    rsa_padding_for,
)
from hsm.pkcs11.session import connect, start_error

log = logging.getLogger(__name__)


def generate_key_pair(session: Any, key_type: str, label: str) -> Any:
    """Generate the CA key pair on the token: private key sensitive, never extractable, sign only."""
    private_template = {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.SIGN: True,
        Attribute.DECRYPT: False,
        Attribute.UNWRAP: False,
        Attribute.DERIVE: False,
    }
    public_template = {
        Attribute.TOKEN: True,
        Attribute.VERIFY: True,
        Attribute.ENCRYPT: False,
        Attribute.WRAP: False,
    }
    capabilities = MechanismFlag.SIGN | MechanismFlag.VERIFY
    temporary_id = os.urandom(20)
    if key_type in CURVE_NAMES:
        parameters = session.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: encode_named_curve_parameters(CURVE_NAMES[key_type])},
            local=True,
        )
        public, private = parameters.generate_keypair(
            store=True,
            label=label,
            id=temporary_id,
            capabilities=capabilities,
            public_template=public_template,
            private_template=private_template,
        )
    elif key_type in {"rsa-2048", "rsa-3072", "rsa-4096"}:
        public, private = session.generate_keypair(
            KeyType.RSA,
            int(key_type[4:]),
            store=True,
            label=label,
            id=temporary_id,
            capabilities=capabilities,
            public_template=public_template,
            private_template=private_template,
        )
    else:
        raise ConfigurationError(f"cjs.ca.key_type: cannot generate {key_type!r} on a token")
    key = public_key_on_token(session, private)
    # CKA_ID = the subject key identifier of the CA certificate to come, so the key is found by it.
    ski = x509.SubjectKeyIdentifier.from_public_key(key).digest
    try:
        private[Attribute.ID] = ski
        public[Attribute.ID] = ski
    except p11e.PKCS11Error as exc:  # some HSMs fix CKA_ID at creation: keep the random one
        log.info("PKCS#11: CKA_ID not changed (%s); key %r keeps a random id", reason(exc), label)
    return private


@dataclass(frozen=True)
class TokenCA:
    """The outcome of :func:`ensure_key`: the key object and whether it was generated now."""

    key: TokenKey
    generated: bool


def ensure_key(
    settings: Mapping[str, Any], key_label: str | None = None
) -> tuple[Pkcs11Config, TokenCA]:
    """Use the key labelled ``key_label`` (default: the setting) or generate it per cjs.ca.key_type."""
    config = read_config(settings, key_label=key_label)
    token = connect(config)

    def lookup(session: Any) -> list[Any]:
        return find_private_keys(session, config.key_label)

    try:
        existing = token.run(lookup, f"looking for key {config.key_label!r}")
        if len(existing) > 1:
            raise start_error(config, token, p11e.MultipleObjectsReturned())
        generated = False
        if not existing:
            key_type = str(settings.get("cjs.ca.key_type", "ec-p384"))
            log.info(
                "PKCS#11: generating the CA key %r (%s) on token %r",
                config.key_label,
                key_type,
                config.token_label,
            )
            token.run(
                lambda session: generate_key_pair(session, key_type, config.key_label),
                f"generating key {config.key_label!r}",
                rw=True,
            )
            generated = True
    except SignerUnavailable as exc:
        raise ConfigurationError(f"{PREFIX}key_label: {exc}") from None
    key = open_key(config, token)
    check_mechanism(config, token, key)
    return config, TokenCA(key, generated)


def self_signed_ca(
    settings: Mapping[str, Any], config: Pkcs11Config, key: TokenKey, now: dt.datetime | None = None
) -> x509.Certificate:
    """The CA certificate of ``key``, self-signed on the token."""
    builder = build_ca_certificate(settings, key.public_key(), now)
    pad = rsa_padding_for(config.rsa_padding) if isinstance(key, TokenRSAKey) else None
    try:
        return builder.sign(key, signature_hash(key), rsa_padding=pad)
    except SignerUnavailable as exc:
        raise ConfigurationError(f"{PREFIX}key_label: {exc}") from None


def key_attributes(settings: Mapping[str, Any], key_label: str | None = None) -> dict[str, Any]:
    """Security attributes of the private key on the token (CKA_EXTRACTABLE, CKA_SENSITIVE, …)."""
    config = read_config(settings, key_label=key_label)
    token = connect(config)
    ref = KeyRef(token, config.key_label)
    names = (
        Attribute.EXTRACTABLE,
        Attribute.SENSITIVE,
        Attribute.NEVER_EXTRACTABLE,
        Attribute.ALWAYS_SENSITIVE,
        Attribute.SIGN,
        Attribute.DECRYPT,
        Attribute.PRIVATE,
        Attribute.TOKEN,
        Attribute.ID,
        Attribute.LABEL,
    )

    def read(session: Any) -> dict[str, Any]:
        key = ref.get(session)
        values: dict[str, Any] = {}
        for name in names:
            try:
                values[name.name] = key[name]
            except p11e.PKCS11Error:
                values[name.name] = None
        return values

    return token.run(read, f"reading key {config.key_label!r}")
