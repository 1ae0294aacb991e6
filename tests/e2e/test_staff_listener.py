"""Both listeners over real TLS (#14 acceptance; AUTH-5, AUTH-8): the customers' (``cjs serve``,
the ``deployment`` fixture, client certificates optional) and the staff's (``make_server`` with
``require_client_certificate``, as ``cjs serve --staff`` runs it), on one database.

The staff app is not reachable through the customer listener and the customer app not through the
staff listener; customer certificates do not authenticate on the staff listener; staff certificates
do not log in as customers; the staff listener lets no connection without a client certificate
through the handshake.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from test_tls import issue_certificate, register_master

from core import clock
from core.app import close_app, make_app
from core.cli.server import make_server, running
from core.pki.signers import get_signer
from core.staff import accounts
from core.staff.roles import StaffRole

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("e2e_servers", ["direct"], indirect=True),
]

LOOPBACK = "127.0.0.1"
NOT_STAFF = "この電子証明書は職員用画面ではご利用いただけません。"
NOT_CUSTOMER = "この電子証明書はご利用いただけません。"


@dataclass
class StaffListener:
    base_url: str
    app: Any


@pytest.fixture
def staff_listener(deployment: Any, e2e_tls_files: Any) -> Iterator[StaffListener]:
    """The staff app on a listener of its own, client certificates required."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port = int(probe.getsockname()[1])
    base_url = f"https://localhost:{port}"
    staff = make_app({**deployment.settings, "cjs.staff.service_url": base_url + "/"}, kind="staff")
    server = make_server(
        staff,
        LOOPBACK,
        port,
        e2e_tls_files.server_cert,
        e2e_tls_files.server_key,
        e2e_tls_files.ca_file,
        numthreads=4,
        shutdown_timeout=1,
        require_client_certificate=True,
    )
    server.expiration_interval = 0.05
    try:
        with running(server):
            yield StaffListener(base_url, staff)
    finally:
        close_app(staff)


def staff_member(
    deployment: Any,
    staff: StaffListener,
    staff_id: str = "clerk01",
    roles: tuple[StaffRole, ...] = (StaffRole.OPERATOR,),
) -> tuple[Any, Any, str]:
    """A staff account (an operator by default) with its staff certificate (PEM files) and its
    password, as ``cjs staff create`` and the certificate screen give them."""
    now = clock.now(staff.app.registry)
    with deployment.db() as db:
        member, password = accounts.create_staff(
            db,
            staff_id=staff_id,
            name="取扱　太郎",
            roles=list(roles),
            now=now,
            actor="test",
        )
        member.password_is_temporary = False
        issued = accounts.issue_certificate(
            db, get_signer(staff.app.registry), member, password, now=now, actor="test"
        )
        db.commit()
    cert_file, key_file = deployment.save_pkcs12(issued.pkcs12, password)
    return cert_file, key_file, password


def test_the_two_listeners_keep_each_other_out(deployment, staff_listener):
    register_master(deployment)
    customer = issue_certificate(deployment)
    staff_cert, staff_key, staff_password = staff_member(deployment, staff_listener)

    tls_client = type(deployment.client())  # tests/e2e/conftest.TlsClient

    def staff_client(cert: Any = None, key: Any = None) -> Any:
        return tls_client(staff_listener.base_url, deployment.ca_file, cert, key)

    # The staff listener: no certificate, no request (the handshake requires one).
    with pytest.raises((ssl.SSLError, ConnectionError)):
        staff_client().get("/staff/")
    # A customer's certificate passes TLS (our CA) but does not authenticate on the staff app.
    page = staff_client(customer.cert_file, customer.key_file).get("/staff/login")
    assert NOT_STAFF in page.text and page.path == "/staff/entrance"
    # The staff certificate and the password sign in.
    browser = staff_client(staff_cert, staff_key)
    page = browser.get("/staff/login")
    page = browser.submit(page, {"password": staff_password})
    assert page.path == "/staff/" and "職員ID：clerk01" in page.text
    # The customer app is not there.
    for path in ("/", "/login", "/register/master"):
        assert browser.get(path).status == 404

    # The customer listener: a staff certificate does not log in as a customer.
    page = deployment.client(staff_cert, staff_key).get("/login")
    assert NOT_CUSTOMER in page.text and "DC582101" not in page.text
    # And the staff app is not there.
    for path in ("/staff/", "/staff/login"):
        assert deployment.client(customer.cert_file, customer.key_file).get(path).status == 404
