"""``cjs jobs``: the daily job (CERT-5 notices, expired sessions) and the mail sender process.

``cjs jobs daily`` (cron, once a day; running it again, or twice at once, sends nothing twice):

- CERT-5: a mail ``cert_expiring`` for every valid certificate expiring within 30 days (Japan-time
  calendar days, 30 inclusive), and ``cert_expired`` for every valid certificate past its expiry; none
  for a certificate already renewed (its user holds a valid certificate expiring later) or revoked.
  Each certificate is claimed by a conditional UPDATE of its notice column in the transaction that
  writes the mail, so concurrent runs cannot both write it.
- AUTH-6: web sessions past the idle or absolute limit are deleted.
- CERT-6: the CRL is signed and written again (``core.pki.crl.publish_daily``), so it never reaches its
  nextUpdate even without revocations; a failure there fails the job.
- Then each service module's daily jobs (``cjs_daily_jobs``), each printed with its count.
- Then one pass of the mail sender, so the notices leave at once.

``cjs jobs send-mail [--once]`` runs the outbox sender as its own process (with ``cjs.mail.sender =
off`` in the web processes): one pass with ``--once``, else a pass every ``cjs.mail.poll_seconds``
until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from core import mail
from core.cli.server import setup_logging, stop_signals
from core.db import make_engine, make_session_factory
from core.db.models import Certificate, CertificateStatus, utcnow
from core.hookspecs import JobContext
from core.pki.crl import publish_daily
from core.plugins import ModuleRegistry, make_plugin_manager
from core.security.sessions import delete_expired
from core.settings import ConfigurationError, value_of, words
from core.timefmt import JST

log = logging.getLogger(__name__)

#: CERT-5 / AUTH-4: the expiry notice goes out when expiry is at most this many days away.
EXPIRY_NOTICE_DAYS = 30
#: An expired notice is not sent for a certificate that expired longer ago than this (a job that
#: was down for days still catches up; a first run does not mail about certificates of years ago).
EXPIRED_NOTICE_WINDOW = dt.timedelta(days=30)


def days_left(not_after: dt.datetime, now: dt.datetime) -> int:
    """Calendar days from ``now`` to ``not_after``, both taken in Japan time (0: expires today)."""
    return (not_after.astimezone(JST).date() - now.astimezone(JST).date()).days


def _renewed() -> Any:
    """SQL: the certificate's user holds another valid certificate that expires later."""
    later = aliased(Certificate)
    return exists().where(
        later.user_pk == Certificate.user_pk,
        later.id != Certificate.id,
        later.status == CertificateStatus.VALID,
        later.not_after > Certificate.not_after,
    )


def _candidates(factory: sessionmaker[Session], now: dt.datetime, kind: str) -> list[int]:
    with factory() as session:
        query = select(Certificate.id, Certificate.not_after).where(
            Certificate.status == CertificateStatus.VALID, ~_renewed()
        )
        if kind == "cert_expiring":
            query = query.where(
                Certificate.expiry_notice_sent_at.is_(None),
                Certificate.not_after > now,
                Certificate.not_after <= now + dt.timedelta(days=EXPIRY_NOTICE_DAYS + 1),
            )
            rows = session.execute(query.order_by(Certificate.id)).all()
            return [id_ for id_, end in rows if days_left(end, now) <= EXPIRY_NOTICE_DAYS]
        query = query.where(
            Certificate.expired_notice_sent_at.is_(None),
            Certificate.not_after <= now,
            Certificate.not_after > now - EXPIRED_NOTICE_WINDOW,
        )
        return [id_ for id_, _ in session.execute(query.order_by(Certificate.id)).all()]


def _notify(
    factory: sessionmaker[Session],
    settings: Mapping[str, Any],
    now: dt.datetime,
    cert_id: int,
    kind: str,
) -> bool:
    """Claim one certificate's notice and write its mail in one transaction; False if not ours."""
    column = (
        Certificate.expiry_notice_sent_at
        if kind == "cert_expiring"
        else Certificate.expired_notice_sent_at
    )
    with factory() as session:
        result = session.execute(
            update(Certificate)
            .where(
                Certificate.id == cert_id,
                column.is_(None),
                Certificate.status == CertificateStatus.VALID,
            )
            .values({column: now})
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()  # another run took it, or it was revoked meanwhile
            return False
        renewed = session.scalar(select(_renewed()).where(Certificate.id == cert_id))
        if renewed:
            session.rollback()
            return False
        cert = session.get_one(Certificate, cert_id)
        user = cert.user
        context: dict[str, Any] = {
            "user_name": user.name,
            "user_id": user.user_id,
            "not_after": cert.not_after,
        }
        if kind == "cert_expiring":
            context["days_left"] = days_left(cert.not_after, now)
        message = mail.enqueue(  # not the user's own request: in their last-used language
            session,
            to=user.email,
            template=kind,
            context=context,
            settings=settings,
            locale=user.language,
        )
        session.commit()
        log.info(
            "notice queued kind=%s certificate=%s message_id=%s",
            kind,
            cert.serial,
            message.message_id,
        )
        return True


def _session_limits(settings: Mapping[str, Any]) -> dict[str, tuple[dt.timedelta, dt.timedelta]]:
    """Each application's idle and absolute session limits (AUTH-6; the staff's own, #14)."""
    return {
        app: (
            dt.timedelta(minutes=value_of(settings, f"{prefix}.idle_minutes")),
            dt.timedelta(hours=value_of(settings, f"{prefix}.absolute_hours")),
        )
        for app, prefix in (("customer", "cjs.session"), ("staff", "cjs.staff.session"))
    }


def run_daily(
    settings: Mapping[str, Any],
    now: dt.datetime | None = None,
    modules: ModuleRegistry | None = None,
) -> dict[str, int]:
    """The daily job: CERT-5 notices into the outbox, expired sessions deleted, the CRL written
    again, then the modules' daily jobs; returns the counts.

    Keys: ``cert_expiring`` and ``cert_expired`` (mails written by this run), ``sessions_deleted``,
    then one per module job. ``modules`` defaults to the installed ones not disabled.
    """
    now = now if now is not None else utcnow()
    if modules is None:
        disabled = settings.get("cjs.plugins.disabled", ())
        names = words(disabled) if isinstance(disabled, str) else disabled
        modules = ModuleRegistry(make_plugin_manager(disabled=names))
    settings = modules.validate_settings(settings)
    counts = {"cert_expiring": 0, "cert_expired": 0, "sessions_deleted": 0}
    clashing = sorted(set(counts) & set(modules.daily_jobs))
    if clashing:
        raise ConfigurationError(f"daily job {clashing[0]!r}: the core has one of that name")
    engine = make_engine(settings["sqlalchemy.url"])
    factory = make_session_factory(engine)
    try:
        for kind in ("cert_expired", "cert_expiring"):
            for cert_id in _candidates(factory, now, kind):
                if _notify(factory, settings, now, cert_id, kind):
                    counts[kind] += 1
        with factory() as session:
            counts["sessions_deleted"] = delete_expired(session, _session_limits(settings))
            session.commit()
        publish_daily(settings, factory, now)
        context = JobContext(session_factory=factory, settings=settings, now=now)
        for name, job in modules.daily_jobs.items():
            counts[name] = job.run(context)
    finally:
        engine.dispose()
    log.info("daily job: %s", " ".join(f"{k}={v}" for k, v in counts.items()))
    return counts


def send_mail(
    settings: Mapping[str, Any], once: bool, *, stop: Callable[[], bool] | None = None
) -> int:
    """Send due outbox mail: one pass when ``once``, else until ``stop()`` is true or SIGTERM/SIGINT.

    Returns the number of mails sent.
    """
    engine = make_engine(settings["sqlalchemy.url"])
    try:
        sender = mail.OutboxSender(make_session_factory(engine), settings)
        if once:
            return sender.send_due()
        if stop is not None:
            return _loop(sender, stop)
        with stop_signals() as request:
            return _loop(sender, lambda: bool(request))
    finally:
        engine.dispose()


def _loop(sender: mail.OutboxSender, stop: Callable[[], bool]) -> int:
    total = 0
    while not stop():
        try:
            total += sender.send_backlog()
        except Exception as exc:  # the database may be away: try again after the poll interval
            log.error("mail sender pass failed: %s", mail.describe_error(exc))
        deadline = time.monotonic() + sender.config.poll_seconds
        while not stop() and time.monotonic() < deadline:
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))
    log.info("mail sender stopped after sending %d mail(s)", total)
    return total


def jobs_command(args: argparse.Namespace, settings: Mapping[str, Any]) -> int:
    """``cjs jobs daily`` / ``cjs jobs send-mail [--once]``."""
    setup_logging(args)
    if args.action == "daily":
        counts = run_daily(settings)
        for key, value in counts.items():
            print(f"{key}: {value}")
        print(f"mail_sent: {send_mail(settings, once=True)}")
        return 0
    sent = send_mail(settings, once=bool(args.once))
    print(f"mail_sent: {sent}")
    return 0
