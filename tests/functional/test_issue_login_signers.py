"""CERT-1 acceptance with the CA key on a SoftHSM2 token (``cjs.ca.signer = pkcs11``).

1. The issuance and login tests of test_issue_login.py run with both signers through the ``signers``
   marker of tests/conftest.py (``[sqlite-pkcs11]`` variants); here, the app really signs on the token.
2. 50 concurrent issuances against the token: every one succeeds and every certificate verifies.
3. Bad PKCS#11 configuration stops the start with one line: ``make_app`` raises, ``cjs serve``
   prints one line and exits with status 2.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from factories import ContractFactory, UserFactory
from sqlalchemy import func, select

from core.app import make_app
from core.pki.signers import get_signer
from core.settings import ConfigurationError

CJS = Path(sys.executable).with_name("cjs")
PREFIX = "cjs.signer.pkcs11."


@pytest.fixture
def ca_signer() -> str:
    """The CA of this module: its key on the SoftHSM2 token; nothing else changes."""
    return "pkcs11"


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """SQLite only here; PostgreSQL runs the software-signer variant (and the concurrency test)."""
    return sqlite_url


def test_the_app_signs_with_the_token(app):
    assert get_signer(app.registry).name == "pkcs11"


# --- 50 concurrent issuances -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_fifty_concurrent_issuances_all_succeed_and_verify(
    backend, pkcs11_settings, tmp_path, request
):
    """Threads each issue on their own database session and user; the token signs them all."""
    from core.db import make_engine, make_session_factory
    from core.db.models import Certificate, Role, User, utcnow
    from core.pki.certificates import issue_certificate
    from core.pki.signers import load_signer
    from core.settings import validate

    url = request.getfixturevalue(f"{backend}_url")
    signer = load_signer(
        validate({**pkcs11_settings, "sqlalchemy.url": url, "cjs.environment": "development"})
    )
    engine = make_engine(url, pool_size=55, max_overflow=0)
    sessions = make_session_factory(engine)
    with sessions() as session:
        contract = ContractFactory(contract_no="90000001")
        users = [UserFactory(contract=contract, role=Role.GENERAL) for _ in range(50)]
        session.add_all(users)
        session.commit()
        user_pks = [user.id for user in users]

    barrier = threading.Barrier(len(user_pks))
    issued: list[bytes] = []
    errors: list[BaseException] = []

    def issue(user_pk: int) -> None:
        barrier.wait()  # before the transaction: on SQLite BEGIN takes the write lock
        session = sessions()
        try:
            user = session.get(User, user_pk)
            assert user is not None
            result = issue_certificate(
                session,
                signer,
                user,
                "Passw0rd!",
                key_type="ec-p256",
                now=utcnow(),
                actor=user.user_id,
                kdf_rounds=1000,
            )
            session.commit()
            issued.append(result.pkcs12)
        except BaseException as exc:
            errors.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=issue, args=(pk,)) for pk in user_pks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert errors == [], errors[:3]
        assert len(issued) == 50
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(Certificate)) == 50
    finally:
        engine.dispose()

    from cryptography.hazmat.primitives.serialization import pkcs12

    paths = []
    for index, data in enumerate(issued):
        _key, certificate, _chain = pkcs12.load_key_and_certificates(data, b"Passw0rd!")
        assert certificate is not None
        certificate.verify_directly_issued_by(signer.ca_certificate)
        path = tmp_path / f"issued-{index}.pem"
        path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        paths.append(str(path))
    ca_file = Path(pkcs11_settings["cjs.ca.dir"]) / "ca.pem"
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca_file), *paths], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": OK") == 50


# --- Bad configuration: the service does not start ------------------------------------------------


BAD = [
    pytest.param(
        {PREFIX + "pin": "env:CJS_TEST_WRONG_PIN"},
        "cjs.signer.pkcs11.pin: the token refused the PIN",
        id="wrong-pin",
    ),
    pytest.param(
        {PREFIX + "module": "/nonexistent/libpkcs11.so"},
        "cjs.signer.pkcs11.module: /nonexistent/libpkcs11.so does not exist",
        id="missing-module",
    ),
    pytest.param(
        {PREFIX + "key_label": "no-such-key"},
        "cjs.signer.pkcs11.key_label: no private key labelled 'no-such-key' on token 'cjs-test'",
        id="unknown-key",
    ),
    pytest.param(
        {PREFIX + "token_label": "no-such-token"},
        "cjs.signer.pkcs11.token_label: no token labelled 'no-such-token' in "
        "/usr/lib/softhsm/libsofthsm2.so (tokens: 'cjs-test')",
        id="unknown-token",
    ),
]


@pytest.fixture
def wrong_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CJS_TEST_WRONG_PIN", "0000")


@pytest.mark.parametrize(("override", "line"), BAD)
def test_make_app_refuses_bad_pkcs11_settings(app_settings, wrong_pin, override, line):
    with pytest.raises(ConfigurationError) as caught:
        make_app({**app_settings, **override})
    assert str(caught.value) == line


@pytest.mark.parametrize(("override", "line"), BAD)
def test_cjs_serve_with_bad_pkcs11_settings_prints_one_line_and_exits(
    app_settings, wrong_pin, tmp_path, override, line
):
    settings = {**app_settings, **override}
    ini = tmp_path / "bad.ini"
    ini.write_text(
        "[app:main]\nuse = egg:cjs\n" + "\n".join(f"{k} = {v}" for k, v in settings.items()) + "\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [CJS, "-c", ini, "serve", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),  # SOFTHSM2_CONF and the PIN variables of this test process
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"cjs: {line}\n"
