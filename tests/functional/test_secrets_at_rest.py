"""#12: no password and no code a run of the flows used rests anywhere in the database.

AUTH-3 says the emailed code is "stored only hashed"; SPEC section 7 sends every mail through the
outbox; passwords are kept as argon2id hashes only; an unknown user ID is audited as a pseudonym. This
test drives the real app (WebTest) through sign-up (FLOW-1: contract initial password, master
registration), certificate issuance with the code mailed to a real SMTP server (FLOW-2), login
(FLOW-4), a wrong login and a password typed into the user-ID field, the normal and the forced
password change, and user administration (a general user created with a temporary password, its
code mailed, FLOW-3; the master resetting its password, FLOW-5). It collects every password and
code used (codes as read from the received mail), then reads every column of every table, found by
reflection (text, bytes, JSON, numbers), and fails naming table and column for any hit, in any letter
case, as text or UTF-8 bytes. It scans while mails wait in the outbox and after the sender sent them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest
from conftest import Customer
from mailserver import SmtpServer
from sqlalchemy import MetaData, create_engine, insert, pool, select, update

from core import mail
from core.db.models import AuditEvent, OutboxMessage

MASTER = {"user_id": "master01", "email": "taro@example.com"}
GENERAL = {"user_id": "goro4567", "user_name": "労金　五郎", "email": "goro@example.com"}
CODE_LINE = re.compile(r"認証コード：(\d{6})")


# --- the scanner -------------------------------------------------------------------------------


def _texts(value: Any) -> Iterator[str | bytes]:
    """The forms of a stored value a secret could hide in."""
    if value is None or isinstance(value, bool | float | Decimal | dt.date | dt.time):
        return
    if isinstance(value, int):
        yield str(value)
    elif isinstance(value, str):
        yield value
    elif isinstance(value, bytes | bytearray | memoryview):
        yield bytes(value)
    else:  # JSON: dicts and lists, escaped and not
        yield json.dumps(value, ensure_ascii=False, default=str)
        yield json.dumps(value, default=str)


def _pattern(secret: str) -> tuple[re.Pattern[str], re.Pattern[bytes]]:
    """Case-insensitive, as text and as UTF-8 bytes; an all-digit secret (a code) must not be part
    of a longer number (a timestamp's microseconds are not a code)."""
    escaped = re.escape(secret)
    if secret.isdigit():
        escaped = rf"(?<![0-9]){escaped}(?![0-9])"
    return (
        re.compile(escaped, re.IGNORECASE),
        re.compile(escaped.encode("utf-8"), re.IGNORECASE),
    )


def scan(url: str, secrets: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """Every ``table.column: name of the secret`` found, and every ``table.column`` read."""
    patterns = {name: _pattern(secret) for name, secret in secrets.items()}
    engine = create_engine(url, poolclass=pool.NullPool)
    hits: set[str] = set()
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        columns = [f"{t.name}.{c.name}" for t in metadata.sorted_tables for c in t.columns]
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(select(table)).mappings():
                    for column, value in row.items():
                        for text in _texts(value):
                            for name, (as_text, as_bytes) in patterns.items():
                                found = (
                                    as_bytes.search(text)
                                    if isinstance(text, bytes)
                                    else as_text.search(text)
                                )
                                if found:
                                    hits.add(f"{table.name}.{column}: {name}")
    finally:
        engine.dispose()
    return sorted(hits), columns


# --- the run -----------------------------------------------------------------------------------


@pytest.fixture
def app_settings(app_settings: dict[str, str], mail_settings: dict[str, str]) -> dict[str, str]:
    """The app's settings with its mail going to the test's SMTP server (sent when the test says)."""
    # The clients' public address stays (the guard refuses another Host, #12).
    return {**app_settings, **mail_settings, "cjs.service_url": app_settings["cjs.service_url"]}


class Run:
    """The flows of one run, the secrets they used, and the sender sending when asked."""

    def __init__(self, app: Any, dbsession: Any, smtp: SmtpServer, url: str) -> None:
        self.app = app
        self.db = dbsession
        self.smtp = smtp
        self.url = url
        self.secrets: dict[str, str] = {}
        self.scans = 0
        self.columns: list[str] = []

    def used(self, name: str, secret: str) -> str:
        self.secrets[name] = secret
        return secret

    def assert_clean(self, when: str) -> None:
        hits, self.columns = scan(self.url, self.secrets)
        self.scans += 1
        assert hits == [], f"secrets at rest {when}: {hits}"

    def send_mail(self) -> None:
        mail.sender_for(self.app.registry).send_due()
        self.db.rollback()
        pending = self.db.scalars(select(OutboxMessage).where(OutboxMessage.sent_at.is_(None)))
        assert pending.all() == []

    def waiting_code(self, name: str, to: str) -> str:
        """The code of the newest code mail to ``to`` still in the outbox, opened with the app's
        key as only the sender may (the test must know it to look for it)."""
        self.db.rollback()
        row = self.db.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.to_addr == to,
                OutboxMessage.kind == "email_code",
                OutboxMessage.sent_at.is_(None),
            )
            .order_by(OutboxMessage.id.desc())
        ).first()
        assert row is not None, f"no code mail waiting for {to}"
        match = CODE_LINE.search(mail.body_of(row, self.app.registry.settings))
        assert match is not None
        return self.used(name, match.group(1))

    def mailed_code(self, name: str, to: str) -> str:
        """Scan while the code mail to ``to`` waits, send it, and read the code from the mail the
        SMTP server received."""
        waiting = self.waiting_code(name, to)
        self.assert_clean(f"while the code mail to {to} waits")
        self.send_mail()
        bodies = [m.get_content() for m in self.smtp.messages if m["To"] == to]
        codes = [match.group(1) for body in bodies if (match := CODE_LINE.search(body))]
        assert codes and codes[-1] == waiting
        return codes[-1]

    def issue(self, browser: Customer, user_id: str, password: str, email: str, name: str) -> Any:
        """FLOW-2 to the download, the code read from the mail; returns the certificate."""
        browser.app.reset()
        page = browser.start_issue(user_id, password)
        assert "code" in page.forms[0].fields, page.text
        form = page.forms[0]
        form["code"] = self.mailed_code(f"code mailed to {name}", email)
        page = form.submit().maybe_follow()
        page = page.forms[0].submit().maybe_follow()  # 発行
        page = page.forms["issuing-form"].submit().maybe_follow()  # 電子証明書発行中
        assert "電子証明書発行結果" in page.text, page.text
        pkcs12 = browser.app.get("/cert/download").body
        browser.app.reset()
        return browser.use_certificate(pkcs12, password)

    def register_general(self, master: Customer, user_id: str, email: str, password: str) -> None:
        """DM493101 登録: a general user of the master's contract with a temporary password."""
        form = master.app.get("/users/new").forms["user-form"]
        values = {
            "user_id": user_id,
            "user_name": "労金　五郎",
            "password": password,
            "password_confirm": password,
            "email": email,
            "email_confirm": email,
        }
        for field, value in values.items():
            form[field] = value
        assert "を登録しました。" in form.submit().maybe_follow().text


def change_password(page: Any, current: str, new: str) -> Any:
    """The password form of DC590101 (forced) or of パスワード変更, filled in and sent."""
    form = page.forms["password-form"]
    form["current_password"] = current
    form["new_password"] = new
    form["new_password_confirm"] = new
    return form.submit().maybe_follow()


def choose_group(page: Any) -> Any:
    if "groups-form" in page.forms:
        page = page.forms["groups-form"].submit("group_id", index=0).maybe_follow()
    return page


def test_no_password_and_no_code_of_a_run_rests_in_any_table(
    app: Any, customer: Customer, dbsession: Any, smtp_server: SmtpServer, db_url: str
) -> None:
    """#12, AUTH-3, SPEC section 7: sign-up, issuance, login, a wrong login, a password typed as a
    user ID, both password changes and user administration leave none of their passwords and codes
    in the database: not while mails wait in the outbox, not after they were sent."""
    run = Run(app, dbsession, smtp_server, db_url)
    master_password = run.used("master password", "Passw0rd!")
    run.used("initial password", "Demo#001")

    # FLOW-1: contract number + initial password, then the master's own data.
    customer.register_master(password=master_password)

    # FLOW-2 with the code from the mail; FLOW-4 login.
    run.issue(customer, MASTER["user_id"], master_password, MASTER["email"], "the master")
    assert "DC671101" in choose_group(customer.login(master_password)).text

    # A wrong password at login, and a password typed into the user-ID field at DC586101.
    customer.app.reset()  # a new browser session, the same certificate
    wrong = run.used("wrong password", "Wr0ng#Pass")
    assert "パスワードが正しくありません" in customer.login(wrong).text
    stranger = Customer.of(app, dbsession)
    typed = run.used("password typed as a user ID", "Secr3t#Typo")
    assert "正しくありません" in stranger.start_issue(typed, typed).text
    assert "DC671101" in choose_group(customer.login(master_password)).text

    # The normal password change (FLOW-6).
    new_master = run.used("master's new password", "N3w#Passw")
    page = change_password(customer.app.get("/password"), master_password, new_master)
    assert "パスワードを変更しました。" in page.text

    # User administration (FLOW-3): a general user with a temporary password, whose issuance mails
    # it a code and whose first login forces a password of its own.
    temporary = run.used("temporary password", "Temp#1234")
    run.register_general(customer, GENERAL["user_id"], GENERAL["email"], temporary)
    goro = Customer.of(app, dbsession)
    run.issue(goro, GENERAL["user_id"], temporary, GENERAL["email"], "the general user")
    page = goro.login(temporary)
    assert page.request.path == "/password/initial"
    own = run.used("general user's password", "Goro#5678")
    assert "DC671101" in choose_group(change_password(page, temporary, own)).text

    # FLOW-5: the master sets a temporary password again (mailed, not yet sent) ...
    reset = run.used("password set by the master", "Kari#0001")
    form = customer.app.get(f"/users/{GENERAL['user_id']}").forms["user-form"]
    form["password"] = reset
    form["password_confirm"] = reset
    assert "更新しました" in form.submit().maybe_follow().text
    # ... and a second general user's issuance waits for its code: scan with all mails waiting.
    second = run.used("second temporary password", "Rok#u0001")
    run.register_general(customer, "rokuro01", "rokuro@example.com", second)
    rokuro = Customer.of(app, dbsession)
    assert "code" in rokuro.start_issue("rokuro01", second).forms[0].fields
    run.waiting_code("code mailed to the second general user", "rokuro@example.com")
    run.assert_clean("while mails wait in the outbox")

    run.send_mail()
    run.assert_clean("after every mail was sent")

    # The scan read what matters: the mails (all sent), the hashes, the pseudonym of the typed text.
    assert {
        "outbox_messages.sealed_body",
        "outbox_messages.subject",
        "audit_events.actor",
        "audit_events.details",
        "users.password_hash",
        "email_codes.code_hash",
        "web_sessions.data",
    } <= set(run.columns)
    dbsession.rollback()
    assert len(smtp_server.messages) == len(dbsession.scalars(select(OutboxMessage)).all()) >= 10
    pseudonyms = dbsession.scalars(
        select(AuditEvent.actor).where(AuditEvent.action == "issue.password.unknown_user")
    ).all()
    assert pseudonyms and all(actor.startswith("hmac:") for actor in pseudonyms)
    codes = [name for name in run.secrets if name.startswith("code")]
    tables = {column.split(".")[0] for column in run.columns}
    print(
        f"\nsecrets at rest: {len(run.secrets)} secrets ({len(codes)} codes) searched in "
        f"{len(tables)} tables, {len(run.columns)} columns, {run.scans} scans: no hit"
    )


# --- the scanner can fail ----------------------------------------------------------------------


def test_the_scanner_finds_a_code_planted_as_text_bytes_json_or_in_another_case(
    dbsession: Any, db_url: str
) -> None:
    """The scan above is not vacuous: a code left in a text column, a bytes column or a JSON value,
    and a password stored upper-cased, are each reported by table and column."""
    code, password = "493817", "Passw0rd!"
    dbsession.execute(
        insert(OutboxMessage).values(
            message_id="<planted@cjs>",
            kind="email_code",
            to_addr="goro@example.jp",
            subject=f"認証コード：{code}",
            sealed_body=f"Passwort {password.upper()}".encode(),
            attempts=0,
            created_at=dt.datetime(2026, 12, 1, 0, 0, 0, 493817, tzinfo=dt.UTC),  # not a code
            next_attempt_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        )
    )
    dbsession.add(
        AuditEvent(
            action="planted",
            actor="someone",
            actor_kind="user",
            result="success",
            details={"typed": f"x{code}y"},
        )
    )
    dbsession.commit()

    hits, _ = scan(db_url, {"code": code, "password": password, "never used": "Unused#999"})

    assert hits == [
        "audit_events.details: code",
        "outbox_messages.sealed_body: password",
        "outbox_messages.subject: code",
    ]

    dbsession.execute(update(OutboxMessage).values(subject="件名", sealed_body=None))
    dbsession.commit()
    assert scan(db_url, {"password": password})[0] == []
