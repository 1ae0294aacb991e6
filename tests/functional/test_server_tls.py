"""core.cli.server over real sockets: TLS 1.2+, an optional client certificate checked against our CA.

AUTH-5: the top page must answer without a certificate (SSL_CLIENT_VERIFY=NONE); a certificate of
our CA reaches the application (SUCCESS, its subject); a certificate of any other CA never gets a
request through (the handshake is refused).
"""

from __future__ import annotations

import datetime as dt
import http.client
import importlib
import os
import shutil
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def require(module: str) -> ModuleType:
    """Import a component the test needs: skipped when missing, but under CI=true it fails."""
    if os.environ.get("CI", "").lower() == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module)


require("cheroot")

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

from core.cli.server import ensure_server_certificate, make_server, running, tls_dir  # noqa: E402
from core.pki.ca import init_ca, issue_server_certificate  # noqa: E402
from core.pki.signers import load_signer  # noqa: E402
from core.pki.x509 import CA_CERT_FILE, ca_dir  # noqa: E402
from core.settings import validate  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("server_tls")]


REQUESTS: list[str] = []


def echo_app(environ, start_response):
    """Answer with what the server put in the environ about the client certificate."""
    REQUESTS.append(environ.get("SSL_CLIENT_VERIFY", "-"))
    body = "|".join(
        environ.get(name, "-")
        for name in (
            "SSL_CLIENT_VERIFY",
            "SSL_CLIENT_S_DN_CN",
            "SSL_PROTOCOL",
            "SSL_CLIENT_M_SERIAL",
        )
    ).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _write_pem(path: Path, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _client_builder(
    common_name: str, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "10000001"),
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                ]
            )
        )
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )


@pytest.fixture(scope="module")
def tls_files(ca_settings, tmp_path_factory) -> dict[str, Any]:
    """Server certificate of our CA, a client certificate of our CA and one of a foreign CA."""
    folder = tmp_path_factory.mktemp("tls")
    signer = load_signer(ca_settings)
    server_cert, server_key = issue_server_certificate(signer, ["localhost", "127.0.0.1"], folder)

    ours_key = ec.generate_private_key(ec.SECP256R1())
    ours = signer.sign_certificate(
        _client_builder("demo001 労金　太郎", signer.ca_certificate.subject, ours_key.public_key())
    )
    _write_pem(folder / "ours.pem", ours, ours_key)

    foreign_ca_key = ec.generate_private_key(ec.SECP256R1())
    foreign_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Rokin-KW CA")])
    now = dt.datetime.now(dt.UTC)
    foreign_ca = (
        x509.CertificateBuilder()
        .subject_name(foreign_name)
        .issuer_name(foreign_name)
        .public_key(foreign_ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(foreign_ca_key, hashes.SHA256())
    )
    foreign_key = ec.generate_private_key(ec.SECP256R1())
    foreign = _client_builder("demo001 労金　太郎", foreign_name, foreign_key.public_key()).sign(
        foreign_ca_key, hashes.SHA256()
    )
    _write_pem(folder / "foreign.pem", foreign, foreign_key)
    (folder / "foreign-chain.pem").write_bytes(
        (folder / "foreign.pem").read_bytes() + foreign_ca.public_bytes(serialization.Encoding.PEM)
    )
    return {
        "ca": ca_dir(ca_settings) / CA_CERT_FILE,
        "server_cert": server_cert,
        "server_key": server_key,
        "ours": folder / "ours.pem",
        "ours_serial": ours.serial_number,
        "foreign": folder / "foreign-chain.pem",
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server_port(tls_files) -> Iterator[int]:
    """core.cli.server.make_server with the echo app, served from a thread on a free loopback port."""
    port = _free_port()
    server = make_server(
        echo_app,
        "127.0.0.1",
        port,
        tls_files["server_cert"],
        tls_files["server_key"],
        tls_files["ca"],
        numthreads=2,
        shutdown_timeout=1,
    )
    with running(server) as thread:
        yield port
    assert not thread.is_alive()


def _context(tls_files, client: str | None = None, version: ssl.TLSVersion | None = None):
    context = ssl.create_default_context(cafile=str(tls_files["ca"]))
    if client:
        context.load_cert_chain(str(tls_files[client]))
    if version:
        context.minimum_version = context.maximum_version = version
    return context


def _get(port: int, context: ssl.SSLContext) -> str:
    connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=10)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200
        return response.read().decode()
    finally:
        connection.close()


VERSIONS = [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3]


@pytest.mark.parametrize("version", VERSIONS, ids=["tls1.2", "tls1.3"])
def test_without_a_client_certificate_the_request_goes_through_as_none(
    tls_files, server_port, version
):
    verify, cn, protocol, _serial = _get(server_port, _context(tls_files, version=version)).split(
        "|"
    )
    assert verify == "NONE"
    assert cn == "-"
    assert (
        protocol == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
    )


@pytest.mark.parametrize("version", VERSIONS, ids=["tls1.2", "tls1.3"])
def test_a_certificate_of_our_ca_is_verified_and_named(tls_files, server_port, version):
    answer = _get(server_port, _context(tls_files, "ours", version))
    verify, cn, _protocol, serial = answer.split("|")
    assert verify == "SUCCESS"
    assert cn == "demo001 労金　太郎"
    # Upper-case hex, padded to whole bytes (a leading 0 may appear): compare as a number.
    assert int(serial, 16) == tls_files["ours_serial"]


@pytest.mark.parametrize("version", VERSIONS, ids=["tls1.2", "tls1.3"])
def test_a_certificate_of_a_foreign_ca_is_refused_in_the_handshake(tls_files, server_port, version):
    """Same CA name, other key: the server aborts with "unknown ca"; no request reaches the app.

    TLS 1.2 fails in the handshake itself. In TLS 1.3 the client's handshake ends before the server
    checks the client certificate, so the client meets the server's alert (or, racing with the
    server's close, an EOF or reset) at its first read.
    """
    served = len(REQUESTS)
    with pytest.raises((ssl.SSLError, ConnectionError)) as caught:
        _get(server_port, _context(tls_files, "foreign", version))
    if version == ssl.TLSVersion.TLSv1_2:
        assert isinstance(caught.value, ssl.SSLError)
        assert "UNKNOWN_CA" in str(caught.value).upper().replace(" ", "_")
    assert len(REQUESTS) == served
    # The server keeps serving afterwards.
    assert _get(server_port, _context(tls_files)).startswith("NONE|")


def test_tls_older_than_1_2_is_refused(tls_files, server_port):
    context = _context(tls_files)
    with warnings.catch_warnings():  # Python deprecates TLS 1.1 on the client side too
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _get(server_port, context)


def test_the_server_stops_cleanly_from_another_thread(tls_files):
    """stop() from any thread ends serve(): what SIGTERM does in ``cjs serve``."""
    port = _free_port()
    server = make_server(
        echo_app,
        "127.0.0.1",
        port,
        tls_files["server_cert"],
        tls_files["server_key"],
        tls_files["ca"],
        numthreads=1,
        shutdown_timeout=1,
    )
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    assert _get(port, _context(tls_files)).startswith("NONE|")
    server.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_the_server_certificate_is_issued_once_and_renewed_for_a_new_ca(ca_settings, tmp_path):
    """var/tls/server.pem: issued by our CA when missing, kept, re-issued when the CA is re-created;
    a certificate of another CA placed there by an operator is kept as it is."""
    settings = validate(
        {
            **ca_settings,
            "cjs.ca.dir": str(tmp_path / "ca"),
            "sqlalchemy.url": "sqlite://",
            "cjs.environment": "development",
        }
    )
    init_ca(settings)
    cert_path, key_path = ensure_server_certificate(settings)
    assert cert_path == tmp_path / "tls" / "server.pem" == tls_dir(settings) / "server.pem"
    assert key_path.stat().st_mode & 0o077 == 0
    first = cert_path.read_bytes()
    assert ensure_server_certificate(settings)[0].read_bytes() == first

    shutil.rmtree(tmp_path / "ca")
    init_ca(settings)
    renewed = x509.load_pem_x509_certificate(ensure_server_certificate(settings)[0].read_bytes())
    assert cert_path.read_bytes() != first
    renewed.verify_directly_issued_by(load_signer(settings).ca_certificate)

    operator_key = ec.generate_private_key(ec.SECP256R1())
    operator_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bank Public CA")])
    operator_cert = _client_builder(
        "cjs.example-rokin.jp", operator_name, operator_key.public_key()
    )
    placed = operator_cert.sign(operator_key, hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM
    )
    cert_path.write_bytes(placed)
    assert ensure_server_certificate(settings)[0].read_bytes() == placed
