"""CERT-6 behind nginx: a revocation through the service reaches nginx's ``ssl_crl`` file, the service
runs its reload command (``nginx -s reload``), and nginx then stops the revoked certificate itself.

nginx with ``ssl_verify_client optional`` does not abort the TLS handshake of a certificate that fails
verification: it completes it and answers every request on that connection with its own 400 page
("The SSL certificate error"), ``$ssl_client_verify`` being ``FAILED:certificate revoked``; the
request never reaches the application. (With direct TLS, cheroot loads no CRL: the application's own
check refuses the certificate at every request, see tests/functional/test_revocation.py.)
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import select

from core.db import get_session_factory
from core.pki.crl import get_publisher
from core.pki.signers import get_signer

pytestmark = pytest.mark.e2e

NGINX_ONLY = pytest.mark.parametrize("e2e_servers", ["nginx"], indirect=True)
PASSWORD = "Passw0rd!x"


def _issue(app: Any, user_id: str, folder: Path) -> tuple[str, Path, Path]:
    """A certificate of our CA for a new user of the demo member contract: serial, PEM files."""
    from core.db.models import Contract, User
    from core.pki.certificates import issue_certificate

    with get_session_factory(app.registry)() as session:
        contract = session.scalars(select(Contract).where(Contract.contract_no == "10000001")).one()
        user = User(
            contract=contract,
            user_id=user_id,
            role="general",
            name="労金　花子",
            email=f"{user_id}@example.jp",
            password_hash="$argon2id$placeholder",
        )
        session.add(user)
        session.flush()
        issued = issue_certificate(
            session,
            get_signer(app.registry),
            user,
            PASSWORD,
            key_type="ec-p256",
            now=dt.datetime.now(dt.UTC),
            actor=user_id,
            kdf_rounds=1,
        )
        session.commit()
    key, certificate, _ = pkcs12.load_key_and_certificates(issued.pkcs12, PASSWORD.encode())
    assert key is not None and certificate is not None
    cert_file, key_file = folder / f"{user_id}.pem", folder / f"{user_id}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return issued.certificate.serial, cert_file, key_file


def _verify_seen(deployment: Any, start: int) -> list[str]:
    """The X-SSL-Client-Verify values of the requests that reached the app since ``start``."""
    return [r.headers.get("HTTP_X_SSL_CLIENT_VERIFY", "") for r in deployment.requests[start:]]


@NGINX_ONLY
def test_nginx_refuses_a_revoked_certificate_after_the_reload_the_service_triggers(
    deployment: Any, tmp_path: Path
) -> None:
    """CERT-6, BANK-5: nginx reads ``<cjs.ca.dir>/crl.pem`` (``ssl_crl``); the bank revokes a
    certificate through the revocation service; after the commit the service writes the CRL and runs
    ``cjs.crl.reload_command`` (``nginx -s reload``); nginx then answers that certificate with its
    400 page before the application, while another certificate of the CA still gets through."""
    from core.db.models import Certificate
    from core.pki.certificates import revoke
    from core.pki.crl import NGINX_CRL_FILE

    nginx = deployment.nginx
    assert nginx is not None
    app = deployment.app
    crl_file = Path(deployment.settings["cjs.ca.dir"]) / NGINX_CRL_FILE
    assert crl_file.exists()  # published at start
    conf = nginx.conf.read_text()
    # The fixture's nginx reads an empty CRL of the test CA; this test points it at the CRL the
    # service itself publishes in cjs.ca.dir, as a production deployment does.
    conf, count = re.subn(r"^(\s*)ssl_crl\s+[^;]+;", rf"\1ssl_crl {crl_file};", conf, flags=re.M)
    assert count == 1
    nginx.conf.write_text(conf)
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    assert binary is not None
    reload_command = [binary, "-p", str(nginx.prefix), "-c", str(nginx.conf)]
    reload_command += ["-e", str(nginx.error_log), "-s", "reload"]
    get_publisher(app.registry).reload_command = reload_command  # = cjs.crl.reload_command
    get_publisher(app.registry).publish()  # the CRL as it is, and nginx reloaded with ssl_crl
    # nginx ignores a reload signal while it is still carrying out the previous one: let this one
    # finish, as a real deployment (one reload per revocation, far apart) always does.
    time.sleep(1.0)

    revoked_serial, revoked_cert, revoked_key = _issue(app, "crl00001", tmp_path)
    _, kept_cert, kept_key = _issue(app, "crl00002", tmp_path)
    seen = len(deployment.requests)
    page = deployment.client(revoked_cert, revoked_key).get("/")
    assert page.status == 200 and _verify_seen(deployment, seen) == ["SUCCESS"]

    workers_before = nginx.workers()
    assert workers_before
    with get_session_factory(app.registry)() as back_office:
        row = back_office.scalars(
            select(Certificate).where(Certificate.serial == revoked_serial)
        ).one()
        assert revoke(
            back_office,
            row,
            reason="keyCompromise",
            actor="bank01",
            actor_kind="staff",
            now=dt.datetime.now(dt.UTC),
        )
        committed = time.perf_counter()
        back_office.commit()  # after commit: crl.pem rewritten, then nginx -s reload

    logged = len(nginx.access_lines())
    deadline = time.monotonic() + 10
    while True:  # nginx swaps its workers gracefully: a few connections may reach old ones
        page = deployment.client(revoked_cert, revoked_key).get("/")
        if page.status == 400 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    refused_after = time.perf_counter() - committed
    error_log = nginx.error_log.read_text() if nginx.error_log.exists() else ""
    assert page.status == 400, f"still {page.status} after 10 s; nginx error log:\n{error_log}"
    assert "SSL certificate error" in page.text  # nginx's own page, not the application's
    line = nginx.wait_for_access(lambda line: '" 400 ' in line, logged)
    assert 'verify="FAILED:certificate revoked"' in line, line
    nginx.wait_for_workers_gone(workers_before)  # the reload done: no old worker may answer
    seen = len(deployment.requests)
    assert deployment.client(revoked_cert, revoked_key).get("/").status == 400
    assert len(deployment.requests) == seen  # nginx stops it: the application never sees it

    seen = len(deployment.requests)
    page = deployment.client(kept_cert, kept_key).get("/")
    assert page.status == 200 and _verify_seen(deployment, seen) == ["SUCCESS"]
    print(f"revocation commit → nginx refuses: {refused_after * 1000:.0f} ms")
