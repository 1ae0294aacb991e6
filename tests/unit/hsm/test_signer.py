"""CERT-1: the software CA signer, behind the ISigner interface the PKCS#11 signer implements too."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from zope.interface.verify import verifyClass, verifyObject

from core.hookspecs import hookimpl
from core.pki.ca import init_ca
from core.pki.signers import load_signer
from core.pki.x509 import generate_key, random_serial
from core.settings import ConfigurationError, validate
from hsm.interfaces import ISigner
from hsm.software import SoftwareSigner


def settings_for(ca_settings, **overrides):
    return validate(
        {
            "sqlalchemy.url": "sqlite://",
            "cjs.environment": "development",
            **ca_settings,
            **overrides,
        }
    )


def test_software_signer_implements_the_interface():
    assert verifyClass(ISigner, SoftwareSigner)


def test_ca_certificate_is_a_rokin_kw_style_ca(ca_settings):
    signer = load_signer(settings_for(ca_settings))
    verifyObject(ISigner, signer)
    ca = signer.ca_certificate
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Rokin-KW CA"
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert signer.describe()["algorithm"] == "EC secp384r1"


def test_a_signed_client_certificate_verifies_against_the_ca(ca_settings, tmp_path):
    signer = load_signer(settings_for(ca_settings))
    key = generate_key("rsa-2048")
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "master01")]))
        .issuer_name(signer.ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(random_serial())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=366))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    certificate = signer.sign_certificate(builder)
    certificate.verify_directly_issued_by(signer.ca_certificate)
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(signer.ca_certificate.public_bytes(serialization.Encoding.PEM))
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", ca_file, leaf], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("OK")


def test_the_ca_key_file_is_encrypted_and_private(ca_settings):
    from pathlib import Path

    key_file = Path(ca_settings["cjs.ca.dir"]) / "ca-key.pem"
    assert key_file.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert key_file.stat().st_mode & 0o077 == 0


def test_ca_init_is_idempotent(ca_settings):
    settings = settings_for(ca_settings)
    before = load_signer(settings).ca_certificate
    init_ca(settings)
    assert load_signer(settings).ca_certificate == before


def test_rsa_ca_key_by_setting(tmp_path):
    settings = validate(
        {
            "sqlalchemy.url": "sqlite://",
            "cjs.environment": "development",
            "cjs.ca.dir": str(tmp_path),
            "cjs.ca.key_passphrase": "pp",
            "cjs.ca.key_type": "rsa-3072",
        }
    )
    init_ca(settings)
    assert load_signer(settings).describe()["algorithm"] == "RSA-3072"


def test_a_wrong_passphrase_is_one_clear_line(ca_settings):
    with pytest.raises(ConfigurationError) as caught:
        load_signer(settings_for(ca_settings, **{"cjs.ca.key_passphrase": "wrong"}))
    assert str(caught.value).startswith("cjs.ca.key_passphrase: cannot decrypt")


def test_a_missing_ca_says_how_to_create_it(tmp_path, ca_settings):
    with pytest.raises(ConfigurationError, match=r"run 'cjs ca init'"):
        load_signer(settings_for(ca_settings, **{"cjs.ca.dir": str(tmp_path / "none")}))


def test_an_unknown_signer_names_the_setting_and_the_choices(ca_settings):
    with pytest.raises(ConfigurationError) as caught:
        load_signer(settings_for(ca_settings, **{"cjs.ca.signer": "hsm9000"}))
    assert str(caught.value) == (
        "cjs.ca.signer: unknown signer 'hsm9000' (available: pkcs11, software)"
    )


def test_a_signer_plugin_is_chosen_by_configuration_alone(ca_settings):
    """CERT-1: another signer plugin is picked by its name in cjs.ca.signer."""
    from core.plugins import make_plugin_manager

    class Other:
        @hookimpl
        def cjs_signer_factories(self):
            return {"other": SoftwareSigner.from_settings}

    pm = make_plugin_manager([Other()])
    signer = load_signer(settings_for(ca_settings, **{"cjs.ca.signer": "other"}), pm)
    assert verifyObject(ISigner, signer)
