"""The service's own CA: creating it, describing it and issuing certificates with any signer."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core.settings import ConfigurationError

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
CA_VALIDITY = dt.timedelta(days=3653)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def generate_key(key_type: str) -> PrivateKey:
    """Generate a private key: ``ec-p256``, ``ec-p384``, ``rsa-2048`` or ``rsa-3072``."""
    if key_type == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type in {"rsa-2048", "rsa-3072"}:
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[4:]))
    raise ValueError(f"unknown key type {key_type!r}")


def ca_name(settings: Mapping[str, Any]) -> x509.Name:
    """The CA's distinguished name from the settings (CERT-1: "Rokin-KW CA" style)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, settings["cjs.ca.organization"]),
            x509.NameAttribute(NameOID.COMMON_NAME, settings["cjs.ca.issuer_name"]),
        ]
    )


def random_serial() -> int:
    """A positive 127-bit serial number from the CSPRNG (RFC 5280: at most 20 octets)."""
    return secrets.randbits(127) | 1


def build_ca_certificate(
    settings: Mapping[str, Any], public_key: Any, now: dt.datetime | None = None
) -> x509.CertificateBuilder:
    """A builder for the self-signed CA certificate of ``public_key``."""
    now = now or dt.datetime.now(dt.UTC)
    name = ca_name(settings)
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(random_serial())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )


def ca_dir(settings: Mapping[str, Any]) -> Path:
    """The folder of the CA certificate and (software signer) key file."""
    return Path(settings["cjs.ca.dir"])


def init_ca(settings: Mapping[str, Any]) -> Path:
    """Create the software CA (key encrypted with the passphrase, self-signed certificate).

    Idempotent: an existing CA is kept as it is. Returns the CA certificate's path.
    """
    if settings["cjs.ca.signer"] != "software":
        raise ConfigurationError(
            f"cjs.ca.signer: 'cjs ca init' cannot initialise signer {settings['cjs.ca.signer']!r}"
        )
    passphrase = settings["cjs.ca.key_passphrase"]
    if not passphrase:
        raise ConfigurationError("cjs.ca.key_passphrase: missing (the software CA key needs one)")
    folder = ca_dir(settings)
    cert_path, key_path = folder / CA_CERT_FILE, folder / CA_KEY_FILE
    if cert_path.exists() and key_path.exists():
        return cert_path
    folder.mkdir(parents=True, exist_ok=True)
    key = generate_key(settings["cjs.ca.key_type"])
    certificate = build_ca_certificate(settings, key.public_key()).sign(key, hashes.SHA384())
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )
    _write_private(key_path, encrypted)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def describe(settings: Mapping[str, Any]) -> dict[str, str]:
    """Printable facts about the active signer and its CA (``cjs ca show``)."""
    from hsm import load_signer

    return {k: str(v) for k, v in load_signer(settings).describe().items()}


def issue_server_certificate(
    signer: Any, hostnames: Sequence[str], out_dir: Path
) -> tuple[Path, Path]:
    """Issue a TLS server certificate for ``hostnames`` (demo and tests); return cert and key paths.

    The key is written unencrypted with mode 0600 for the server process; production servers use a
    certificate from the bank's public CA instead.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    key = generate_key("ec-p256")
    now = dt.datetime.now(dt.UTC)
    alt_names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            import ipaddress

            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
        .issuer_name(signer.ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(random_serial())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=397))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.ca_certificate.public_key()),
            critical=False,
        )
    )
    certificate = signer.sign_certificate(builder)
    cert_path, key_path = out_dir / "server.pem", out_dir / "server-key.pem"
    cert_path.write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
        + signer.ca_certificate.public_bytes(serialization.Encoding.PEM)
    )
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return cert_path, key_path
