"""CERT-1: the CA commands (core.pki.ca, ``cjs ca …``) work with a third signer plugin that core never
names: its key is made, kept, retired and found again through the signer hooks alone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from zope.interface import implementer
from zope.interface.verify import verifyObject

from core.hookspecs import NewCAKey, RetiredKey, hookimpl
from core.pki import ca as ca_module
from core.pki import signers
from core.pki.ca import (
    CA_BUNDLE_FILE,
    init_ca,
    issue_server_certificate,
    previous_cas,
    previous_signers,
    rotate_ca,
)
from core.pki.signers import load_signer
from core.pki.x509 import (
    CA_CERT_FILE,
    build_ca_certificate,
    ca_dir,
    describe_ca,
    key_identifier,
)
from core.plugins import make_plugin_manager
from core.settings import ConfigurationError, validate
from hsm.interfaces import ISigner

VAULT = "vault"


@implementer(ISigner)
class VaultSigner:
    """Signs with a key of the vault."""

    name = VAULT

    def __init__(self, ca_certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self.ca_certificate = ca_certificate
        self._key = key

    def sign_certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        return builder.sign(self._key, hashes.SHA256())

    def sign_crl(
        self, builder: x509.CertificateRevocationListBuilder
    ) -> x509.CertificateRevocationList:
        return builder.sign(self._key, hashes.SHA256())

    def describe(self) -> dict[str, str]:
        return {"signer": VAULT, "key id": key_identifier(self.ca_certificate).hex()} | describe_ca(
            self.ca_certificate
        )


class VaultPlugin:
    """Another vendor's signer: keys in a vault outside cjs.ca.dir, each named by its key id."""

    def __init__(self, vault: Path) -> None:
        self.vault = vault
        vault.mkdir(exist_ok=True)

    def _key_file(self, name: str) -> Path:
        return self.vault / f"{name}.pem"

    def _signer(self, certificate: x509.Certificate, name: str) -> VaultSigner | None:
        path = self._key_file(name)
        if not path.exists():
            return None
        key = serialization.load_pem_private_key(path.read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return VaultSigner(certificate, key)

    def load(self, settings: Mapping[str, Any]) -> VaultSigner:
        certificate = x509.load_pem_x509_certificate((ca_dir(settings) / CA_CERT_FILE).read_bytes())
        signer = self._signer(certificate, key_identifier(certificate).hex())
        if signer is None:
            raise ConfigurationError("cjs.ca.signer: the vault has no key for ca.pem")
        return signer

    @hookimpl
    def cjs_signer_factories(self):
        return {VAULT: self.load}

    @hookimpl
    def cjs_signer_has_ca_key(self, signer, settings, ca_certificate):
        if signer != VAULT:
            return None
        return self._key_file(key_identifier(ca_certificate).hex()).exists()

    @hookimpl
    def cjs_signer_new_ca_key(self, signer, settings, key_label, replacing, replacing_key, now):
        if signer != VAULT:
            return None
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = build_ca_certificate(settings, key.public_key(), now).sign(
            key, hashes.SHA256()
        )
        name = key_identifier(certificate).hex()
        self._key_file(name).write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return NewCAKey(certificate, name, next_steps=("tell the vault's auditors",))

    @hookimpl
    def cjs_signer_retire_ca_key(self, settings, ca_certificate, stamp):
        name = key_identifier(ca_certificate).hex()
        return RetiredKey(VAULT, name) if self._key_file(name).exists() else None

    @hookimpl
    def cjs_signer_previous_ca(self, signer, key, settings, ca_certificate, path):
        return self._signer(ca_certificate, key) if signer == VAULT else None


@pytest.fixture
def vault(tmp_path):
    return VaultPlugin(tmp_path / "vault")


@pytest.fixture
def pm(vault):
    return make_plugin_manager([vault])


def settings_for(folder: Path, signer: str = VAULT, **extra: str) -> dict[str, Any]:
    return validate(
        {
            "sqlalchemy.url": "sqlite://",
            "cjs.environment": "development",
            "cjs.ca.dir": str(folder),
            "cjs.ca.signer": signer,
            "cjs.ca.key_passphrase": "test-ca-passphrase",
            **extra,
        }
    )


def test_init_makes_the_ca_with_the_third_signer_and_keeps_it(tmp_path, pm):
    settings = settings_for(tmp_path / "ca")
    path = init_ca(settings, pm)
    signer = load_signer(settings, pm)
    assert verifyObject(ISigner, signer)
    assert signer.name == VAULT
    assert signer.ca_certificate == x509.load_pem_x509_certificate(path.read_bytes())
    before = path.read_bytes()
    init_ca(settings, pm)  # the vault holds its key: kept
    assert path.read_bytes() == before
    assert (tmp_path / "ca" / CA_BUNDLE_FILE).read_bytes() == before


def test_rotation_with_the_third_signer_keeps_the_previous_ca_and_its_key(tmp_path, pm):
    settings = settings_for(tmp_path / "ca")
    init_ca(settings, pm)
    old = load_signer(settings, pm).ca_certificate
    rotation = rotate_ca(settings, pm=pm, now=dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))
    new = load_signer(settings, pm).ca_certificate
    assert new != old and new.subject == old.subject
    assert rotation.signer == VAULT and rotation.key == key_identifier(new).hex()
    assert rotation.next_steps[0] == "tell the vault's auditors"
    assert rotation.next_steps[1].startswith("restart the service")
    (previous,) = previous_cas(settings)
    assert previous.path.name == "ca-previous-20261201T090000Z.pem"
    assert (previous.signer, previous.key) == (VAULT, key_identifier(old).hex())
    (previous_signer,) = previous_signers(settings, pm)
    assert previous_signer.ca_certificate == old
    bundle = x509.load_pem_x509_certificates((tmp_path / "ca" / CA_BUNDLE_FILE).read_bytes())
    assert bundle == [new, old]


def test_rotation_from_the_software_key_to_the_third_signer(tmp_path, pm):
    """The software signer claims its key file; it is kept for the previous CA's CRLs."""
    folder = tmp_path / "ca"
    software = settings_for(folder, "software")
    init_ca(software, pm)
    old = load_signer(software, pm).ca_certificate
    rotation = rotate_ca(settings_for(folder), pm=pm)
    assert not (folder / "ca-key.pem").exists()
    (previous,) = previous_cas(software)
    assert previous.signer == "software"
    assert previous.key.startswith("ca-key-previous-") and (folder / previous.key).exists()
    assert (folder / previous.key).stat().st_mode & 0o077 == 0
    assert rotation.previous == previous
    (previous_signer,) = previous_signers(software, pm)
    assert previous_signer.name == "software" and previous_signer.ca_certificate == old


def test_a_failed_rotation_leaves_every_file_as_it_was(tmp_path, pm, monkeypatch):
    """The software key was renamed and the new one written when ca.pem cannot be: all undone."""
    folder = tmp_path / "ca"
    settings = settings_for(folder, "software")
    init_ca(settings, pm)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    write = ca_module.write_atomically

    def disk_full_at_ca_pem(path: Path, data: bytes, mode: int = 0o644) -> None:
        if path.name == CA_CERT_FILE:
            raise OSError("No space left on device")
        write(path, data, mode)

    monkeypatch.setattr(ca_module, "write_atomically", disk_full_at_ca_pem)
    with pytest.raises(OSError, match="No space left"):
        rotate_ca(settings, pm=pm)
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
    monkeypatch.undo()
    load_signer(settings, pm)  # the old key still opens and matches ca.pem


def test_a_signer_without_the_ca_hooks_is_refused_with_one_line(tmp_path):
    class FactoryOnly:
        @hookimpl
        def cjs_signer_factories(self):
            return {"bare": lambda settings: None}

    settings = settings_for(tmp_path / "ca", "bare")
    with pytest.raises(ConfigurationError) as caught:
        init_ca(settings, make_plugin_manager([FactoryOnly()]))
    assert str(caught.value) == "cjs.ca.signer: 'cjs ca init' cannot initialise signer 'bare'"


def test_the_cjs_ca_commands_work_with_the_third_signer(tmp_path, vault, monkeypatch, capsys):
    from core.cli import main

    monkeypatch.setattr(
        signers, "make_plugin_manager", lambda disabled=(): make_plugin_manager([vault])
    )
    ini = tmp_path / "cjs.ini"
    ini.write_text(
        "[app:main]\nuse = egg:cjs\nsqlalchemy.url = sqlite://\ncjs.environment = development\n"
        f"cjs.ca.dir = {tmp_path / 'ca'}\ncjs.ca.signer = {VAULT}\n",
        encoding="utf-8",
    )
    assert main(["-c", str(ini), "ca", "init"]) == 0
    assert f"CA certificate: {tmp_path / 'ca' / CA_CERT_FILE}" in capsys.readouterr().out
    assert main(["-c", str(ini), "ca", "rotate"]) == 0
    assert "next: tell the vault's auditors" in capsys.readouterr().out
    assert main(["-c", str(ini), "ca", "show"]) == 0
    shown = capsys.readouterr().out
    assert "signer: vault\n" in shown
    assert "previous CA 1: key id " in shown and ", vault key " in shown


def test_the_server_certificate_chains_to_the_ca_by_its_key_identifier(tmp_path, pm):
    settings = settings_for(tmp_path / "ca")
    init_ca(settings, pm)
    signer = load_signer(settings, pm)
    cert_path, key_path = issue_server_certificate(
        signer, ["localhost", "127.0.0.1"], tmp_path / "tls"
    )
    leaf, ca = x509.load_pem_x509_certificates(cert_path.read_bytes())
    assert ca == signer.ca_certificate
    leaf.verify_directly_issued_by(ca)
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == key_identifier(ca)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert key_path.stat().st_mode & 0o077 == 0
