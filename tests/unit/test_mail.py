"""The mail outbox (section 7): a mail leaves only when its transaction commits, never lost, never doubled.

Sending goes through a real SMTP server on 127.0.0.1 (``tests/mailserver.py``), on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import re
import smtplib
import threading
import types
from collections.abc import Iterator
from email.header import decode_header, make_header
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import transaction
import zope.sqlalchemy
from mailserver import parsed
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from core import mail
from core.clock import utcnow
from core.db import get_engine, get_session_factory, make_engine, make_session_factory
from core.db.models import OutboxMessage, User
from core.mail.interfaces import IOutbox
from core.mail.services import DatabaseOutbox
from core.secrets import UnsealError

if TYPE_CHECKING:
    from tests.mailserver import SmtpServer

ROOT = Path(__file__).resolve().parents[2]
CODE = "493817"
SAMPLE: dict[str, Any] = {
    "user_name": "労金　五郎",
    "user_id": "goro01",
    "code": CODE,
    "valid_minutes": 30,
    "locked_until": dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC),
    "lock_minutes": 60,
    "is_master": True,
    "not_after": dt.datetime(2026, 12, 24, 14, 59, 59, tzinfo=dt.UTC),
    "days_left": 30,
    "changed_at": dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC),
    "serial": "3A9F0C",
    "revoked_at": dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC),
    "old_serial": "3A9F0C",
    "new_serial": "4B10D2",
    "old_user_id": "goro99",
    "contract_no": "10000001",
}
SETTINGS = {"cjs.service_url": "https://cjs.example.jp/"}


def _context(template: str, **changes: Any) -> dict[str, Any]:
    return {key: SAMPLE[key] for key in mail.TEMPLATES[template].context_keys} | changes


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def _queue(
    factory: sessionmaker[Session],
    settings: dict[str, str],
    to: str = "goro@example.jp",
    template: str = "email_code",
    **changes: Any,
) -> OutboxMessage:
    with factory() as session:
        message = mail.enqueue(
            session,
            to=to,
            template=template,
            context=_context(template, **changes),
            settings=settings,
        )
        session.commit()
        return message


def _row(factory: sessionmaker[Session], message_id: str) -> OutboxMessage:
    with factory() as session:
        return session.scalars(
            select(OutboxMessage).where(OutboxMessage.message_id == message_id)
        ).one()


# --- templates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("template", sorted(mail.TEMPLATES))
def test_every_template_renders_in_japanese_naming_the_service(template: str) -> None:
    """Section 7, AUTH-2, AUTH-3, CERT-5: each mail names the service and its URL, in Japanese."""
    rendered = mail.render(template, _context(template), SETTINGS)

    assert rendered.subject.startswith("【ろうきん賃金控除事務支援サービス】")
    assert "\n" not in rendered.subject
    assert "ろうきん賃金控除事務支援サービス" in rendered.body
    assert "https://cjs.example.jp/" in rendered.body
    assert "労金　五郎 様" in rendered.body.splitlines()[0]
    assert "Subject:" not in rendered.body
    assert re.search(r"[ぁ-ん]", rendered.body)
    assert "{" not in rendered.body and "}" not in rendered.body


JAPANESE = re.compile(r"[\u3000-\u303f\u3040-\u309f\u30a0-\u30ff\u4e00-\u9fff\uff00-\uffef]")


@pytest.mark.parametrize("template", sorted(mail.TEMPLATES))
@pytest.mark.parametrize("is_master", [True, False])
def test_every_template_renders_in_english_with_no_japanese_left(
    template: str, is_master: bool
) -> None:
    """SPEC 8, #15: in English each mail names the service in English and holds no Japanese but
    the data (a Japanese name stays as the customer wrote it)."""
    context = _context(template, user_name="Goro Rokin")
    if "is_master" in context:
        context["is_master"] = is_master
    rendered = mail.render(template, context, SETTINGS, locale="en")

    assert rendered.subject.startswith("[Rokin Payroll Deduction Support Service] ")
    assert rendered.body.startswith("Dear Goro Rokin,\n")
    assert "Rokin Payroll Deduction Support Service" in rendered.body
    assert "https://cjs.example.jp/" in rendered.body
    assert not JAPANESE.search(rendered.subject + rendered.body), rendered.body
    assert "%(" not in rendered.body and "{" not in rendered.body


def test_english_mails_give_times_with_the_months_name_in_japan_time() -> None:
    body = mail.render("locked", _context("locked"), SETTINGS, locale="en").body
    assert "  Locked until: 24 November 2026 11:00 JST\n" in body  # 02:00 UTC
    assert "after 60 minutes" in body
    body = mail.render("email_code", _context("email_code"), SETTINGS, locale="en").body
    assert f"  Authentication code: {CODE}\n" in body
    for days, shown in ((30, "(30 days left)"), (1, "(1 day left)"), (0, "(today)")):
        context = _context("cert_expiring", days_left=days)
        body = mail.render("cert_expiring", context, SETTINGS, locale="en").body
        assert f"  Valid until: 24 December 2026 23:59 JST {shown}\n" in body


def test_a_language_without_a_catalogue_gives_the_japanese_mail() -> None:
    japanese = mail.render("email_code", _context("email_code"), SETTINGS)
    assert mail.render("email_code", _context("email_code"), SETTINGS, locale="fr") == japanese
    assert mail.render("email_code", _context("email_code"), SETTINGS, locale="ja") == japanese


class _Rows:
    """A stand-in database session that keeps what the outbox adds."""

    def __init__(self) -> None:
        self.added: list[OutboxMessage] = []

    def add(self, row: OutboxMessage) -> None:
        self.added.append(row)


class _Request:
    """A stand-in request: its language and who is logged in on it."""

    def __init__(self, locale_name: str, logged_in: Any = None) -> None:
        self.locale_name = locale_name
        self.identity = None if logged_in is None else types.SimpleNamespace(user=logged_in)


def _user(pk: int, language: str) -> User:
    return User(
        id=pk,
        user_id=f"user{pk:02d}",
        name="労金　五郎",
        email=f"u{pk}@example.jp",
        language=language,
    )


def test_the_outbox_writes_each_mail_in_the_language_the_rule_gives(secrets_key_file: str) -> None:
    """docs/emails.md, "The mail's language": the logged-in customer's own action in the request's
    language; another user's mail in that user's last-used one; a flow before login that proved
    who asks (``notify_requester``) in the request's language, remembered; a job's in the user's."""
    settings = {**SETTINGS, "cjs.secrets.key_file": secrets_key_file}
    master, general = _user(1, "ja"), _user(2, "en")
    rows = _Rows()

    def subject_of(outbox: DatabaseOutbox, method: str, user: User) -> str:
        getattr(outbox, method)(user, "user_unlocked")
        return rows.added[-1].subject

    on_english_screens = DatabaseOutbox(
        rows,  # type: ignore[arg-type]
        settings,
        request=_Request("en", logged_in=master),  # type: ignore[arg-type]
    )
    assert subject_of(on_english_screens, "notify_user", master).startswith("[Rokin")
    assert master.language == "en"  # the language used last
    master.language = "ja"
    general.language = "ja"
    assert subject_of(on_english_screens, "notify_user", general).startswith("【")
    general.language = "en"
    assert subject_of(on_english_screens, "notify_user", general).startswith("[Rokin")

    before_login = DatabaseOutbox(
        rows,  # type: ignore[arg-type]
        settings,
        request=_Request("en"),  # type: ignore[arg-type]
    )
    assert subject_of(before_login, "notify_user", master).startswith("【")  # e.g. a lock
    assert subject_of(before_login, "notify_requester", master).startswith("[Rokin")
    assert master.language == "en"

    job = DatabaseOutbox(rows, settings)  # type: ignore[arg-type]
    assert subject_of(job, "notify_user", master).startswith("[Rokin")
    assert subject_of(job, "notify_requester", _user(3, "ja")).startswith("【")
    job.send(to="x@example.jp", template="user_unlocked", context=_context("user_unlocked"))
    assert rows.added[-1].subject.startswith("【")
    # The staff console's identity is no customer, whatever its number.
    staff = types.SimpleNamespace(id=1)
    console = DatabaseOutbox(
        rows,  # type: ignore[arg-type]
        settings,
        request=_Request("ja", logged_in=staff),  # type: ignore[arg-type]
    )
    assert subject_of(console, "notify_user", master).startswith("[Rokin")


def test_templates_folder_holds_exactly_the_declared_templates() -> None:
    files = {p.stem for p in mail.TEMPLATE_DIR.glob("*.txt") if not p.name.startswith("_")}
    assert files == set(mail.TEMPLATES)


@pytest.mark.parametrize("template", sorted(mail.TEMPLATES))
def test_every_template_and_context_key_is_documented(template: str) -> None:
    text = (ROOT / "docs" / "emails.md").read_text(encoding="utf-8")
    section = re.search(rf"^## `{template}`\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert section, f"{template} is not in docs/emails.md"
    for key in mail.TEMPLATES[template].context_keys:
        assert f"`{key}`" in section.group(1), f"{template}: context key {key} is not documented"


def test_email_code_mail_shows_the_code_and_30_minutes() -> None:
    """AUTH-3: the 6-digit code, valid 30 minutes."""
    body = mail.render("email_code", _context("email_code"), SETTINGS).body
    assert f"認証コード：{CODE}" in body
    assert "30分間" in body


def test_blocked_mail_tells_master_and_general_user_what_to_do() -> None:
    """AUTH-2: a blocked master goes to the bank (paper form); a general user asks the master."""
    master = mail.render("blocked", _context("blocked", is_master=True), SETTINGS).body
    general = mail.render("blocked", _context("blocked", is_master=False), SETTINGS).body
    assert "マスターユーザー削除・電子証明書失効等依頼書" in master
    assert "ろうきん" in master
    assert "マスターユーザーに閉塞の解除をご依頼ください" in general
    assert "依頼書" not in general


def test_locked_mail_gives_the_unlock_time_in_japan_time() -> None:
    """AUTH-1/AUTH-2: a 60-minute lock; 02:00 UTC is 11:00 JST."""
    body = mail.render("locked", _context("locked"), SETTINGS).body
    assert "2026年11月24日 11:00" in body
    assert "60分" in body


def test_cert_expiring_mail_explains_renewal_from_the_top_page() -> None:
    """CERT-5: the expiry date and how to renew (電子証明書発行 on the top page)."""
    body = mail.render("cert_expiring", _context("cert_expiring"), SETTINGS).body
    assert "2026年12月24日 23:59" in body
    assert "あと30日" in body
    assert "「電子証明書発行」" in body


def test_a_password_can_never_be_put_into_a_mail() -> None:
    """Section 7 (our design): no mail carries a password; a context key naming one is refused."""
    for key in ("password", "temporary_password", "p12_passphrase"):
        with pytest.raises(ValueError, match="may not hold"):
            mail.render("registered", _context("registered", **{key: "Secret-123"}), SETTINGS)


def test_a_missing_context_key_or_unknown_template_is_refused() -> None:
    with pytest.raises(ValueError, match="needs 'code'"):
        mail.render("email_code", {"user_name": "労金　五郎", "valid_minutes": 30}, SETTINGS)
    with pytest.raises(ValueError, match="unknown mail template"):
        mail.render("../base", {}, SETTINGS)


def test_a_recipient_with_header_injection_is_refused(factory: sessionmaker[Session]) -> None:
    with factory() as session, pytest.raises(ValueError, match="plain address"):
        mail.enqueue(
            session,
            to="goro@example.jp\r\nBcc: x@example.jp",
            template="user_deleted",
            context=_context("user_deleted"),
            settings=SETTINGS,
        )


# --- committed, rolled back --------------------------------------------------------------------


def test_committed_mail_is_delivered_once_with_japanese_intact(
    factory: sessionmaker[Session], smtp_server: SmtpServer, mail_settings: dict[str, str]
) -> None:
    """Section 7, AUTH-3: a committed mail arrives once, subject and body in Japanese, as written."""
    queued = _queue(factory, mail_settings)
    sender = mail.OutboxSender(factory, parsed(mail_settings))

    assert sender.send_due() == 1
    assert sender.send_due() == 0
    [received] = smtp_server.wait_for(1)

    rendered = mail.render("email_code", _context("email_code"), mail_settings)
    assert (
        received["Subject"]
        == rendered.subject
        == "【ろうきん賃金控除事務支援サービス】認証コードのお知らせ"
    )
    assert received["To"] == "goro@example.jp"
    assert received["From"].addresses[0].addr_spec == "noreply@cjs.example.jp"
    # RFC 2047 decoding of the raw header (Python's address parser keeps the space between two
    # adjacent encoded words of a display name, which the RFC and mail clients drop).
    raw_from = dict(received.raw_items())["From"]
    assert str(make_header(decode_header(raw_from))) == (
        "ろうきん賃金控除事務支援サービス <noreply@cjs.example.jp>"
    )
    assert received["Message-ID"] == queued.message_id
    assert re.fullmatch(r"<[0-9a-f]{32}@cjs>", queued.message_id)
    assert received["Date"].datetime is not None
    assert received.get_content_type() == "text/plain"
    assert received.get_content_charset() == "utf-8"
    assert received.get_content().replace("\r\n", "\n") == rendered.body  # CRLF on the wire
    assert smtp_server.envelopes == [("noreply@cjs.example.jp", ["goro@example.jp"])]
    row = _row(factory, queued.message_id)
    assert row.sent_at is not None and row.attempts == 1 and row.claimed_until is None
    assert row.kind == "email_code"


# --- sealed at rest (#12) --------------------------------------------------------------------------


def test_the_code_rests_sealed_until_sent_and_nothing_of_the_body_stays_after(
    factory: sessionmaker[Session], smtp_server: SmtpServer, mail_settings: dict[str, str]
) -> None:
    """#12, AUTH-3 ("stored only hashed"): the queued row holds the code in no readable form; the
    mail that arrives carries it; the sent row keeps no body at all."""
    queued = _queue(factory, mail_settings)
    row = _row(factory, queued.message_id)
    assert row.sealed_body is not None
    assert CODE.encode() not in row.sealed_body and "認証コード".encode() not in row.sealed_body
    assert CODE in mail.body_of(row, mail_settings)

    assert mail.OutboxSender(factory, parsed(mail_settings)).send_due() == 1

    [received] = smtp_server.wait_for(1)
    assert CODE in received.get_content()
    row = _row(factory, queued.message_id)
    assert row.sent_at is not None and row.sealed_body is None
    with pytest.raises(ValueError, match="sent"):
        mail.body_of(row, mail_settings)


def test_a_sealed_body_opens_only_in_its_own_row_and_with_its_own_key(
    factory: sessionmaker[Session],
    smtp_server: SmtpServer,
    mail_settings: dict[str, str],
    tmp_path: Path,
) -> None:
    """#12: the Message-ID is the associated data: a body copied into another row does not open
    there, so the sender sends nothing of it (recorded as a failure, retried later, never a
    wrong mail); another key file opens nothing."""
    first = _queue(factory, mail_settings, to="first@example.jp")
    second = _queue(factory, mail_settings, to="second@example.jp", code="111111")
    with factory() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.message_id == second.message_id)
            .values(sealed_body=first.sealed_body)
        )
        session.commit()
    other_key = {**mail_settings, "cjs.secrets.key_file": str(tmp_path / "other.key")}
    with pytest.raises(UnsealError):
        mail.body_of(_row(factory, first.message_id), other_key)

    sender = mail.OutboxSender(factory, parsed(mail_settings))
    assert sender.send_due() == 1

    [received] = smtp_server.wait_for(1)
    assert received["To"] == "first@example.jp"
    moved = _row(factory, second.message_id)
    assert moved.sent_at is None and moved.last_error == "UnsealError"


def test_rolled_back_mail_is_never_sent(
    factory: sessionmaker[Session], smtp_server: SmtpServer, mail_settings: dict[str, str]
) -> None:
    """Section 7: the transaction that caused the mail rolled back: no row, nothing sent."""
    with factory() as session:
        mail.enqueue(
            session,
            to="goro@example.jp",
            template="email_code",
            context=_context("email_code"),
            settings=mail_settings,
        )
        session.flush()
        session.rollback()

    assert mail.OutboxSender(factory, parsed(mail_settings)).send_due() == 0
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert smtp_server.messages == []


def test_wake_after_commit_only_on_commit(
    factory: sessionmaker[Session], smtp_server: SmtpServer, mail_settings: dict[str, str]
) -> None:
    """Section 7: through the transaction package (as in requests), abort neither writes nor wakes."""
    sender = mail.OutboxSender(factory, parsed({**mail_settings, "cjs.mail.sender": "thread"}))
    manager = transaction.TransactionManager(explicit=True)
    try:
        manager.begin()
        session = factory()
        zope.sqlalchemy.register(session, transaction_manager=manager)
        mail.enqueue(
            session,
            to="goro@example.jp",
            template="user_unlocked",
            context=_context("user_unlocked"),
            settings=mail_settings,
        )
        mail.wake_after_commit(sender, manager.get())
        mail.wake_after_commit(sender, manager.get())  # once per transaction
        assert len(list(manager.get().getAfterCommitHooks())) == 1
        manager.abort()
        session.close()
        assert not sender.running  # never woken, so never started

        manager.begin()
        session = factory()
        zope.sqlalchemy.register(session, transaction_manager=manager)
        mail.enqueue(
            session,
            to="goro@example.jp",
            template="user_unlocked",
            context=_context("user_unlocked"),
            settings=mail_settings,
        )
        mail.wake_after_commit(sender, manager.get())
        manager.commit()
        session.close()
        smtp_server.wait_for(1)
        assert sender.flush()
        assert len(smtp_server.messages) == 1
    finally:
        sender.stop()
    assert not sender.running


# --- outage and retries ------------------------------------------------------------------------


def test_mail_survives_an_smtp_outage_and_arrives_exactly_once(
    factory: sessionmaker[Session], smtp_server: SmtpServer, mail_settings: dict[str, str]
) -> None:
    """Section 7 acceptance: server down, mail committed, the sender fails and keeps it; the server
    comes back, the mail arrives exactly once, however often the sender runs."""
    smtp_server.stop()
    queued = _queue(factory, mail_settings)
    sender = mail.OutboxSender(factory, parsed(mail_settings))
    start = utcnow()

    assert sender.send_due(now=start) == 0
    row = _row(factory, queued.message_id)
    assert row.sent_at is None and row.attempts == 1 and row.claimed_until is None
    assert row.last_error is not None and row.last_error.startswith("ConnectionRefusedError")
    assert row.next_attempt_at == start + dt.timedelta(seconds=10)

    assert sender.send_due(now=start + dt.timedelta(seconds=5)) == 0  # not due yet: not tried
    assert _row(factory, queued.message_id).attempts == 1

    smtp_server.start()
    assert sender.send_due(now=start + dt.timedelta(seconds=11)) == 1
    for minutes in (1, 5, 60):
        assert sender.send_due(now=start + dt.timedelta(minutes=minutes)) == 0
    assert mail.OutboxSender(factory, parsed(mail_settings)).send_due() == 0  # another sender too

    assert smtp_server.message_ids() == [queued.message_id]
    row = _row(factory, queued.message_id)
    assert row.sent_at is not None and row.attempts == 2 and row.last_error is None


def test_refused_mail_is_retried_with_doubling_delay_capped_at_15_minutes(
    factory: sessionmaker[Session], smtp_server: SmtpServer, mail_settings: dict[str, str]
) -> None:
    """Section 7: a temporary refusal keeps the mail; delays 10 s, 20 s, 40 s … at most 15 min."""
    smtp_server.fail_with = "451 4.3.0 Try again later"
    queued = _queue(factory, mail_settings)
    sender = mail.OutboxSender(factory, parsed(mail_settings))
    moment = utcnow()
    delays = []
    for _ in range(9):
        assert sender.send_due(now=moment) == 0
        row = _row(factory, queued.message_id)
        delays.append((row.next_attempt_at - moment).total_seconds())
        moment = row.next_attempt_at
    assert delays == [10, 20, 40, 80, 160, 320, 640, 900, 900]
    assert row.last_error == "SMTPDataError 451"
    assert row.attempts == 9

    smtp_server.fail_with = None
    assert sender.send_due(now=moment) == 1
    assert smtp_server.message_ids() == [queued.message_id]


def test_a_refused_message_does_not_hold_back_the_others(
    factory: sessionmaker[Session], smtp_server: SmtpServer, mail_settings: dict[str, str]
) -> None:
    """A message-level refusal (5xx on DATA) fails that message only; the rest of the pass goes on."""
    first = _queue(factory, mail_settings, to="a@example.jp")
    second = _queue(factory, mail_settings, to="b@example.jp")
    sender = mail.OutboxSender(factory, parsed(mail_settings))

    class FlakySMTP(smtplib.SMTP):
        def send_message(self, msg: Any, *args: Any, **kwargs: Any) -> Any:
            if msg["To"] == "a@example.jp":
                raise smtplib.SMTPRecipientsRefused({"a@example.jp": (550, b"no such user")})
            return super().send_message(msg, *args, **kwargs)

    sender.smtp_factory = FlakySMTP
    assert sender.send_due() == 1
    assert smtp_server.message_ids() == [second.message_id]
    assert _row(factory, first.message_id).last_error == "SMTPRecipientsRefused 550"


def test_backoff_and_error_descriptions() -> None:
    assert [mail.backoff(n).total_seconds() for n in (1, 2, 3, 7, 8, 50)] == [
        10,
        20,
        40,
        640,
        900,
        900,
    ]
    refused = smtplib.SMTPRecipientsRefused({"x@example.jp": (550, b"body: 493817")})
    assert mail.describe_error(refused) == "SMTPRecipientsRefused 550"
    assert mail.describe_error(smtplib.SMTPDataError(554, b"493817")) == "SMTPDataError 554"
    assert (
        mail.describe_error(ConnectionRefusedError(111, "x")) == "ConnectionRefusedError errno 111"
    )
    assert mail.describe_error(TimeoutError("493817")) == "TimeoutError"


# --- secrets stay out of logs ------------------------------------------------------------------


def test_logs_and_last_error_hold_no_code_no_body_no_address(
    factory: sessionmaker[Session],
    smtp_server: SmtpServer,
    mail_settings: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """AUTH-3: the code is never logged; a log line names the Message-ID, kind and domain only."""
    caplog.set_level(logging.DEBUG, logger="core")
    smtp_server.fail_with = f"554 5.6.0 rejected {CODE}"
    queued = _queue(factory, mail_settings, to="goro.private@example.jp")
    body = mail.body_of(queued, mail_settings)
    sender = mail.OutboxSender(factory, parsed(mail_settings))
    moment = utcnow()
    assert sender.send_due(now=moment) == 0
    smtp_server.fail_with = None
    assert sender.send_due(now=moment + dt.timedelta(minutes=1)) == 1

    ours = [r for r in caplog.records if r.name.startswith("core")]
    text = "\n".join(r.getMessage() for r in ours)
    assert CODE in body
    assert CODE not in text
    assert "goro.private" not in text
    assert "認証コード" not in text
    for line in body.splitlines():
        if line.strip():
            assert line not in text
    failed = [r for r in caplog.records if r.name == "core.mail" and "mail failed" in r.message]
    sent = [r for r in caplog.records if r.name == "core.mail" and "mail sent" in r.message]
    assert len(failed) == 1 and len(sent) == 1
    for record in failed + sent:
        assert queued.message_id in record.message
        assert "kind=email_code" in record.message
        assert "to_domain=example.jp" in record.message

    with factory() as session:
        errors = session.scalars(select(OutboxMessage.last_error)).all()
    assert errors == [None]  # cleared when sent
    assert "SMTPDataError 554" in failed[0].message


# --- concurrency -------------------------------------------------------------------------------


def test_two_senders_in_parallel_deliver_each_of_50_mails_once(
    db_url: str, smtp_server: SmtpServer, mail_settings: dict[str, str]
) -> None:
    """Section 7: two senders (two engines, as two processes would be) never send a row twice."""
    engines = [make_engine(db_url), make_engine(db_url)]
    try:
        factories = [make_session_factory(e) for e in engines]
        queued = {
            _queue(factories[0], mail_settings, to=f"u{i}@example.jp").message_id for i in range(50)
        }
        senders = [mail.OutboxSender(f, parsed(mail_settings), batch_size=10) for f in factories]
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def run(sender: mail.OutboxSender) -> None:
            try:
                barrier.wait(10)
                sender.send_backlog()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(s,)) for s in senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []

        received = collections.Counter(smtp_server.message_ids())
        assert set(received) == queued
        assert set(received.values()) == {1}
        assert sum(s.stats.sent for s in senders) == 50
        with factories[0]() as session:
            unsent = session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None))
            )
        assert unsent == 0
    finally:
        for engine in engines:
            engine.dispose()


# --- the background thread in an application ---------------------------------------------------


@pytest.fixture
def mail_app(db_url: str, mail_settings: dict[str, str]) -> Iterator[Any]:
    """A small Pyramid app with core.db and core.mail (sender thread) and two views that mail
    through the outbox service."""
    import webtest
    from pyramid.config import Configurator

    from core.plugins import ModuleRegistry, install_plugins, make_plugin_manager

    settings = {
        "sqlalchemy.url": db_url,
        **mail_settings,
        "cjs.mail.sender": "thread",
        "cjs.mail.poll_seconds": "3600",  # only a wake can make it send within the test
    }
    config = Configurator(settings=parsed(settings))
    manager = make_plugin_manager()
    install_plugins(config.registry, manager, ModuleRegistry(manager))  # the modules' templates
    config.include("pyramid_services")
    config.include("core.db")
    config.include("core.mail")

    def send(request: Any) -> Any:
        request.find_service(IOutbox).send(
            to="goro@example.jp",
            template="password_changed",
            context=_context("password_changed"),
        )
        return request.response

    def fail(request: Any) -> Any:
        request.find_service(IOutbox).send(
            to="goro@example.jp",
            template="password_changed",
            context=_context("password_changed"),
        )
        raise RuntimeError("the change failed after the mail was written")

    config.add_route("send", "/send")
    config.add_view(send, route_name="send")
    config.add_route("fail", "/fail")
    config.add_view(fail, route_name="fail")
    app = config.make_wsgi_app()
    try:
        yield webtest.TestApp(app)
    finally:
        mail.stop_sender(app.registry)
        get_engine(app.registry).dispose()


def test_background_thread_delivers_after_commit(mail_app: Any, smtp_server: SmtpServer) -> None:
    """Section 7: a request's mail leaves right after its commit, with no explicit send_due call."""
    sender = mail.sender_for(mail_app.app.registry)
    assert sender is not None and sender.background
    assert not sender.running  # making the app started nothing

    mail_app.get("/send")

    [received] = smtp_server.wait_for(1)
    assert received["Subject"] == "【ろうきん賃金控除事務支援サービス】パスワード変更のお知らせ"
    assert sender.running


def test_failed_request_sends_nothing(mail_app: Any, smtp_server: SmtpServer) -> None:
    """Section 7: the request failed after writing the mail: pyramid_tm aborts, nothing leaves."""
    with pytest.raises(RuntimeError, match="change failed"):
        mail_app.get("/fail")
    mail_app.get("/send")
    smtp_server.wait_for(1)
    sender = mail.sender_for(mail_app.app.registry)
    assert sender is not None and sender.flush()
    assert len(smtp_server.messages) == 1
    with get_session_factory(mail_app.app.registry)() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_flush_waits_for_a_pass_and_stop_ends_the_thread(
    factory: sessionmaker[Session], smtp_server: SmtpServer, mail_settings: dict[str, str]
) -> None:
    """Tests and shutdown: flush() returns after a whole pass; stop() ends the thread for good."""
    sender = mail.OutboxSender(
        factory,
        parsed({**mail_settings, "cjs.mail.sender": "thread", "cjs.mail.poll_seconds": "3600"}),
    )
    try:
        queued = _queue(factory, mail_settings)  # written elsewhere: no wake
        assert sender.flush(timeout=10)
        assert smtp_server.message_ids() == [queued.message_id]
    finally:
        sender.stop()
    assert not sender.running
    sender.wake()
    assert not sender.running


def test_sender_off_has_no_thread(
    factory: sessionmaker[Session], mail_settings: dict[str, str]
) -> None:
    sender = mail.OutboxSender(factory, parsed(mail_settings))
    sender.wake()
    assert not sender.running
    with pytest.raises(RuntimeError, match="no background thread"):
        sender.flush()


def test_a_burst_larger_than_a_batch_is_drained_in_one_pass(
    factory: sessionmaker[Session], smtp_server: SmtpServer, mail_settings: dict[str, str]
) -> None:
    """Section 7: a woken sender keeps going while batches come back full."""
    queued = {_queue(factory, mail_settings, to=f"u{i}@example.jp").message_id for i in range(12)}
    sender = mail.OutboxSender(factory, parsed(mail_settings), batch_size=5)

    assert sender.send_backlog() == 12
    assert set(smtp_server.message_ids()) == queued
