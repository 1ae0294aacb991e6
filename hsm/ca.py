"""The service's own CA: creating it, describing it and issuing certificates with any signer."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core.settings import ConfigurationError

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
#: Active CA then the previous ones: the client-CA file of cheroot and nginx (see write_bundle).
CA_BUNDLE_FILE = "ca-bundle.pem"
#: ``ca-previous-<UTC stamp>.pem``: a CA retired by ``cjs ca rotate``, accepted during the cross-over.
PREVIOUS_PREFIX = "ca-previous-"
#: ``ca-key-previous-<UTC stamp>.pem``: the software key of that previous CA.
PREVIOUS_KEY_PREFIX = "ca-key-previous-"
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
    """Create the CA of the configured signer if missing; write the client-CA bundle.

    ``software``: a key encrypted with ``cjs.ca.key_passphrase`` and its self-signed certificate.
    ``pkcs11``: the key labelled ``cjs.signer.pkcs11.key_label`` on the token (generated there,
    non-extractable and sensitive, when missing) and its certificate, self-signed on the token.
    Idempotent: an existing CA is kept as it is (with pkcs11, checked against its key on the token).
    Returns the CA certificate's path.
    """
    signer = settings["cjs.ca.signer"]
    if signer == "software":
        path = _init_software(settings)
    elif signer == "pkcs11":
        path = _init_pkcs11(settings)
    else:
        raise ConfigurationError(
            f"cjs.ca.signer: 'cjs ca init' cannot initialise signer {signer!r}"
        )
    write_bundle(settings)
    return path


def _software_passphrase(settings: Mapping[str, Any]) -> str:
    passphrase = str(settings["cjs.ca.key_passphrase"] or "")
    if not passphrase:
        raise ConfigurationError("cjs.ca.key_passphrase: missing (the software CA key needs one)")
    return passphrase


def _write_software_ca(
    settings: Mapping[str, Any], cert_path: Path, key_path: Path, now: dt.datetime | None = None
) -> x509.Certificate:
    passphrase = _software_passphrase(settings)
    key = generate_key(settings["cjs.ca.key_type"])
    certificate = build_ca_certificate(settings, key.public_key(), now).sign(key, hashes.SHA384())
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )
    _write_private(key_path, encrypted)
    _write_atomic(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
    return certificate


def _init_software(settings: Mapping[str, Any]) -> Path:
    _software_passphrase(settings)
    folder = ca_dir(settings)
    cert_path, key_path = folder / CA_CERT_FILE, folder / CA_KEY_FILE
    if cert_path.exists() and key_path.exists():
        return cert_path
    folder.mkdir(parents=True, exist_ok=True)
    _write_software_ca(settings, cert_path, key_path)
    return cert_path


def _init_pkcs11(settings: Mapping[str, Any]) -> Path:
    from hsm import pkcs11

    config = pkcs11.read_config(settings)
    folder = ca_dir(settings)
    cert_path = folder / CA_CERT_FILE
    if cert_path.exists():
        # Keep it; its key must be the one on the token (checked with a signature).
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        pkcs11.Pkcs11Signer.for_certificate(config, certificate, cert_path)
        return cert_path
    config, made = pkcs11.ensure_key(settings)
    certificate = pkcs11.self_signed_ca(settings, config, made.key)
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomic(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path


# --- Rotation: a new CA key, the previous CA accepted during the cross-over ----------------------


@dataclass(frozen=True)
class PreviousCA:
    """A CA certificate retired by ``cjs ca rotate``, still accepted until ``accepted_until``.

    ``accepted_until`` is the last expiry a certificate it issued can have (CERT-2 validity from the
    retirement); after it the file and the key can go (see docs/security-team.md).
    """

    path: Path
    certificate: x509.Certificate
    retired_at: dt.datetime
    accepted_until: dt.datetime
    signer: str
    key: str

    @property
    def key_id(self) -> str:
        """Subject key identifier of the previous CA, hex."""
        return _key_id(self.certificate)


@dataclass(frozen=True)
class Rotation:
    """The outcome of :func:`rotate_ca`."""

    certificate_path: Path
    previous: PreviousCA
    bundle_path: Path
    signer: str
    key: str
    next_steps: list[str]


def _key_id(certificate: x509.Certificate) -> str:
    try:
        ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        return ski.value.digest.hex()
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest.hex()


def _accepted_until(retired_at: dt.datetime) -> dt.datetime:
    from core.pki.certificates import validity

    return validity(retired_at)[1]


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def previous_cas(settings: Mapping[str, Any]) -> list[PreviousCA]:
    """The retired CAs in ``cjs.ca.dir`` (``ca-previous-<UTC stamp>.pem``), newest first."""
    found = []
    for path in sorted(ca_dir(settings).glob(f"{PREVIOUS_PREFIX}*.pem"), reverse=True):
        data = path.read_bytes()
        header: dict[str, str] = {}
        for line in data.split(b"-----BEGIN", 1)[0].decode("utf-8", "replace").splitlines():
            name, sep, value = line.partition(":")
            if sep:
                header[name.strip().lower()] = value.strip()
        certificate = x509.load_pem_x509_certificate(data)
        stamp = path.name[len(PREVIOUS_PREFIX) : -len(".pem")]
        try:
            retired = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            retired = certificate.not_valid_before_utc
        found.append(
            PreviousCA(
                path,
                certificate,
                retired,
                _accepted_until(retired),
                header.get("signer", "?"),
                header.get("key", "?"),
            )
        )
    return found


def write_bundle(settings: Mapping[str, Any]) -> Path:
    """Write ``ca-bundle.pem``: the active CA then every previous one (the TLS client-CA file).

    cheroot (``load_verify_locations``) and nginx (``ssl_client_certificate``) read it, so both CA
    keys' certificates verify during a cross-over; OpenSSL picks the issuer by name and by the
    certificate's authority key identifier. Written atomically (an nginx reload never sees half).
    """
    folder = ca_dir(settings)
    active = (folder / CA_CERT_FILE).read_bytes()
    parts = [x509.load_pem_x509_certificate(active).public_bytes(serialization.Encoding.PEM)]
    for previous in previous_cas(settings):
        parts.append(previous.certificate.public_bytes(serialization.Encoding.PEM))
    path = folder / CA_BUNDLE_FILE
    _write_atomic(path, b"".join(parts))
    return path


def client_ca_file(settings: Mapping[str, Any]) -> Path:
    """The file of CA certificates client certificates may chain to: the bundle, else ``ca.pem``."""
    folder = ca_dir(settings)
    bundle = folder / CA_BUNDLE_FILE
    return bundle if bundle.exists() else folder / CA_CERT_FILE


def rotate_ca(
    settings: Mapping[str, Any], key_label: str | None = None, now: dt.datetime | None = None
) -> Rotation:
    """Introduce a new CA key and certificate; keep the current CA as a previous one.

    The new key is made by the configured signer: ``software`` writes a new ``ca-key.pem`` (same
    passphrase); ``pkcs11`` uses or generates the key labelled ``key_label`` (default: the
    configured label when the current CA is a software one, else the configured label + ``-YYYYMMDD``)
    on the token. The current ``ca.pem`` becomes ``ca-previous-<UTC stamp>.pem`` (and a software key
    ``ca-key-previous-<stamp>.pem``); ``ca-bundle.pem`` then holds both. Returns what to do next.
    """
    now = now or dt.datetime.now(dt.UTC)
    folder = ca_dir(settings)
    cert_path, key_path = folder / CA_CERT_FILE, folder / CA_KEY_FILE
    if not cert_path.exists():
        raise ConfigurationError(f"cjs.ca.dir: no CA in {folder} to rotate (run 'cjs ca init')")
    old_pem = cert_path.read_bytes()
    old_certificate = x509.load_pem_x509_certificate(old_pem)
    stamp = _stamp(now)
    previous_path = folder / f"{PREVIOUS_PREFIX}{stamp}.pem"
    if previous_path.exists():
        raise ConfigurationError(f"cjs.ca.dir: {previous_path} exists (one rotation per second)")
    old_is_software = key_path.exists()
    old_key = (
        f"{PREVIOUS_KEY_PREFIX}{stamp}.pem"
        if old_is_software
        else str(settings.get("cjs.signer.pkcs11.key_label", "?"))
    )
    signer = settings["cjs.ca.signer"]
    next_steps: list[str] = []
    if signer == "pkcs11":
        from hsm import pkcs11

        configured = pkcs11.read_config(settings).key_label  # every setting checked first
        label = key_label or (
            configured if old_is_software and configured else f"{configured}-{now:%Y%m%d}"
        )
        config, made = pkcs11.ensure_key(settings, key_label=label)
        if made.key.public_key() == old_certificate.public_key():
            raise ConfigurationError(
                f"cjs.signer.pkcs11.key_label: key {label!r} is the current CA's key; name a new one"
            )
        certificate = pkcs11.self_signed_ca(settings, config, made.key, now)
        new_key = label
        if old_is_software:
            os.replace(key_path, folder / old_key)
        _write_previous(
            previous_path, old_pem, now, "software" if old_is_software else "pkcs11", old_key
        )
        _write_atomic(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
        if label != configured:
            next_steps.append(f"set cjs.signer.pkcs11.key_label = {label} (the new CA key)")
    elif signer == "software":
        if old_is_software:
            os.replace(key_path, folder / old_key)
        try:
            _write_previous(
                previous_path, old_pem, now, "software" if old_is_software else "pkcs11", old_key
            )
            _write_software_ca(settings, cert_path, key_path, now)
        except BaseException:
            if old_is_software and not key_path.exists():
                os.replace(folder / old_key, key_path)
            previous_path.unlink(missing_ok=True)
            raise
        new_key = CA_KEY_FILE
    else:
        raise ConfigurationError(f"cjs.ca.signer: 'cjs ca rotate' cannot rotate signer {signer!r}")
    bundle = write_bundle(settings)
    previous = next(p for p in previous_cas(settings) if p.path == previous_path)
    next_steps += [
        "restart the service (it signs with the key it loaded at start)",
        f"nginx: ssl_client_certificate {bundle}; reload nginx",
        f"after {previous.accepted_until.isoformat()} remove {previous_path.name} "
        "(and the previous key), then run 'cjs ca bundle'",
    ]
    return Rotation(cert_path, previous, bundle, signer, new_key, next_steps)


def _write_previous(path: Path, pem: bytes, retired: dt.datetime, signer: str, key: str) -> None:
    header = (
        "CJS previous CA certificate (cjs ca rotate)\n"
        f"Retired: {retired.astimezone(dt.UTC).isoformat()}\n"
        f"Accepted until: {_accepted_until(retired).isoformat()}\n"
        f"Signer: {signer}\n"
        f"Key: {key}\n"
    )
    _write_atomic(path, header.encode() + pem)


def previous_signers(settings: Mapping[str, Any]) -> list[Any]:
    """Signers of the previous CAs whose key is still here (CRLs for their certificates).

    Software: ``ca-key-previous-<stamp>.pem`` with ``cjs.ca.key_passphrase``; PKCS#11: the key
    label recorded at rotation, on the configured token. A previous CA whose key is gone is left out.
    """
    signers: list[Any] = []
    for previous in previous_cas(settings):
        if previous.signer == "software":
            from hsm.software import SoftwareSigner

            key_file = ca_dir(settings) / previous.key
            if not key_file.exists():
                continue
            key = serialization.load_pem_private_key(
                key_file.read_bytes(), _software_passphrase(settings).encode()
            )
            signers.append(SoftwareSigner(previous.certificate, key))
        elif previous.signer == "pkcs11" and "cjs.signer.pkcs11.module" in settings:
            from hsm import pkcs11

            config = pkcs11.read_config(settings, key_label=previous.key)
            signers.append(
                pkcs11.Pkcs11Signer.for_certificate(config, previous.certificate, previous.path)
            )
    return signers


def _write_atomic(path: Path, data: bytes) -> None:
    import tempfile

    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def describe(settings: Mapping[str, Any]) -> dict[str, str]:
    """Printable facts about the active signer and its CA, and the previous CAs (``cjs ca show``)."""
    from hsm import load_signer

    facts = {k: str(v) for k, v in load_signer(settings).describe().items()}
    facts["client CA file"] = str(client_ca_file(settings))
    for index, previous in enumerate(previous_cas(settings), start=1):
        facts[f"previous CA {index}"] = (
            f"key id {previous.key_id}, {previous.signer} key {previous.key}, "
            f"retired {previous.retired_at.isoformat()}, "
            f"accepted until {previous.accepted_until.isoformat()}"
        )
    return facts


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
