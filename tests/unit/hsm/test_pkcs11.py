"""CERT-1: the PKCS#11 signer on a SoftHSM2 token (tests/softhsm.py makes the token)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from zope.interface.verify import verifyClass, verifyObject

from core.pki.ca import (
    CA_BUNDLE_FILE,
    client_ca_file,
    describe,
    init_ca,
    previous_cas,
    previous_signers,
    rotate_ca,
)
from core.pki.signers import load_signer
from core.pki.x509 import CA_CERT_FILE, generate_key, random_serial
from core.settings import ConfigurationError, validate
from hsm.interfaces import ISigner, SignerUnavailable
from hsm.pkcs11.ca_keys import generate_key_pair, key_attributes
from hsm.pkcs11.config import read_config
from hsm.pkcs11.session import token_session
from hsm.pkcs11.signer import Pkcs11Signer

PREFIX = "cjs.signer.pkcs11."


def validated(raw, **overrides):
    return validate(
        {"sqlalchemy.url": "sqlite://", "cjs.environment": "development", **raw, **overrides}
    )


def signer_of(raw, **overrides):
    return load_signer(validated(raw, **overrides))


def leaf_builder(ca_certificate, common_name="master01"):
    key = generate_key("ec-p256")
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(random_serial())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=366))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_certificate.public_key()),
            critical=False,
        )
    )


def openssl_verify(ca_file: Path, *certificates: x509.Certificate, folder: Path) -> None:
    """``openssl verify -CAfile ca_file`` every certificate; assert each is OK."""
    paths = []
    for index, certificate in enumerate(certificates):
        path = folder / f"leaf-{index}.pem"
        path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        paths.append(str(path))
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca_file), *paths], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": OK") == len(paths), result.stdout


@pytest.fixture
def token(softhsm):
    """The process's session on the test token."""
    return token_session(str(softhsm.module), softhsm.token_label)


# --- The signer, its key and its signatures -------------------------------------------------------


def test_the_pkcs11_signer_implements_the_interface_and_is_a_plugin(pkcs11_settings):
    assert verifyClass(ISigner, Pkcs11Signer)
    signer = signer_of(pkcs11_settings)
    assert verifyObject(ISigner, signer)
    assert isinstance(signer, Pkcs11Signer)
    facts = signer.describe()
    assert facts["signer"] == "pkcs11"
    assert facts["algorithm"] == "EC secp384r1"
    assert facts["signature"] == "ECDSA with SHA-384"
    assert facts["key label"] == "cjs-test-ca"
    ski = signer.ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert facts["key id"] == ski.value.digest.hex()
    assert facts["not after"] == signer.ca_certificate.not_valid_after_utc.isoformat()


def test_the_ca_key_on_the_token_is_sensitive_and_never_extractable(pkcs11_settings):
    attributes = key_attributes(validated(pkcs11_settings))
    assert attributes["EXTRACTABLE"] is False
    assert attributes["SENSITIVE"] is True
    assert attributes["NEVER_EXTRACTABLE"] is True
    assert attributes["ALWAYS_SENSITIVE"] is True
    assert attributes["SIGN"] is True
    assert attributes["DECRYPT"] is False
    assert attributes["TOKEN"] is True and attributes["PRIVATE"] is True
    signer = signer_of(pkcs11_settings)
    # CKA_ID is the CA certificate's subject key identifier (found by it after a rotation).
    assert attributes["ID"].hex() == signer.describe()["key id"]
    with pytest.raises(TypeError, match="never leaves the token"):
        signer.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


@pytest.mark.parametrize(
    ("which", "padding_setting", "oid_name"),
    [
        ("ec", "pkcs1v15", "ecdsa-with-SHA384"),
        ("rsa", "pkcs1v15", "sha256WithRSAEncryption"),
        ("rsa", "pss", "rsassaPss"),
    ],
    ids=["ec-p384", "rsa-3072-pkcs1v15", "rsa-3072-pss"],
)
def test_a_certificate_signed_on_the_token_verifies_with_openssl(
    which, padding_setting, oid_name, pkcs11_settings, pkcs11_rsa_settings, tmp_path
):
    raw = pkcs11_settings if which == "ec" else pkcs11_rsa_settings
    signer = signer_of(raw, **{PREFIX + "rsa_padding": padding_setting})
    certificate = signer.sign_certificate(leaf_builder(signer.ca_certificate))
    certificate.verify_directly_issued_by(signer.ca_certificate)
    assert certificate.signature_algorithm_oid._name == oid_name
    if padding_setting == "pss":
        assert isinstance(certificate.signature_algorithm_parameters, padding.PSS)
    openssl_verify(Path(raw["cjs.ca.dir"]) / CA_CERT_FILE, certificate, folder=tmp_path)


def test_a_crl_signed_on_the_token_verifies(pkcs11_settings):
    signer = signer_of(pkcs11_settings)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(signer.ca_certificate.subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=1))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(12345).revocation_date(now).build()
        )
    )
    crl = signer.sign_crl(builder)
    assert crl.is_signature_valid(signer.ca_certificate.public_key())
    assert crl.get_revoked_certificate_by_serial_number(12345) is not None


def test_the_token_key_signs_only_to_be_signed_bytes_with_the_expected_mechanisms(
    pkcs11_settings, pkcs11_rsa_settings
):
    """ECDSA: hashed here, raw CKM_ECDSA on the token, r‖s turned into DER; RSA: the token hashes."""
    ec_signer = signer_of(pkcs11_settings)
    message = b"to-be-signed bytes"
    signature = ec_signer.key.sign(message, ec.ECDSA(hashes.SHA384()))
    ec_signer.ca_certificate.public_key().verify(signature, message, ec.ECDSA(hashes.SHA384()))
    rsa_signer = signer_of(pkcs11_rsa_settings)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
    for pad in (padding.PKCS1v15(), pss):
        signature = rsa_signer.key.sign(message, pad, hashes.SHA256())
        public = rsa_signer.ca_certificate.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, message, pad, hashes.SHA256())
    with pytest.raises(TypeError):
        rsa_signer.key.decrypt(b"x", padding.PKCS1v15())


def test_fifty_concurrent_signatures_are_serialised_and_all_verify(pkcs11_settings):
    signer = signer_of(pkcs11_settings)
    barrier = threading.Barrier(50)
    results: list[x509.Certificate] = []
    errors: list[BaseException] = []

    def sign() -> None:
        builder = leaf_builder(signer.ca_certificate)
        barrier.wait()
        try:
            results.append(signer.sign_certificate(builder))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sign) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 50
    for certificate in results:
        certificate.verify_directly_issued_by(signer.ca_certificate)


# --- Reconnection -------------------------------------------------------------------------------------


def test_the_session_is_reopened_after_its_handle_became_invalid(pkcs11_settings, token):
    signer = signer_of(pkcs11_settings)
    opened = token.opened
    with token.lock:  # close the handle behind the session's back
        token._session.close()  # CKR_SESSION_HANDLE_INVALID at the next call
    certificate = signer.sign_certificate(leaf_builder(signer.ca_certificate))
    certificate.verify_directly_issued_by(signer.ca_certificate)
    assert token.opened == opened + 1


def test_an_idle_session_is_reopened_before_use(pkcs11_settings, token):
    signer = signer_of(pkcs11_settings)
    signer.sign_certificate(leaf_builder(signer.ca_certificate))
    opened = token.opened
    with token.lock:  # as if unused for longer than idle_seconds
        token._last_used -= token.idle_seconds + 1
    signer.sign_certificate(leaf_builder(signer.ca_certificate))
    assert token.opened == opened + 1
    signer.sign_certificate(leaf_builder(signer.ca_certificate))
    assert token.opened == opened + 1


def test_the_module_is_initialised_again_after_it_went_away(pkcs11_settings, token):
    signer = signer_of(pkcs11_settings)
    with token.lock:
        token.module.lib().finalize()  # CKR_CRYPTOKI_NOT_INITIALIZED at the next call
    certificate = signer.sign_certificate(leaf_builder(signer.ca_certificate))
    certificate.verify_directly_issued_by(signer.ca_certificate)


def test_a_missing_token_fails_with_one_line_then_signing_resumes_when_it_is_back(
    pkcs11_settings, softhsm, token
):
    signer = signer_of(pkcs11_settings)
    token_folders = list(softhsm.tokendir.iterdir())
    away = softhsm.root / "away"
    away.mkdir()
    with token.lock:
        for folder in token_folders:
            shutil.move(folder, away / folder.name)
    try:
        with pytest.raises(SignerUnavailable) as caught:
            signer.sign_certificate(leaf_builder(signer.ca_certificate))
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith("PKCS#11 token 'cjs-test': signing with key 'cjs-test-ca'")
        assert "the token is not present" in message
    finally:
        with token.lock:
            for folder in token_folders:
                shutil.move(away / folder.name, folder)
    certificate = signer.sign_certificate(leaf_builder(signer.ca_certificate))
    certificate.verify_directly_issued_by(signer.ca_certificate)


def test_user_already_logged_in_counts_as_a_successful_login(pkcs11_settings, token, softhsm):
    """Another session of the process logged in first: C_Login answers CKR_USER_ALREADY_LOGGED_IN."""
    signer = signer_of(pkcs11_settings)
    with token.lock:
        token._close()  # our session (and the login) gone
        other = token.token().open(user_pin=softhsm.pin)  # someone else logs the process in
        try:
            opened = token.opened
            certificate = signer.sign_certificate(leaf_builder(signer.ca_certificate))
            assert token.opened == opened + 1
        finally:
            token._close(forget=True)
            other.close()
    certificate.verify_directly_issued_by(signer.ca_certificate)
    signer.sign_certificate(leaf_builder(signer.ca_certificate))  # logs in again by itself


# --- Configuration errors: one line, naming the setting --------------------------------------------


def one_line_error(raw, **overrides) -> str:
    with pytest.raises(ConfigurationError) as caught:
        signer_of(raw, **overrides)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_wrong_pin_is_one_line_and_does_not_log_the_process_out(pkcs11_settings, monkeypatch):
    signer = signer_of(pkcs11_settings)
    monkeypatch.setenv("CJS_TEST_WRONG_PIN", "0000")
    message = one_line_error(pkcs11_settings, **{PREFIX + "pin": "env:CJS_TEST_WRONG_PIN"})
    assert message == "cjs.signer.pkcs11.pin: the token refused the PIN"
    signer.sign_certificate(leaf_builder(signer.ca_certificate))  # the good login was restored


def test_the_pin_from_a_file(pkcs11_settings, softhsm, tmp_path):
    pin_file = tmp_path / "pin"
    pin_file.write_text(softhsm.pin + "\n")
    signer = signer_of(pkcs11_settings, **{PREFIX + "pin": f"file:{pin_file}"})
    assert signer.describe()["signer"] == "pkcs11"


def test_a_pin_written_in_the_ini_file_is_refused_outside_development(pkcs11_settings, softhsm):
    message = one_line_error(
        pkcs11_settings, **{PREFIX + "pin": softhsm.pin, "cjs.environment": "production"}
    )
    assert message == (
        "cjs.signer.pkcs11.pin: a secret must come from env:NAME or file:/path, not from the ini file"
    )


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            {PREFIX + "module": "/nonexistent/libpkcs11.so"},
            "cjs.signer.pkcs11.module: /nonexistent/libpkcs11.so does not exist",
        ),
        (
            {PREFIX + "token_label": "no-such-token"},
            "cjs.signer.pkcs11.token_label: no token labelled 'no-such-token' in "
            "/usr/lib/softhsm/libsofthsm2.so (tokens: 'cjs-test')",
        ),
        (
            {PREFIX + "key_label": "no-such-key"},
            "cjs.signer.pkcs11.key_label: no private key labelled 'no-such-key' on token "
            "'cjs-test'",
        ),
        (
            {PREFIX + "pin": ""},
            "cjs.signer.pkcs11.pin: missing (the token's user PIN as env:NAME or file:/path)",
        ),
        (
            {PREFIX + "pin": "env:CJS_TEST_NO_SUCH_VARIABLE"},
            "cjs.signer.pkcs11.pin: environment variable CJS_TEST_NO_SUCH_VARIABLE is not set",
        ),
        (
            {PREFIX + "tokenlabel": "x"},
            "cjs.signer.pkcs11.tokenlabel: unknown setting (known: module, token_label, "
            "key_label, pin, rsa_padding, idle_seconds)",
        ),
        (
            {PREFIX + "rsa_padding": "oaep"},
            "cjs.signer.pkcs11.rsa_padding: expected one of pkcs1v15, pss, got 'oaep'",
        ),
    ],
    ids=[
        "missing-module",
        "unknown-token",
        "unknown-key",
        "no-pin",
        "pin-variable-unset",
        "typo",
        "bad-padding",
    ],
)
def test_bad_configuration_is_one_clear_line(pkcs11_settings, override, expected):
    assert one_line_error(pkcs11_settings, **override) == expected


def test_a_file_that_is_not_a_pkcs11_module_is_named(pkcs11_settings, tmp_path):
    fake = tmp_path / "libfake.so"
    fake.write_text("not a shared object")
    message = one_line_error(pkcs11_settings, **{PREFIX + "module": str(fake)})
    assert message.startswith(f"cjs.signer.pkcs11.module: cannot load {fake}: ")


def test_a_key_that_does_not_match_the_ca_certificate_is_refused(
    pkcs11_settings, pkcs11_rsa_settings
):
    message = one_line_error(
        pkcs11_settings, **{PREFIX + "key_label": pkcs11_rsa_settings[PREFIX + "key_label"]}
    )
    assert message.startswith("cjs.signer.pkcs11.key_label: key 'cjs-test-ca-rsa'")
    assert "does not match the CA certificate" in message


def test_read_config_never_shows_the_pin(pkcs11_settings, softhsm):
    config = read_config(validated(pkcs11_settings))
    assert config.pin == softhsm.pin
    assert softhsm.pin not in repr(config)


# --- cjs ca init / rotate / show ----------------------------------------------------------------


def test_ca_init_uses_an_existing_key_and_is_idempotent(softhsm, tmp_path):
    token = token_session(str(softhsm.module), softhsm.token_label)
    token.run(
        lambda session: generate_key_pair(session, "ec-p256", "ceremony-key"), "test", rw=True
    )
    raw = softhsm.settings(tmp_path / "ca", "ceremony-key")
    settings = validated(raw)
    path = init_ca(settings)
    signer = load_signer(settings)
    assert signer.describe()["algorithm"] == "EC secp256r1"
    assert signer.describe()["signature"] == "ECDSA with SHA-256"
    before = path.read_bytes()
    init_ca(settings)
    assert path.read_bytes() == before
    assert (tmp_path / "ca" / CA_BUNDLE_FILE).read_bytes() == before
    assert client_ca_file(settings) == tmp_path / "ca" / CA_BUNDLE_FILE


def test_ca_init_refuses_a_certificate_whose_key_is_not_on_the_token(softhsm, tmp_path):
    raw = softhsm.settings(tmp_path / "ca", "rotation-a")
    init_ca(validated(raw))
    with pytest.raises(ConfigurationError, match=r"^cjs\.signer\.pkcs11\.key_label: no private"):
        init_ca(validated(raw, **{PREFIX + "key_label": "never-made"}))


def test_rotation_on_the_token_keeps_both_cas_valid_during_the_cross_over(softhsm, tmp_path):
    raw = softhsm.settings(tmp_path / "ca", "rotating-ca")
    settings = validated(raw)
    init_ca(settings)
    old_signer = load_signer(settings)
    old_leaf = old_signer.sign_certificate(leaf_builder(old_signer.ca_certificate, "before"))

    rotation = rotate_ca(settings, key_label="rotating-ca-2")
    assert rotation.key == "rotating-ca-2"
    assert "set cjs.signer.pkcs11.key_label = rotating-ca-2 (the new CA key)" in rotation.next_steps
    # The old label no longer matches ca.pem: one line says what to do.
    with pytest.raises(ConfigurationError, match="does not match the CA certificate"):
        load_signer(settings)
    new_settings = validated(raw, **{PREFIX + "key_label": "rotating-ca-2"})
    new_signer = load_signer(new_settings)
    assert new_signer.ca_certificate != old_signer.ca_certificate
    assert new_signer.ca_certificate.subject == old_signer.ca_certificate.subject
    new_leaf = new_signer.sign_certificate(leaf_builder(new_signer.ca_certificate, "after"))

    (previous,) = previous_cas(new_settings)
    assert previous.certificate == old_signer.ca_certificate
    assert previous.signer == "pkcs11" and previous.key == "rotating-ca"
    assert previous.accepted_until - previous.retired_at < dt.timedelta(days=367)
    bundle = tmp_path / "ca" / CA_BUNDLE_FILE
    assert client_ca_file(new_settings) == bundle
    assert len(x509.load_pem_x509_certificates(bundle.read_bytes())) == 2
    openssl_verify(bundle, old_leaf, new_leaf, folder=tmp_path)
    # Each CA on its own verifies only its own certificates.
    lone = subprocess.run(
        ["openssl", "verify", "-CAfile", str(tmp_path / "ca" / CA_CERT_FILE), "/dev/stdin"],
        input=old_leaf.public_bytes(serialization.Encoding.PEM),
        capture_output=True,
    )
    assert lone.returncode != 0

    # The previous key still signs (CRLs for its certificates during the cross-over).
    (previous_signer,) = previous_signers(new_settings)
    assert previous_signer.ca_certificate == old_signer.ca_certificate
    facts = describe(new_settings)
    assert facts["key label"] == "rotating-ca-2"
    assert facts["previous CA 1"].startswith(f"key id {previous.key_id}, pkcs11 key rotating-ca")


def test_rotation_of_the_software_key(ca_settings, tmp_path):
    raw = {**ca_settings, "cjs.ca.dir": str(tmp_path / "ca")}
    settings = validated(raw)
    init_ca(settings)
    old = load_signer(settings)
    old_leaf = old.sign_certificate(leaf_builder(old.ca_certificate))
    rotation = rotate_ca(settings)
    assert rotation.key == "ca-key.pem"
    new = load_signer(settings)  # nothing to change in the settings
    assert new.ca_certificate != old.ca_certificate
    new_leaf = new.sign_certificate(leaf_builder(new.ca_certificate))
    openssl_verify(tmp_path / "ca" / CA_BUNDLE_FILE, old_leaf, new_leaf, folder=tmp_path)
    (previous_signer,) = previous_signers(settings)
    assert previous_signer.ca_certificate == old.ca_certificate
    assert (
        rotation.previous.path.parent / previous_cas(settings)[0].key
    ).stat().st_mode & 0o077 == 0


def test_moving_from_the_software_key_to_the_token_is_a_rotation(ca_settings, softhsm, tmp_path):
    """A software CA in cjs.ca.dir; the settings switched to pkcs11; 'cjs ca rotate' moves to the
    token, the software CA accepted during the cross-over."""
    folder = tmp_path / "ca"
    software = validated({**ca_settings, "cjs.ca.dir": str(folder)})
    init_ca(software)
    old = load_signer(software)
    raw = {**softhsm.settings(folder, "moved-ca"), "cjs.ca.key_passphrase": "test-ca-passphrase"}
    settings = validated(raw)
    rotation = rotate_ca(settings)
    assert rotation.key == "moved-ca" and rotation.next_steps[0].startswith("restart")
    signer = load_signer(settings)
    assert signer.name == "pkcs11"
    assert not (folder / "ca-key.pem").exists()
    (previous,) = previous_cas(settings)
    assert previous.signer == "software" and previous.certificate == old.ca_certificate
    openssl_verify(
        folder / CA_BUNDLE_FILE,
        old.sign_certificate(leaf_builder(old.ca_certificate)),
        signer.sign_certificate(leaf_builder(signer.ca_certificate)),
        folder=tmp_path,
    )


def test_cjs_ca_commands(softhsm, tmp_path, capsys):
    from core.cli import main

    raw = softhsm.settings(tmp_path / "ca", "cli-ca")
    ini = tmp_path / "cjs.ini"
    lines = "\n".join(
        f"{k} = {v}"
        for k, v in {**raw, "sqlalchemy.url": "sqlite://", "cjs.environment": "development"}.items()
    )
    ini.write_text(f"[app:main]\nuse = egg:cjs\n{lines}\n", encoding="utf-8")
    assert main(["-c", str(ini), "ca", "init"]) == 0
    assert f"CA certificate: {tmp_path / 'ca' / 'ca.pem'}" in capsys.readouterr().out
    assert main(["-c", str(ini), "ca", "show"]) == 0
    shown = capsys.readouterr().out
    assert "signer: pkcs11\n" in shown and "algorithm: EC secp384r1\n" in shown
    assert "key label: cli-ca\n" in shown and "not after: " in shown
    assert main(["-c", str(ini), "ca", "rotate", "--key-label", "cli-ca-2"]) == 0
    out = capsys.readouterr().out
    assert "next: set cjs.signer.pkcs11.key_label = cli-ca-2 (the new CA key)" in out
    assert main(["-c", str(ini), "ca", "show"]) == 2  # the ini still names the old key
    assert "does not match the CA certificate" in capsys.readouterr().err
