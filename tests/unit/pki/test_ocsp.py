"""The OCSP responder (RFC 6960) of the CA (CERT-6): a delegated responder certificate, good / revoked
/ unknown answers from the database, the nonce echoed; and ``openssl ocsp`` against the service
served over plain HTTP on loopback.

Each test has its own copy of the CA folder, so the responder files it asserts on are its own.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cheroot import wsgi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import get_engine, get_session_factory
from core.db.models import Certificate, Contract, ContractKind, User
from core.pki.certificates import issue_certificate, revoke
from core.pki.ocsp import (
    RENEW_BEFORE,
    RESPONDER_CERT_FILE,
    RESPONDER_KEY_FILE,
    RESPONDER_VALIDITY,
    OCSPResponder,
    decode_get_path,
    issuer_hashes,
)
from core.pki.signers import get_signer, load_signer
from core.pki.x509 import CA_CERT_FILE, build_ca_certificate
from core.settings import validate
from hsm.software import CA_KEY_FILE

PASSWORD = "Passw0rd!x"


def copy_ca(ca_settings: dict[str, str], folder: Path) -> dict[str, Any]:
    """Validated settings of a copy of the worker's CA in ``folder``."""
    folder.mkdir(parents=True)
    for name in (CA_CERT_FILE, CA_KEY_FILE):
        shutil.copy2(Path(ca_settings["cjs.ca.dir"]) / name, folder / name)
    return validate(
        {
            **ca_settings,
            "cjs.ca.dir": str(folder),
            "sqlalchemy.url": "sqlite://",
            "cjs.environment": "development",
        }
    )


@dataclass
class Leaf:
    serial: str
    certificate: x509.Certificate


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def issue(session: Session, signer: Any, user_id: str) -> Leaf:
    """A customer certificate for a new user ``user_id`` (committed)."""
    user = User(
        contract=Contract(
            contract_no=f"8{user_id[-4:]:0>7}",
            kind=ContractKind.MEMBER,
            organisation_name="ろうきん労働組合",
            initial_password_hash="$argon2id$placeholder",
        ),
        user_id=user_id,
        role="master",
        name="労金　五郎",
        email=f"{user_id}@example.jp",
        password_hash="$argon2id$placeholder",
    )
    session.add(user)
    session.flush()
    issued = issue_certificate(
        session, signer, user, PASSWORD, key_type="ec-p256", now=_now(), actor=user_id, kdf_rounds=1
    )
    session.commit()
    _, certificate, _ = pkcs12.load_key_and_certificates(issued.pkcs12, PASSWORD.encode())
    assert certificate is not None
    return Leaf(issued.certificate.serial, certificate)


def revoke_serial(session: Session, serial: str, reason: str) -> dt.datetime:
    now = _now().replace(microsecond=0)
    row = session.scalars(select(Certificate).where(Certificate.serial == serial)).one()
    assert revoke(session, row, reason=reason, actor="bank01", actor_kind="staff", now=now)
    session.commit()
    return now


def ocsp_request(
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    *,
    nonce: bytes | None = None,
    algorithm: hashes.HashAlgorithm | None = None,
) -> bytes:
    # SHA-1 CertIDs are what openssl and most clients send (RFC 5019); only an identifier here.
    algorithm = algorithm or hashes.SHA1()  # noqa: S303
    builder = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, algorithm)
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def verify_signature(response: ocsp.OCSPResponse) -> x509.Certificate:
    """Check the response's signature with the certificate it carries; return that certificate."""
    (responder,) = response.certificates
    public_key = responder.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    algorithm = response.signature_hash_algorithm
    assert algorithm is not None
    public_key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))
    return responder


@pytest.fixture
def ca(ca_settings: dict[str, str], tmp_path: Path) -> tuple[dict[str, Any], Any]:
    settings = copy_ca(ca_settings, tmp_path / "ca")
    return settings, load_signer(settings)


@pytest.fixture
def responder(ca: tuple[dict[str, Any], Any]) -> OCSPResponder:
    settings, signer = ca
    return OCSPResponder(settings, lambda: signer)


# --- The delegated responder certificate -------------------------------------------------------


def test_the_responder_certificate_is_a_delegated_ocsp_signer_of_the_ca(
    ca: tuple[dict[str, Any], Any], responder: OCSPResponder
) -> None:
    """CERT-6 (RFC 6960 4.2.2.2): issued by the CA for id-kp-OCSPSigning with id-pkix-ocsp-nocheck,
    an end-entity certificate valid 30 days; its key file is readable by the service only."""
    settings, signer = ca
    current = responder.responder()
    certificate = current.certificate
    certificate.verify_directly_issued_by(signer.ca_certificate)
    eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    certificate.extensions.get_extension_for_class(x509.OCSPNoCheck)
    assert not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert certificate.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime == RESPONDER_VALIDITY + dt.timedelta(minutes=5)

    folder = Path(settings["cjs.ca.dir"])
    assert stat.S_IMODE(os.stat(folder / RESPONDER_KEY_FILE).st_mode) == 0o600
    public = x509.load_pem_x509_certificate((folder / RESPONDER_CERT_FILE).read_bytes())
    assert public == certificate
    verify = subprocess.run(
        [
            *("openssl", "verify", "-purpose", "ocsphelper"),
            *("-CAfile", folder / CA_CERT_FILE, folder / RESPONDER_CERT_FILE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_the_responder_key_is_shared_by_processes_and_renewed_before_expiry(
    ca: tuple[dict[str, Any], Any], responder: OCSPResponder
) -> None:
    """CERT-6: another process loads the same key; with less than 10 days left it is replaced (once,
    by whichever process gets there first)."""
    settings, signer = ca
    first = responder.responder()
    other_process = OCSPResponder(settings, lambda: signer)
    assert other_process.responder().certificate == first.certificate

    almost = first.certificate.not_valid_after_utc - RENEW_BEFORE + dt.timedelta(seconds=1)
    renewed = responder.responder(almost)
    assert renewed.certificate.serial_number != first.certificate.serial_number
    assert renewed.certificate.not_valid_after_utc > first.certificate.not_valid_after_utc
    assert (
        other_process.responder(almost).certificate == renewed.certificate
    )  # loaded, not reissued


def test_a_new_ca_key_gets_a_new_responder_certificate(
    ca: tuple[dict[str, Any], Any], responder: OCSPResponder
) -> None:
    """CERT-6: after a CA key change (``cjs ca rotate``), the next answer is signed by a responder
    certificate of the new CA."""
    settings, _ = ca
    old = responder.responder()
    key = ec.generate_private_key(ec.SECP384R1())
    new_ca = build_ca_certificate(settings, key.public_key()).sign(key, hashes.SHA384())

    class NewSigner:
        ca_certificate = new_ca

        def sign_certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate:
            return builder.sign(key, hashes.SHA384())

    rotated = OCSPResponder(settings, lambda: NewSigner())
    current = rotated.responder()
    assert current.certificate != old.certificate
    current.certificate.verify_directly_issued_by(new_ca)


# --- Answers -----------------------------------------------------------------------------------


def test_good_revoked_and_unknown_answers_with_the_nonce_echoed(
    dbsession: Session, ca: tuple[dict[str, Any], Any], responder: OCSPResponder
) -> None:
    """CERT-6 (RFC 6960): good for a valid certificate; revoked with the time and the reason; unknown
    for a serial number the CA never issued; the request's nonce comes back; signed by the delegated
    responder, which the response carries and names by key hash."""
    _, signer = ca
    ca_certificate = signer.ca_certificate
    good = issue(dbsession, signer, "user0001")
    bad = issue(dbsession, signer, "user0002")
    revoked_at = revoke_serial(dbsession, bad.serial, "keyCompromise")

    answer = ocsp.load_der_ocsp_response(
        responder.respond(dbsession, ocsp_request(good.certificate, ca_certificate, nonce=b"n1"))
    )
    assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert answer.serial_number == good.certificate.serial_number
    assert answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"n1"
    assert answer.next_update_utc is None
    responder_certificate = verify_signature(answer)
    assert responder_certificate == responder.responder().certificate
    assert (
        answer.responder_key_hash
        == responder_certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value.digest
    )

    answer = ocsp.load_der_ocsp_response(
        responder.respond(dbsession, ocsp_request(bad.certificate, ca_certificate))
    )
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_time_utc == revoked_at
    assert answer.revocation_reason == x509.ReasonFlags.key_compromise
    assert len(answer.extensions) == 0  # no nonce asked, none given
    verify_signature(answer)

    # A certificate of our CA's name and key that the database does not know: unknown.
    stranger = (
        x509.CertificateBuilder()
        .subject_name(good.certificate.subject)
        .issuer_name(ca_certificate.subject)
        .public_key(good.certificate.public_key())
        .serial_number(12345)
        .not_valid_before(_now())
        .not_valid_after(_now() + dt.timedelta(days=1))
    )
    unknown = signer.sign_certificate(stranger)
    answer = ocsp.load_der_ocsp_response(
        responder.respond(dbsession, ocsp_request(unknown, ca_certificate))
    )
    assert answer.certificate_status == ocsp.OCSPCertStatus.UNKNOWN


def test_an_unspecified_revocation_has_no_reason_and_sha256_cert_ids_work(
    dbsession: Session, ca: tuple[dict[str, Any], Any], responder: OCSPResponder
) -> None:
    """CERT-6: as in the CRL, an ``unspecified`` reason is left out; CertIDs hashed with SHA-256 are
    answered with the same hash."""
    _, signer = ca
    leaf = issue(dbsession, signer, "user0001")
    revoke_serial(dbsession, leaf.serial, "unspecified")
    request = ocsp_request(leaf.certificate, signer.ca_certificate, algorithm=hashes.SHA256())
    answer = ocsp.load_der_ocsp_response(responder.respond(dbsession, request))
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason is None
    assert isinstance(answer.hash_algorithm, hashes.SHA256)
    name_hash, key_hash = issuer_hashes(signer.ca_certificate, hashes.SHA256())
    assert (answer.issuer_name_hash, answer.issuer_key_hash) == (name_hash, key_hash)


def test_other_issuers_and_garbage_are_refused(
    dbsession: Session, ca: tuple[dict[str, Any], Any], responder: OCSPResponder
) -> None:
    """CERT-6 (RFC 6960 2.3): another CA's certificate → unauthorized; not a request →
    malformedRequest; both unsigned."""
    settings, signer = ca
    leaf = issue(dbsession, signer, "user0001")
    key = ec.generate_private_key(ec.SECP256R1())
    foreign_ca = build_ca_certificate(settings, key.public_key()).sign(key, hashes.SHA256())

    answer = ocsp.load_der_ocsp_response(
        responder.respond(dbsession, ocsp_request(leaf.certificate, foreign_ca))
    )
    assert answer.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED
    answer = ocsp.load_der_ocsp_response(responder.respond(dbsession, b"\x30\x03garbage"))
    assert answer.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    answer = ocsp.load_der_ocsp_response(responder.respond(dbsession, b"\x30" * 10_000))
    assert answer.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_the_get_form_decodes_standard_and_url_safe_base64() -> None:
    """CERT-6 (RFC 6960 appendix A): GET /ocsp/<base64 of the DER request>."""
    data = bytes(range(256))
    assert decode_get_path(base64.b64encode(data).decode()) == data
    assert decode_get_path(base64.urlsafe_b64encode(data).decode().rstrip("=")) == data
    assert decode_get_path("not base64!") is None
    tricky = b"\xfb\xff\xbf\xfb\xff"  # base64 "+/+/+/8=": %2B, %2F and %3D once URL-encoded
    assert decode_get_path("%2B%2F%2B%2F%2B%2F8%3D") == tricky


# --- The endpoint, with openssl ocsp -----------------------------------------------------------


@dataclass
class Served:
    url: str
    app: Any
    folder: Path


@pytest.fixture
def served(db_url: str, ca_settings: dict[str, str], tmp_path: Path) -> Iterator[Served]:
    """The application on this test's database, served by cheroot over plain HTTP on loopback."""
    from core.app import make_app

    folder = tmp_path / "ca"
    copy_ca(ca_settings, folder)
    settings = {
        **ca_settings,
        "cjs.ca.dir": str(folder),
        "sqlalchemy.url": db_url,
        "cjs.environment": "development",
        "cjs.hours.always_open": "false",  # the responder answers outside service hours too
        "cjs.hours.maintenance": "2000-01-01T00:00/2100-01-01T00:00",
        "cjs.mail.sender": "off",
    }
    server = wsgi.Server(("127.0.0.1", 0), None)
    server.prepare()
    # The public base URL is where openssl asks (#12: the guard refuses any other Host).
    app = make_app({**settings, "cjs.service_url": f"http://127.0.0.1:{server.bind_addr[1]}/"})
    server.wsgi_app = app
    import threading

    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{server.bind_addr[1]}", app, folder)
    finally:
        server.stop()
        thread.join(timeout=10)
        get_engine(app.registry).dispose()


def _openssl_ocsp(served: Served, leaf: Path, *extra: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *("openssl", "ocsp", "-issuer", served.folder / CA_CERT_FILE, "-cert", leaf),
            *("-url", f"{served.url}/ocsp", "-resp_text", *map(str, extra)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_openssl_ocsp_gets_good_and_revoked_from_the_served_responder(
    served: Served, tmp_path: Path
) -> None:
    """CERT-6: ``openssl ocsp -issuer ca.pem -cert leaf.pem -url http://127.0.0.1:PORT/ocsp -resp_text
    -VAfile responder.pem`` says good, then revoked with its time and reason after a revocation
    through the service; the response verifies and echoes openssl's nonce. Trusting the CA alone
    (``-CAfile``) verifies it too (the delegated responder certificate is in the response)."""
    registry = served.app.registry
    with get_session_factory(registry)() as session:
        leaf = issue(session, get_signer(registry), "user0001")
    pem = tmp_path / "leaf.pem"
    pem.write_bytes(leaf.certificate.public_bytes(serialization.Encoding.PEM))
    va_file = served.folder / RESPONDER_CERT_FILE

    result = _openssl_ocsp(served, pem, "-VAfile", va_file)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"{pem}: good" in output
    assert "Response verify OK" in output
    assert "WARNING" not in output  # a missing nonce or bad times would warn
    assert "OCSP Nonce" in output

    with get_session_factory(registry)() as session:
        revoke_serial(session, leaf.serial, "keyCompromise")

    result = _openssl_ocsp(served, pem, "-VAfile", va_file)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"{pem}: revoked" in output
    assert "Reason: keyCompromise" in output and "Revocation Time:" in output
    assert "Response verify OK" in output and "WARNING" not in output

    result = _openssl_ocsp(served, pem, "-CAfile", served.folder / CA_CERT_FILE)
    assert "Response verify OK" in result.stdout + result.stderr
    assert f"{pem}: revoked" in result.stdout


def test_the_get_form_and_the_post_form_answer_alike(served: Served) -> None:
    """CERT-6 (RFC 6960 appendix A): GET with the URL-encoded base64 request; POST needs no CSRF
    token or session; both are never cached."""
    import urllib.parse
    import urllib.request

    registry = served.app.registry
    with get_session_factory(registry)() as session:
        leaf = issue(session, get_signer(registry), "user0001")
    der = ocsp_request(leaf.certificate, get_signer(registry).ca_certificate, nonce=b"x" * 16)

    quoted = urllib.parse.quote(base64.b64encode(der).decode(), safe="")
    with urllib.request.urlopen(f"{served.url}/ocsp/{quoted}", timeout=30) as reply:
        assert reply.headers["Content-Type"] == "application/ocsp-response"
        assert reply.headers["Cache-Control"] == "no-store"
        got = ocsp.load_der_ocsp_response(reply.read())
    post = urllib.request.Request(
        f"{served.url}/ocsp",
        data=der,
        headers={"Content-Type": "application/ocsp-request"},
        method="POST",
    )
    with urllib.request.urlopen(post, timeout=30) as reply:
        posted = ocsp.load_der_ocsp_response(reply.read())
    for answer in (got, posted):
        assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD
        assert answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"x" * 16
