"""``make demo`` end to end: ``cjs -c development.ini demo`` as a real process, over real TLS and SMTP.

The ini file is a copy of the project's development.ini placed in tmp_path, so its ``%(here)s`` var
paths (database, CA, server certificate, Maildir) all point into tmp_path.
"""

from __future__ import annotations

import importlib
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage
from pathlib import Path
from types import ModuleType

import pytest

from core.cli import load_settings
from core.db import get_engine

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("demo_server")]


def require(module: str) -> ModuleType:
    """Import a component the test needs: skipped when missing, but under CI=true it fails."""
    if os.environ.get("CI", "").lower() == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Demo:
    process: subprocess.Popen[bytes]
    log: Path
    port: int
    smtp_port: int
    staff_port: int
    staff_dir: Path
    db_url: str
    ca_file: Path
    maildir: Path
    key_file: Path
    started_in: float

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def url(self, path: str) -> str:
        return f"https://localhost:{self.port}{path}"

    def get(self, path: str) -> tuple[int, dict[str, str], str]:
        context = ssl.create_default_context(cafile=str(self.ca_file))  # verifies the server
        with urllib.request.urlopen(self.url(path), context=context, timeout=15) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8")


def _wait_listening(demo: Demo) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if demo.process.poll() is not None:
            pytest.fail(f"cjs demo exited with {demo.process.returncode}:\n{demo.output()}")
        try:
            with socket.create_connection(("127.0.0.1", demo.port), timeout=1):
                pass
        except OSError:
            time.sleep(0.1)
            continue
        # The banner is printed right after the server is bound.
        while "CJS demo ready" not in demo.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        return
    pytest.fail(f"cjs demo did not listen within {START_TIMEOUT} s:\n{demo.output()}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Demo]:
    """``cjs -c <copy of development.ini> demo`` on free ports, stopped with SIGTERM afterwards."""
    require("cheroot")
    require("aiosmtpd")
    cjs = Path(sys.executable).with_name("cjs")
    if not cjs.exists():
        message = f"{cjs} is missing: run 'make install'"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    tmp_path = tmp_path_factory.mktemp("demo")
    ini = tmp_path / "development.ini"
    text = (ROOT / "development.ini").read_text()
    anchor = "cjs.mail.smtp_port = 8025\n"  # the ini's port; --smtp-port below must win over it
    assert anchor in text
    # The sender's poll (default 30 s) picks up mail that another process puts in the outbox.
    ini.write_text(text.replace(anchor, anchor + "cjs.mail.poll_seconds = 1\n"))
    settings = load_settings(str(ini))
    for name in ("cjs.ca.dir", "cjs.demo.maildir", "cjs.demo.staff_dir", "cjs.secrets.key_file"):
        assert Path(settings[name]).is_relative_to(tmp_path), name
    assert str(tmp_path) in settings["sqlalchemy.url"]

    port, smtp_port, staff_port = _free_port(), _free_port(), _free_port()
    log = tmp_path / "demo.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("CJS_CONFIG", None)
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(cjs),
                "-c",
                str(ini),
                "demo",
                "--port",
                str(port),
                "--smtp-port",
                str(smtp_port),
                "--staff-port",
                str(staff_port),
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    demo = Demo(
        process=process,
        log=log,
        port=port,
        smtp_port=smtp_port,
        staff_port=staff_port,
        staff_dir=Path(settings["cjs.demo.staff_dir"]),
        db_url=settings["sqlalchemy.url"],
        ca_file=Path(settings["cjs.ca.dir"]) / "ca.pem",
        maildir=Path(settings["cjs.demo.maildir"]),
        key_file=Path(settings["cjs.secrets.key_file"]),
        started_in=0.0,
    )
    try:
        _wait_listening(demo)
        demo.started_in = time.monotonic() - started
        yield demo
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_the_top_page_is_served_over_tls_with_a_strict_csp(demo):
    status, headers, body = demo.get("/")
    assert status == 200
    csp = headers.get("Content-Security-Policy", "")
    assert "default-src 'none'" in csp or "default-src 'self'" in csp
    assert "script-src" in csp
    assert "'unsafe-inline'" not in csp
    assert "'unsafe-eval'" not in csp
    for button in (
        "ログイン",
        "マスターユーザーの初期登録",
        "一般ユーザーの初期登録",
        "電子証明書発行",
    ):
        assert button in body, button


def test_the_demo_prints_what_a_demonstrator_needs(demo):
    output = demo.output()
    assert f"https://localhost:{demo.port}/" in output
    assert str(demo.ca_file) in output
    assert f"https://localhost:{demo.port}/demo/mail" in output
    with (ROOT / "demo" / "bank.toml").open("rb") as handle:
        contracts = tomllib.load(handle)["contracts"]
    assert len(contracts) >= 2
    for contract in contracts:
        assert contract["contract_no"] in output
        assert contract["initial_password"] in output


def test_the_demo_serves_the_staff_console_to_its_demo_staff(demo, tmp_path):
    """#14: the staff console beside the customers' site, a certificate and the password per demo
    staff member in the banner; its listener lets no one in without a staff certificate."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    output = demo.output()
    assert f"https://localhost:{demo.staff_port}/staff/" in output
    password = "Demo#Staff1"
    assert f"password {password}" in output
    url = f"https://localhost:{demo.staff_port}/staff/login"
    context = ssl.create_default_context(cafile=str(demo.ca_file))
    with pytest.raises((ssl.SSLError, ConnectionError, urllib.error.URLError)):
        urllib.request.urlopen(url, context=context, timeout=15).read()  # no certificate
    for staff_id, role in (
        ("operator01", "取扱者"),
        ("approver01", "検印者"),
        ("admin01", "管理者"),
    ):
        p12 = demo.staff_dir / f"{staff_id}.p12"
        assert str(p12) in output and role in output
        key, certificate, _ = pkcs12.load_key_and_certificates(p12.read_bytes(), password.encode())
        assert key is not None and certificate is not None
        cert_file, key_file = tmp_path / f"{staff_id}.pem", tmp_path / f"{staff_id}.key"
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.create_default_context(cafile=str(demo.ca_file))
        context.load_cert_chain(cert_file, key_file)
        browser = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context), urllib.request.HTTPCookieProcessor()
        )
        with browser.open(url, timeout=15) as response:
            body = response.read().decode("utf-8")
        assert "職員用の電子証明書を確認しました" in body, body  # the password screen comes next


def _iso_2022_jp_message() -> bytes:
    """A message as Japanese mailers often send it: ISO-2022-JP, MIME encoded-word subject."""
    subject = Header("【ろうきん】ロックのお知らせ", "iso-2022-jp").encode()
    body = "パスワードを6回続けて誤ったため、ロックしました。\r\n".encode("iso-2022-jp")
    return (
        b"From: no-reply@cjs.example.jp\r\nTo: general@demo.example.jp\r\n"
        b"Subject: " + subject.encode("ascii") + b"\r\nDate: Mon, 23 Nov 2026 09:00:00 +0900\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n"
        b"Content-Transfer-Encoding: 7bit\r\n\r\n" + body
    )


def test_mail_sent_to_the_demo_smtp_server_is_kept_and_shown(demo):
    first = EmailMessage()
    first["From"] = "CJS <no-reply@cjs.example.jp>"
    first["To"] = "master@demo.example.jp"
    first["Subject"] = "【ろうきん】認証コードのお知らせ"
    first.set_content("労金　太郎 様\n\n認証コード：482915\n有効期限は30分です。\n")
    with smtplib.SMTP("127.0.0.1", demo.smtp_port, timeout=10) as smtp:
        smtp.send_message(first)
        time.sleep(0.05)
        smtp.sendmail(
            "no-reply@cjs.example.jp", ["general@demo.example.jp"], _iso_2022_jp_message()
        )

    status, headers, body = demo.get("/demo/mail")
    assert status == 200
    assert "'unsafe-inline'" not in headers.get("Content-Security-Policy", "")
    assert "デモ用メールボックス" in body
    assert "【ろうきん】認証コードのお知らせ" in body
    assert "認証コード：482915" in body
    assert "master@demo.example.jp" in body
    assert "【ろうきん】ロックのお知らせ" in body
    assert "パスワードを6回続けて誤ったため、ロックしました。" in body
    # Newest first.
    assert body.index("ロックのお知らせ") < body.index("認証コードのお知らせ")
    assert "<script>" not in body  # no inline script; only the site's own script files
    assert all('src="' in tag for tag in body.split("<script")[1:])
    assert " style=" not in body
    # Kept on disk in the Maildir, not only in memory.
    stored = list((demo.maildir / "new").iterdir()) + list((demo.maildir / "cur").iterdir())
    assert len(stored) == 2


def test_the_mailbox_page_exists_only_in_demo_mode(ca_settings, sqlite_url, tmp_path):
    """cjs.demo false (the default, production): no /demo/mail route at all; true: always open."""
    webtest = require("webtest")
    from core.app import make_app

    base = {
        **ca_settings,
        "sqlalchemy.url": sqlite_url,
        "cjs.environment": "development",
        # Closed all day, every day: the mailbox is a demo tool, not a customer screen (AUTH-7).
        "cjs.hours.open_days": "",
        "cjs.demo.maildir": str(tmp_path / "mail"),
    }
    for demo_mode, expected in (("false", 404), ("true", 200)):
        app = make_app({**base, "cjs.demo": demo_mode})
        try:
            client = webtest.TestApp(
                app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
            )
            response = client.get("/demo/mail", status=expected)
            if expected == 200:
                assert "まだメールはありません" in response.text
        finally:
            get_engine(app.registry).dispose()


def test_the_apps_own_mail_goes_to_the_smtp_port_the_demo_was_given(demo):
    """SPEC 7 in the demo: mail from the app's outbox reaches the demo SMTP server on ``--smtp-port``
    (not the ini's ``cjs.mail.smtp_port``) and shows on /demo/mail."""
    from core import mail
    from core.db import make_engine, make_session_factory

    engine = make_engine(demo.db_url)
    try:
        with make_session_factory(engine)() as session:  # as a request or a job would
            mail.enqueue(
                session,
                to="outbox@demo.example.jp",
                template="user_unlocked",
                context={"user_name": "労金　花子", "user_id": "demo0042"},
                settings={"cjs.secrets.key_file": str(demo.key_file)},  # the demo's key
            )
            session.commit()
    finally:
        engine.dispose()

    deadline = time.monotonic() + 20
    while True:  # the demo's sender polls every second
        body = demo.get("/demo/mail")[2]
        if "outbox@demo.example.jp" in body or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert "outbox@demo.example.jp" in body and "demo0042" in body, demo.output()


def test_sigterm_stops_the_demo_cleanly(demo):
    """Runs last in this module: SIGTERM ends the process with status 0 and frees both ports."""
    print(f"cjs demo listened {demo.started_in:.2f} s after start")
    demo.process.send_signal(signal.SIGTERM)
    assert demo.process.wait(timeout=20) == 0, demo.output()
    for port in (demo.port, demo.smtp_port):
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
