"""``cjs jobs``: CERT-5 expiry notices (each once, never for renewed or revoked certificates), expired
sessions (AUTH-6) and the mail sender process; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from factories import CertificateFactory, ContractFactory, UserFactory
from mailserver import parsed
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import mail
from core.cli import jobs
from core.db import make_engine, make_session_factory
from core.db.models import (
    Certificate,
    CertificateStatus,
    OutboxMessage,
    Role,
    User,
    WebSession,
    utcnow,
)
from core.timefmt import JST

if TYPE_CHECKING:
    from tests.mailserver import SmtpServer

NOW = dt.datetime(2026, 11, 24, 3, 0, tzinfo=JST)  # the job runs at 03:00 Japan time
_serials = itertools.count(1)


def _end_of(day: dt.date) -> dt.datetime:
    """CERT-2: a certificate is valid until 23:59:59 Japan time of its last day."""
    return dt.datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=JST)


@pytest.fixture
def settings(db_url: str, secrets_key_file: str) -> dict[str, str]:
    return {
        "sqlalchemy.url": db_url,
        "cjs.secrets.key_file": secrets_key_file,
        "cjs.service_url": "https://cjs.example.jp/",
        "cjs.session.idle_minutes": "60",
        "cjs.session.absolute_hours": "12",
        # The core's job alone: the example module's job has its own tests.
        "cjs.plugins.disabled": "example_notes",
    }


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    """A session to arrange and inspect; on SQLite its reads do not hold the write lock."""
    engine = make_engine(db_url, sqlite_begin_immediate=False)
    with make_session_factory(engine)() as s:
        yield s
    engine.dispose()


class World:
    """Users and certificates of one contract, built by the factories and added to ``session``."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.contract = ContractFactory(contract_no="00000001")
        session.add(self.contract)
        self._users = itertools.count(1)

    def user(self, role: Role = Role.GENERAL) -> User:
        user = UserFactory(
            contract=self.contract, user_id=f"user{next(self._users):02d}", role=role
        )
        self.session.add(user)
        return user

    def cert(
        self,
        user: User,
        not_after: dt.datetime,
        status: CertificateStatus = CertificateStatus.VALID,
    ) -> Certificate:
        cert = CertificateFactory(
            serial=f"{next(_serials):08X}{id(self):08X}",
            user=user,
            not_after=not_after,
            status=status,
        )
        self.session.add(cert)
        return cert


@pytest.fixture
def world(session: Session) -> World:
    return World(session)


def _mails(session: Session) -> list[tuple[str, str]]:
    session.rollback()  # a fresh snapshot (SQLite keeps the old one)
    rows = session.execute(
        select(OutboxMessage.kind, OutboxMessage.to_addr).order_by(OutboxMessage.id)
    ).all()
    return [(kind, to) for kind, to in rows]


def test_expiry_notice_30_days_before_inclusive_not_31(
    world: World, session: Session, settings: dict[str, str]
) -> None:
    """CERT-5 / AUTH-4: the notice goes out when expiry is at most 30 days away (inclusive)."""
    in_30 = world.cert(world.user(), _end_of(NOW.date() + dt.timedelta(days=30)))
    in_31 = world.cert(world.user(), _end_of(NOW.date() + dt.timedelta(days=31)))
    today = world.cert(world.user(), _end_of(NOW.date()))
    session.commit()

    counts = jobs.run_daily(settings, now=NOW)

    assert counts["cert_expiring"] == 2 and counts["cert_expired"] == 0
    assert sorted(_mails(session)) == [
        ("cert_expiring", in_30.user.email),
        ("cert_expiring", today.user.email),
    ]
    session.rollback()  # a fresh snapshot (SQLite keeps the old one)
    assert in_30.expiry_notice_sent_at == NOW
    assert in_31.expiry_notice_sent_at is None
    body = mail.body_of(
        session.scalars(
            select(OutboxMessage).where(OutboxMessage.to_addr == in_30.user.email)
        ).one(),
        settings,
    )
    assert "2026年12月24日 23:59" in body and "あと30日" in body

    # The next day, the 31-day certificate is 30 days away: its turn.
    counts = jobs.run_daily(settings, now=NOW + dt.timedelta(days=1))
    assert counts["cert_expiring"] == 1
    assert _mails(session)[-1] == ("cert_expiring", in_31.user.email)


def test_expired_notice_once_after_the_expiring_one(
    world: World, session: Session, settings: dict[str, str]
) -> None:
    """CERT-5: the expired mail comes after expiry, even when the expiring one was sent."""
    cert = world.cert(world.user(), _end_of(NOW.date() + dt.timedelta(days=10)))
    gone = world.cert(world.user(), _end_of(NOW.date() - dt.timedelta(days=1)))
    session.commit()

    assert jobs.run_daily(settings, now=NOW)["cert_expired"] == 1
    after = NOW + dt.timedelta(days=11)
    counts = jobs.run_daily(settings, now=after)
    assert counts == {"cert_expiring": 0, "cert_expired": 1, "sessions_deleted": 0}
    assert _mails(session) == [
        ("cert_expired", gone.user.email),
        ("cert_expiring", cert.user.email),
        ("cert_expired", cert.user.email),
    ]
    assert jobs.run_daily(settings, now=after + dt.timedelta(days=1))["cert_expired"] == 0
    session.rollback()  # a fresh snapshot (SQLite keeps the old one)
    assert cert.expired_notice_sent_at == after


def test_each_mail_once_when_the_job_runs_twice(
    world: World, session: Session, settings: dict[str, str]
) -> None:
    """CERT-5: each mail sent once."""
    world.cert(world.user(), _end_of(NOW.date() + dt.timedelta(days=5)))
    world.cert(world.user(), _end_of(NOW.date() - dt.timedelta(days=2)))
    session.commit()

    first = jobs.run_daily(settings, now=NOW)
    second = jobs.run_daily(settings, now=NOW)
    third = jobs.run_daily(settings, now=NOW + dt.timedelta(hours=20))

    assert (first["cert_expiring"], first["cert_expired"]) == (1, 1)
    assert (second["cert_expiring"], second["cert_expired"]) == (0, 0)
    assert (third["cert_expiring"], third["cert_expired"]) == (0, 0)
    assert len(_mails(session)) == 2


def test_none_for_a_renewed_or_revoked_certificate(
    world: World, session: Session, settings: dict[str, str]
) -> None:
    """CERT-5 (our design): no mail for a certificate already renewed or revoked."""
    renewed = world.user()
    old = world.cert(renewed, _end_of(NOW.date() + dt.timedelta(days=10)))
    world.cert(renewed, _end_of(NOW.date() + dt.timedelta(days=375)))
    renewed_expired = world.user()
    world.cert(renewed_expired, _end_of(NOW.date() - dt.timedelta(days=1)))
    world.cert(renewed_expired, _end_of(NOW.date() + dt.timedelta(days=340)))
    revoked = world.user()
    world.cert(revoked, _end_of(NOW.date() + dt.timedelta(days=10)), CertificateStatus.REVOKED)
    world.cert(revoked, _end_of(NOW.date() - dt.timedelta(days=1)), CertificateStatus.REVOKED)
    session.commit()

    counts = jobs.run_daily(settings, now=NOW)

    assert (counts["cert_expiring"], counts["cert_expired"]) == (0, 0)
    assert _mails(session) == []
    session.rollback()  # a fresh snapshot (SQLite keeps the old one)
    assert old.expiry_notice_sent_at is None


def test_a_revoked_replacement_does_not_count_as_renewal(
    world: World, session: Session, settings: dict[str, str]
) -> None:
    """CERT-5: only a *valid* later certificate is a renewal."""
    user = world.user()
    world.cert(user, _end_of(NOW.date() + dt.timedelta(days=10)))
    world.cert(user, _end_of(NOW.date() + dt.timedelta(days=375)), CertificateStatus.REVOKED)
    session.commit()

    assert jobs.run_daily(settings, now=NOW)["cert_expiring"] == 1


def test_each_mail_once_when_two_jobs_run_concurrently(
    postgresql_url: str, secrets_key_file: str
) -> None:
    """CERT-5: two daily jobs at once (two threads, own engines, PostgreSQL) write each mail once."""
    settings = {
        "sqlalchemy.url": postgresql_url,
        "cjs.service_url": "https://cjs.example.jp/",
        "cjs.secrets.key_file": secrets_key_file,
    }
    engine = make_engine(postgresql_url)
    try:
        with make_session_factory(engine)() as session:
            world = World(session)
            for day in range(-5, 31):
                for _ in range(2):
                    world.cert(world.user(), _end_of(NOW.date() + dt.timedelta(days=day)))
            session.commit()

        barrier = threading.Barrier(2)
        results: list[dict[str, int]] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                barrier.wait(10)
                results.append(jobs.run_daily(settings, now=NOW))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []

        assert sum(r["cert_expiring"] for r in results) == 62  # days 0..30, two each
        assert sum(r["cert_expired"] for r in results) == 10  # days -5..-1
        with make_session_factory(engine)() as session:
            mails = _mails(session)
        assert len(mails) == 72
        assert len(set(mails)) == 72  # one per user (each user holds one certificate)
    finally:
        engine.dispose()


def test_expired_sessions_are_deleted(session: Session, settings: dict[str, str]) -> None:
    """AUTH-6: the daily job removes sessions past the idle (60 min) or absolute (12 h) limit."""
    now = utcnow()
    session.add_all(
        [
            WebSession(token_hash="a" * 64, created_at=now, last_seen_at=now),
            WebSession(
                token_hash="b" * 64,
                created_at=now - dt.timedelta(hours=2),
                last_seen_at=now - dt.timedelta(minutes=61),
            ),
            WebSession(
                token_hash="c" * 64,
                created_at=now - dt.timedelta(hours=13),
                last_seen_at=now - dt.timedelta(minutes=1),
            ),
        ]
    )
    session.commit()

    assert jobs.run_daily(settings)["sessions_deleted"] == 2
    session.rollback()  # a fresh snapshot (SQLite keeps the old one)
    assert session.scalars(select(WebSession.token_hash)).all() == ["a" * 64]


def test_staff_sessions_are_deleted_by_the_staff_limits(
    session: Session, settings: dict[str, str]
) -> None:
    """#14: staff sessions expire by the staff's own limits (cjs.staff.session.*), not the
    customers'; here longer than the customers', so a staff session idle for 90 minutes stays."""
    settings = {
        **settings,
        "cjs.staff.session.idle_minutes": "120",
        "cjs.staff.session.absolute_hours": "14",
    }
    now = utcnow()
    session.add_all(
        [
            WebSession(
                token_hash="s" * 64,
                app="staff",
                created_at=now - dt.timedelta(hours=13),
                last_seen_at=now - dt.timedelta(minutes=90),
            ),
            WebSession(
                token_hash="t" * 64,
                app="staff",
                created_at=now - dt.timedelta(hours=3),
                last_seen_at=now - dt.timedelta(minutes=121),
            ),
            WebSession(
                token_hash="c" * 64,
                created_at=now - dt.timedelta(hours=3),
                last_seen_at=now - dt.timedelta(minutes=90),
            ),
        ]
    )
    session.commit()

    assert jobs.run_daily(settings)["sessions_deleted"] == 2
    session.rollback()
    assert session.scalars(select(WebSession.token_hash)).all() == ["s" * 64]


def test_days_left_counts_japan_calendar_days() -> None:
    assert jobs.days_left(_end_of(dt.date(2026, 12, 24)), NOW) == 30
    # 23:30 UTC on 11/23 is already 11/24 in Japan.
    late = dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC)
    assert jobs.days_left(_end_of(dt.date(2026, 12, 24)), late) == 30


def test_send_mail_once_and_until_stopped(
    session: Session,
    settings: dict[str, str],
    smtp_server: SmtpServer,
    mail_settings: dict[str, str],
) -> None:
    """``cjs jobs send-mail``: one pass with --once; otherwise passes until stopped."""
    settings = {**parsed({**settings, **mail_settings}), "cjs.mail.poll_seconds": 0.05}  # fast

    def queue() -> None:
        mail.enqueue(
            session,
            to="goro@example.jp",
            template="user_deleted",
            context={"user_name": "労金　五郎", "user_id": "goro01"},
            settings=settings,
        )
        session.commit()

    queue()
    assert jobs.send_mail(settings, once=True) == 1
    assert jobs.send_mail(settings, once=True) == 0

    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(jobs.send_mail(settings, False, stop=stop.is_set))
    )
    thread.start()
    try:
        queue()
        smtp_server.wait_for(2)
        queue()
        smtp_server.wait_for(3)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert result == [2]


def test_jobs_command_daily_prints_counts_and_sends(
    world: World,
    session: Session,
    settings: dict[str, str],
    smtp_server: SmtpServer,
    mail_settings: dict[str, str],
    ca_settings: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``cjs jobs daily``: the notices are written and sent in one run (with the validated settings
    the command gets, so the CRL of ``ca_settings`` is published too)."""
    import argparse

    world.cert(world.user(), utcnow() + dt.timedelta(days=3))
    session.commit()
    args = argparse.Namespace(config="", action="daily", once=False)

    assert jobs.jobs_command(args, parsed({**settings, **mail_settings, **ca_settings})) == 0

    out = capsys.readouterr().out
    assert "cert_expiring: 1" in out and "mail_sent: 1" in out
    [received] = smtp_server.wait_for(1)
    assert (
        received["Subject"] == "【ろうきん賃金控除事務支援サービス】電子証明書の有効期限のお知らせ"
    )
