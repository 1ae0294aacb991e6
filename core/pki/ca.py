"""The service's own CA in ``cjs.ca.dir`` (CERT-1): ``cjs ca init``, ``rotate``, ``bundle`` and ``show``
with any signer plugin, the previous CAs of the cross-over, and the TLS server certificate.

Files: ``ca.pem`` (the active CA), ``ca-previous-<UTC stamp>.pem`` (each CA retired by ``cjs ca
rotate``, behind a header naming its signer and key), ``ca-bundle.pem`` (all of them: the client-CA
file of cheroot and nginx) and whatever the signer keeps there (the software signer's key files).

What depends on the signer — whether it holds the key of an existing CA, making a new key and its
self-signed certificate, how a retired key is kept, a signer for a previous CA — goes through the
signer plugin's hooks (``cjs_signer_has_ca_key``, ``cjs_signer_new_ca_key``,
``cjs_signer_retire_ca_key``, ``cjs_signer_previous_ca``): a third signer plugin gets these commands
without an edit here.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core.hookspecs import NewCAKey, RetiredKey
from core.pki.files import write_atomically
from core.pki.signers import load_signer, plugin_manager
from core.pki.x509 import (
    CA_CERT_FILE,
    CLOCK_SKEW,
    authority_key_identifier,
    ca_dir,
    end_entity_builder,
    generate_key,
    key_identifier,
    validity,
)
from core.settings import ConfigurationError

#: Active CA then the previous ones: the client-CA file of cheroot and nginx (see write_bundle).
CA_BUNDLE_FILE = "ca-bundle.pem"
#: ``ca-previous-<UTC stamp>.pem``: a CA retired by ``cjs ca rotate``, accepted during the cross-over.
PREVIOUS_PREFIX = "ca-previous-"
#: Validity of the TLS server certificate of ``cjs serve`` and the demo.
SERVER_CERTIFICATE_VALIDITY = dt.timedelta(days=397)
_CANNOT_INIT = "'cjs ca init' cannot initialise signer"


def _new_ca_key(
    pm: pluggy.PluginManager,
    settings: Mapping[str, Any],
    *,
    key_label: str | None = None,
    replacing: x509.Certificate | None = None,
    replacing_key: RetiredKey | None = None,
    now: dt.datetime,
    refusal: str,
) -> NewCAKey:
    signer = settings["cjs.ca.signer"]
    made: NewCAKey | None = pm.hook.cjs_signer_new_ca_key(
        signer=signer,
        settings=settings,
        key_label=key_label,
        replacing=replacing,
        replacing_key=replacing_key,
        now=now,
    )
    if made is None:
        raise ConfigurationError(f"cjs.ca.signer: {refusal} {signer!r}")
    return made


def _store(folder: Path, made: NewCAKey) -> Path:
    """Write the new key's files (private) then the CA certificate; return the certificate's path."""
    for name, data in made.key_files.items():
        write_atomically(folder / name, data, mode=0o600)
    path = folder / CA_CERT_FILE
    write_atomically(path, made.certificate.public_bytes(serialization.Encoding.PEM))
    return path


def init_ca(settings: Mapping[str, Any], pm: pluggy.PluginManager | None = None) -> Path:
    """Create the CA of the configured signer if missing; write the client-CA bundle.

    Idempotent: an existing ``ca.pem`` whose key the signer holds is kept as it is (a token checks
    it with a signature). Returns the CA certificate's path.
    """
    pm = pm or plugin_manager(settings)
    folder = ca_dir(settings)
    path = folder / CA_CERT_FILE
    held = False
    if path.exists():
        signer = settings["cjs.ca.signer"]
        held = pm.hook.cjs_signer_has_ca_key(
            signer=signer,
            settings=settings,
            ca_certificate=x509.load_pem_x509_certificate(path.read_bytes()),
        )
        if held is None:
            raise ConfigurationError(f"cjs.ca.signer: {_CANNOT_INIT} {signer!r}")
    if not held:
        made = _new_ca_key(pm, settings, now=dt.datetime.now(dt.UTC), refusal=_CANNOT_INIT)
        _store(folder, made)
    write_bundle(settings)
    return path


# --- Rotation: a new CA key, the previous CA accepted during the cross-over ----------------------


@dataclass(frozen=True)
class PreviousCA:
    """A CA certificate retired by ``cjs ca rotate``, still accepted until ``accepted_until``.

    ``accepted_until`` is the last expiry a certificate it issued can have (CERT-2 validity from the
    retirement); after it the file and the key can go (see docs/security-team.md). ``signer`` and
    ``key`` say where its key was kept, as the signer plugin recorded it.
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
        return key_identifier(self.certificate).hex()


@dataclass(frozen=True)
class Rotation:
    """The outcome of :func:`rotate_ca`."""

    certificate_path: Path
    previous: PreviousCA
    bundle_path: Path
    signer: str
    key: str
    next_steps: list[str]


def _accepted_until(retired_at: dt.datetime) -> dt.datetime:
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
    write_atomically(path, b"".join(parts))
    return path


def client_ca_file(settings: Mapping[str, Any]) -> Path:
    """The file of CA certificates client certificates may chain to: the bundle, else ``ca.pem``."""
    folder = ca_dir(settings)
    bundle = folder / CA_BUNDLE_FILE
    return bundle if bundle.exists() else folder / CA_CERT_FILE


def rotate_ca(
    settings: Mapping[str, Any],
    key_label: str | None = None,
    now: dt.datetime | None = None,
    pm: pluggy.PluginManager | None = None,
) -> Rotation:
    """Introduce a new CA key and certificate; keep the current CA as a previous one.

    The configured signer makes the new key (``key_label`` names it where the signer has names, e.g.
    a label on a token); the signer holding the current key says how it is kept. The current
    ``ca.pem`` becomes ``ca-previous-<UTC stamp>.pem``; ``ca-bundle.pem`` then holds both. On a
    failure every file is as it was. Returns what to do next.
    """
    pm = pm or plugin_manager(settings)
    now = now or dt.datetime.now(dt.UTC)
    folder = ca_dir(settings)
    cert_path = folder / CA_CERT_FILE
    if not cert_path.exists():
        raise ConfigurationError(f"cjs.ca.dir: no CA in {folder} to rotate (run 'cjs ca init')")
    old_pem = cert_path.read_bytes()
    old_certificate = x509.load_pem_x509_certificate(old_pem)
    stamp = _stamp(now)
    previous_path = folder / f"{PREVIOUS_PREFIX}{stamp}.pem"
    if previous_path.exists():
        raise ConfigurationError(f"cjs.ca.dir: {previous_path} exists (one rotation per second)")
    retired: RetiredKey = pm.hook.cjs_signer_retire_ca_key(
        settings=settings, ca_certificate=old_certificate, stamp=stamp
    ) or RetiredKey("?", "?")
    made = _new_ca_key(
        pm,
        settings,
        key_label=key_label,
        replacing=old_certificate,
        replacing_key=retired,
        now=now,
        refusal="'cjs ca rotate' cannot rotate signer",
    )
    renamed: list[tuple[Path, Path]] = []
    try:
        for old_name, new_name in retired.renames.items():
            os.replace(folder / old_name, folder / new_name)
            renamed.append((folder / old_name, folder / new_name))
        _write_previous(previous_path, old_pem, now, retired)
        _store(folder, made)
    except BaseException:
        for old_path, new_path in reversed(renamed):
            os.replace(new_path, old_path)
        previous_path.unlink(missing_ok=True)
        raise
    bundle = write_bundle(settings)
    previous = next(p for p in previous_cas(settings) if p.path == previous_path)
    next_steps = [
        *made.next_steps,
        "restart the service (it signs with the key it loaded at start)",
        f"nginx: ssl_client_certificate {bundle}; reload nginx",
        f"after {previous.accepted_until.isoformat()} remove {previous_path.name} "
        "(and the previous key), then run 'cjs ca bundle'",
    ]
    return Rotation(cert_path, previous, bundle, settings["cjs.ca.signer"], made.key, next_steps)


def _write_previous(path: Path, pem: bytes, retired: dt.datetime, key: RetiredKey) -> None:
    header = (
        "CJS previous CA certificate (cjs ca rotate)\n"
        f"Retired: {retired.astimezone(dt.UTC).isoformat()}\n"
        f"Accepted until: {_accepted_until(retired).isoformat()}\n"
        f"Signer: {key.signer}\n"
        f"Key: {key.key}\n"
    )
    write_atomically(path, header.encode() + pem)


def previous_signers(
    settings: Mapping[str, Any], pm: pluggy.PluginManager | None = None
) -> list[Any]:
    """Signers of the previous CAs whose key is still there (CRLs for their certificates).

    Each comes from the plugin of the signer recorded at rotation (``cjs_signer_previous_ca``); a
    previous CA whose key is gone, or whose signer is not installed, is left out.
    """
    pm = pm or plugin_manager(settings)
    signers: list[Any] = []
    for previous in previous_cas(settings):
        signer = pm.hook.cjs_signer_previous_ca(
            signer=previous.signer,
            key=previous.key,
            settings=settings,
            ca_certificate=previous.certificate,
            path=previous.path,
        )
        if signer is not None:
            signers.append(signer)
    return signers


def describe(settings: Mapping[str, Any]) -> dict[str, str]:
    """Printable facts about the active signer and its CA, and the previous CAs (``cjs ca show``)."""
    facts = {k: str(v) for k, v in load_signer(settings).describe().items()}
    facts["client CA file"] = str(client_ca_file(settings))
    for index, previous in enumerate(previous_cas(settings), start=1):
        facts[f"previous CA {index}"] = (
            f"key id {previous.key_id}, {previous.signer} key {previous.key}, "
            f"retired {previous.retired_at.isoformat()}, "
            f"accepted until {previous.accepted_until.isoformat()}"
        )
    return facts


# --- The TLS server certificate of ``cjs serve`` and the demo ------------------------------------


def issue_server_certificate(
    signer: Any, hostnames: Sequence[str], out_dir: Path
) -> tuple[Path, Path]:
    """Issue a TLS server certificate for ``hostnames`` (demo and tests); return cert and key paths.

    The key is written unencrypted with mode 0600 for the server process; production servers use a
    certificate from the bank's public CA instead.
    """
    key = generate_key("ec-p256")
    now = dt.datetime.now(dt.UTC)
    alt_names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    ca_certificate: x509.Certificate = signer.ca_certificate
    builder = (
        end_entity_builder(
            ca_certificate,
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]),
            key.public_key(),
            not_before=now - CLOCK_SKEW,
            not_after=now + SERVER_CERTIFICATE_VALIDITY,
        )
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(authority_key_identifier(ca_certificate), critical=False)
    )
    certificate = signer.sign_certificate(builder)
    cert_path, key_path = out_dir / "server.pem", out_dir / "server-key.pem"
    write_atomically(
        cert_path,
        certificate.public_bytes(serialization.Encoding.PEM)
        + ca_certificate.public_bytes(serialization.Encoding.PEM),
    )
    write_atomically(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        mode=0o600,
    )
    return cert_path, key_path
