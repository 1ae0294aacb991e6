"""Every email of the service, through a transactional outbox (section 7).

A mail is *written* by :func:`enqueue` as an :class:`~core.db.models.OutboxMessage` row in the transaction
that caused it, so it exists only if that transaction commits, and it is *sent* afterwards by an
:class:`OutboxSender`, which claims each row with a conditional UPDATE committed before it talks to SMTP:
two senders (threads or processes) never send the same row, and a row that could not be sent stays,
with a growing delay, until it is. A request wakes its process's sender after commit
(the :class:`~core.mail.interfaces.IOutbox` service does it); the sender also polls, for retries.

Views, jobs and loaders use the outbox service (``core.mail.services``)::

    request.find_service(IOutbox).notify_user(user, "locked", locked_until=..., lock_minutes=...)
    DatabaseOutbox(session, settings).send(to=..., template=..., context={...})   # a job

Templates are ``templates/mail/<name>.txt`` (Jinja2, plain text, StrictUndefined): a first line
``Subject: …``, a blank line, the body. :data:`TEMPLATES` names each one's context keys; ``service_name``
and ``service_url`` are added. Their texts are ``{% trans %}`` blocks of the screens' catalogue: a
mail is rendered once, by :func:`enqueue`, in the language it is given (SPEC 8; the outbox service
chooses it, docs/emails.md "The mail's language"), and the row keeps the rendered text. The set is open: a service module declares its own
(``cjs_mail_templates``, each a :class:`~core.hookspecs.MailTemplate` in its own folder), and
the outbox service (``core.mail.services``) finds them beside the core's. Nothing secret is
logged: a log line holds the Message-ID, the kind and
the recipient's domain, and ``last_error`` the exception class and SMTP code only.

Nothing readable rests in the table either (#12, AUTH-3: a mailed code is "stored only hashed"):
:func:`enqueue` seals every body with the key for data at rest (``core.secrets``, AES-GCM bound to
the row's Message-ID), the sender opens it just before SMTP and removes it once the mail is sent.
Subject, recipient and kind stay readable: they hold no secret, and operators need them.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import logging
import re
import smtplib
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from pyramid.i18n import Localizer
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from core import timefmt
from core.clock import utcnow
from core.db import get_session_factory
from core.db.models import OutboxMessage
from core.hookspecs import MailTemplate
from core.i18n import DEFAULT_LOCALE, DOMAIN, Message, localizer_for, translate
from core.plugins import get_modules
from core.secrets import keys_for
from core.settings import SERVICE_NAME, ConfigurationError

if TYPE_CHECKING:
    import transaction.interfaces
    from pyramid.config import Configurator
    from pyramid.registry import Registry

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "mail"

#: The context keys of each of the core's mail templates (docs/emails.md documents them).
_CORE_KEYS: Mapping[str, frozenset[str]] = {
    "email_code": frozenset({"user_name", "code", "valid_minutes"}),
    "locked": frozenset({"user_name", "user_id", "locked_until", "lock_minutes"}),
    "blocked": frozenset({"user_name", "user_id", "is_master"}),
    "cert_expiring": frozenset({"user_name", "user_id", "not_after", "days_left"}),
    "cert_expired": frozenset({"user_name", "user_id", "not_after"}),
    "registered": frozenset({"user_name", "user_id", "is_master"}),
    "password_changed": frozenset({"user_name", "user_id", "changed_at"}),
    "cert_issued": frozenset({"user_name", "user_id", "serial", "not_after"}),
    "cert_revoked": frozenset({"user_name", "user_id", "serial", "revoked_at"}),
    "cert_replaced": frozenset({"user_name", "user_id", "old_serial", "new_serial", "not_after"}),
    "user_unlocked": frozenset({"user_name", "user_id"}),
    "user_deleted": frozenset({"user_name", "user_id"}),
    "password_reset_by_master": frozenset({"user_name", "user_id"}),
    "user_id_changed": frozenset({"user_name", "user_id", "old_user_id"}),
    "initial_password_changed": frozenset({"user_name", "user_id", "contract_no"}),
    "initial_password_unblocked": frozenset({"user_name", "user_id", "contract_no"}),
}
#: The core's mail templates, by name; the modules' come from ``cjs_mail_templates``.
TEMPLATES: Mapping[str, MailTemplate] = {
    name: MailTemplate(name, keys, TEMPLATE_DIR) for name, keys in _CORE_KEYS.items()
}

_SECRET_WORDS = frozenset({"password", "passwd", "passphrase", "secret", "pin", "p12", "pkcs12"})
_BACKOFF_FIRST = dt.timedelta(seconds=10)
_BACKOFF_CAP = dt.timedelta(minutes=15)
_SENDER = "cjs.mail.sender"


# --- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailConfig:
    """The ``cjs.mail.*`` settings the sender uses, taken from the validated settings."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    sender_from: str = "noreply@localhost"
    mode: str = "thread"
    poll_seconds: float = 30.0
    timeout_seconds: float = 30.0
    lease_seconds: float = 120.0
    service_url: str = "https://localhost:8443/"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> MailConfig:
        """Read the validated mail settings (``core.settings.validate``: parsed once, secrets
        resolved); raises ConfigurationError when the lease is not more than twice the timeout."""
        config = cls(
            smtp_host=settings["cjs.mail.smtp_host"].strip(),
            smtp_port=settings["cjs.mail.smtp_port"],
            starttls=settings["cjs.mail.starttls"],
            smtp_user=settings["cjs.mail.smtp_user"].strip(),
            smtp_password=settings["cjs.mail.smtp_password"],
            sender_from=settings["cjs.mail.from"].strip(),
            mode=settings["cjs.mail.sender"],
            poll_seconds=settings["cjs.mail.poll_seconds"],
            timeout_seconds=settings["cjs.mail.timeout_seconds"],
            lease_seconds=settings["cjs.mail.lease_seconds"],
            service_url=settings["cjs.service_url"].strip(),
        )
        if config.lease_seconds <= 2 * config.timeout_seconds:
            raise ConfigurationError(
                "cjs.mail.lease_seconds: must be more than twice cjs.mail.timeout_seconds"
            )
        return config


# --- rendering ---------------------------------------------------------------------------------


def _in_language(localizer: Localizer, value: Any) -> Any:
    """``value`` in ``localizer``'s language when it is a :class:`~core.i18n.Message`."""
    return translate(localizer, value) if isinstance(value, Message) else value


@functools.cache
def _environment(folder: Path, locale: str) -> jinja2.Environment:
    """The mail templates of ``folder`` written in ``locale``: their ``{% trans %}`` texts, the
    messages of their context and of the format filters (``core.timefmt``) in that language."""
    localizer = localizer_for(locale)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        extensions=["jinja2.ext.i18n"],
        autoescape=False,  # noqa: S701 — plain-text mail, not HTML: nothing to escape
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # read once per process, like the page templates in production
        finalize=lambda value: _in_language(localizer, value),
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]  # jinja2.ext.i18n adds it
        gettext=lambda message: translate(localizer, message),
        ngettext=lambda singular, plural, n: localizer.pluralize(
            singular, plural, n, domain=DOMAIN
        ),
        newstyle=False,
    )
    for name, format_ in timefmt.FILTERS.items():
        env.filters[name] = functools.partial(_formatted, localizer, format_)
    return env


def _formatted(localizer: Localizer, format_: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return _in_language(localizer, format_(*args, **kwargs))


@dataclass(frozen=True)
class RenderedMail:
    """A rendered template: one-line subject and the plain-text body."""

    subject: str
    body: str


def render(
    template: str,
    context: Mapping[str, Any],
    settings: Mapping[str, Any],
    *,
    templates: Mapping[str, MailTemplate] = TEMPLATES,
    locale: str = DEFAULT_LOCALE,
) -> RenderedMail:
    """Render the template named ``template`` in ``locale`` with ``context`` plus service_name and
    service_url.

    ``templates`` are those known (default: the core's; the outbox service adds the modules').
    ``locale`` is the mail's language ("ja", the default, or "en"): the templates' ``{% trans %}``
    texts and the :class:`~core.i18n.Message` values of ``context`` are given in it, and what the
    catalogue does not translate stays Japanese.
    Raises ValueError for an unknown template, a context key that may hold a password, or a missing
    or unexpected context key (jinja2.UndefinedError when the template asks for one not given).
    """
    declared = templates.get(template)
    if declared is None:
        raise ValueError(f"unknown mail template {template!r}")
    secret = [k for k in context if set(re.split(r"[_\-.]", k.lower())) & _SECRET_WORDS]
    if secret:
        raise ValueError(f"mail context may not hold {secret[0]!r}")
    missing = declared.context_keys - set(context)
    if missing:
        raise ValueError(f"mail template {template!r} needs {sorted(missing)[0]!r}")
    localizer = localizer_for(locale)
    values = {
        **{key: _in_language(localizer, value) for key, value in context.items()},
        "service_name": translate(localizer, SERVICE_NAME),
        "service_url": str(settings.get("cjs.service_url", MailConfig.service_url)),
    }
    environment = _environment(declared.folder, locale)
    text = environment.get_template(f"{template}.txt").render(values)
    first, _, rest = text.partition("\n")
    blank, _, body = rest.partition("\n")
    if not first.startswith("Subject: ") or blank.strip():
        raise ValueError(f"mail template {template!r}: expected 'Subject: …', a blank line, a body")
    subject = first.removeprefix("Subject: ").strip()
    if not subject or "\r" in subject or len(subject) > 255:
        raise ValueError(f"mail template {template!r}: bad subject line")
    return RenderedMail(subject=subject, body=body.rstrip() + "\n")


# --- writing: the outbox -----------------------------------------------------------------------


def enqueue(
    dbsession: Session,
    *,
    to: str,
    template: str,
    context: Mapping[str, Any],
    settings: Mapping[str, Any],
    templates: Mapping[str, MailTemplate] = TEMPLATES,
    locale: str = DEFAULT_LOCALE,
) -> OutboxMessage:
    """Write the mail ``template`` (one of ``templates``) to ``to`` into the outbox, in
    ``dbsession``'s transaction, written in ``locale`` ("ja" by default, or "en").

    The mail is rendered here, once: the row holds its text, which nothing changes afterwards. It
    leaves only if that transaction commits; the sender's poll picks it up. The
    :class:`~core.mail.interfaces.IOutbox` service also wakes the sender after commit. The body is
    sealed with the key of ``settings`` (``cjs.secrets.key_file``); :func:`body_of` opens it.
    """
    to = to.strip()
    if not to or "@" not in to or any(c in to for c in "\r\n,<> ") or len(to) > 254:
        raise ValueError("mail recipient is not a plain address")
    rendered = render(template, context, settings, templates=templates, locale=locale)
    now = utcnow()
    message_id = f"<{uuid.uuid4().hex}@cjs>"
    message = OutboxMessage(
        message_id=message_id,
        kind=template,
        to_addr=to,
        subject=rendered.subject,
        sealed_body=keys_for(settings).seal(rendered.body, associated=message_id),
        created_at=now,
        attempts=0,
        next_attempt_at=now,
    )
    dbsession.add(message)
    return message


def body_of(message: OutboxMessage, settings: Mapping[str, Any]) -> str:
    """The plain body of an outbox row not yet sent, opened with the key of ``settings``.

    Raises ValueError when the row was sent (its body is gone) and
    :class:`~core.secrets.UnsealError` when the key is not the one that sealed it.
    """
    if message.sealed_body is None:
        raise ValueError(f"outbox message {message.message_id}: sent, its body is removed")
    return keys_for(settings).unseal(message.sealed_body, associated=message.message_id)


def sender_for(registry: Registry) -> OutboxSender | None:
    """The application's sender (set by :func:`includeme`), or None."""
    sender: OutboxSender | None = registry.get(_SENDER)
    return sender


def _wake_hook(status: bool, sender: OutboxSender) -> None:
    if status:
        sender.wake()


def wake_after_commit(
    sender: OutboxSender | None, txn: transaction.interfaces.ITransaction | None = None
) -> None:
    """Wake ``sender`` once ``txn`` (default: ``transaction.get()``) commits; nothing on abort.

    A no-op without a sender, or when the sender has no background thread (``cjs.mail.sender =
    off``). Hooking the same sender twice in one transaction adds one hook.
    """
    if sender is None or not sender.background:
        return
    if txn is None:
        import transaction

        txn = transaction.get()
    if any(hook is _wake_hook and args == (sender,) for hook, args, _ in txn.getAfterCommitHooks()):
        return
    txn.addAfterCommitHook(_wake_hook, args=(sender,))


# --- sending -----------------------------------------------------------------------------------


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "?"


def describe_error(exc: BaseException) -> str:
    """The exception class and SMTP code(s) only: never the server's text, never the message."""
    name = type(exc).__name__
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({str(code) for code, _ in exc.recipients.values()})
        return f"{name} {' '.join(codes)}".strip()
    code = getattr(exc, "smtp_code", None)
    if isinstance(code, int):
        return f"{name} {code}"
    errno = getattr(exc, "errno", None)
    if isinstance(errno, int):
        return f"{name} errno {errno}"
    return name


def backoff(attempts: int) -> dt.timedelta:
    """Delay before the next try after ``attempts`` failed ones: 10 s doubling, at most 15 min."""
    return min(_BACKOFF_FIRST * 2 ** min(max(attempts - 1, 0), 20), _BACKOFF_CAP)


@dataclass
class SenderStats:
    """What a sender did, for tests and measurements."""

    sent: int = 0
    failed: int = 0
    lost_claims: int = 0


class _ConnectionLost(Exception):
    """The SMTP connection failed: stop this pass, the rest waits for the next one."""


class OutboxSender:
    """Sends due outbox rows through SMTP, each claimed first so that no two senders send it.

    ``send_due()`` does one pass in the calling thread. With ``cjs.mail.sender = thread`` a daemon
    thread, started by the first :meth:`wake`, runs a pass after each wake and every
    ``cjs.mail.poll_seconds``; :meth:`stop` ends it and :meth:`flush` waits for a full pass.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session] | Callable[[], Session],
        settings: Mapping[str, Any],
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        smtp_factory: Callable[..., smtplib.SMTP] = smtplib.SMTP,
        batch_size: int = 100,
    ) -> None:
        self.config = MailConfig.from_settings(settings)
        self.settings = settings
        keys_for(settings)  # a missing key file stops the sender's start, not its first mail
        self.session_factory = session_factory
        self.clock = clock
        self.smtp_factory = smtp_factory
        self.batch_size = batch_size
        self.background = self.config.mode == "thread"
        self.stats = SenderStats()
        self._lease = dt.timedelta(seconds=self.config.lease_seconds)
        self._wakeup = threading.Event()
        self._cond = threading.Condition()
        self._passes_started = 0
        self._passes_done = 0
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- one pass -------------------------------------------------------------------------------

    def send_due(self, now: dt.datetime | None = None) -> int:
        """Claim and send every due row (up to the batch size); return how many were sent.

        ``now`` fixes the time of the pass (tests); by default each claim reads the clock afresh.
        """
        return self._send_batch(now)[0]

    def _send_batch(self, now: dt.datetime | None) -> tuple[int, bool]:
        """One batch: (mails sent, whether more may be due: a full batch not cut short)."""
        started = now if now is not None else self.clock()
        with self.session_factory() as session:
            ids = list(
                session.scalars(
                    select(OutboxMessage.id)
                    .where(
                        OutboxMessage.sent_at.is_(None),
                        OutboxMessage.next_attempt_at <= started,
                        or_(
                            OutboxMessage.claimed_until.is_(None),
                            OutboxMessage.claimed_until < started,
                        ),
                    )
                    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                    .limit(self.batch_size)
                )
            )
        sent = 0
        more = len(ids) == self.batch_size
        smtp: smtplib.SMTP | None = None
        try:
            for row_id in ids:
                moment = now if now is not None else self.clock()
                row = self._claim(row_id, moment)
                if row is None:
                    continue
                if smtp is None:
                    try:
                        smtp = self._connect()
                    except Exception as exc:  # unreachable or refusing us: the rest waits
                        self._failed(row, moment, exc)
                        more = False
                        break
                try:
                    self._deliver(smtp, row, moment)
                except _ConnectionLost as exc:
                    self._failed(row, moment, exc)
                    _close(smtp)
                    smtp = None
                    more = False
                    break
                except Exception as exc:  # refused recipient, data error: this message only
                    self._failed(row, moment, exc)
                    continue
                self._sent(row, moment)
                sent += 1
        finally:
            _close(smtp)
        return sent, more

    def send_backlog(self, max_batches: int = 100) -> int:
        """Batches until none is full (a burst) or the server fails; return how many were sent."""
        total = 0
        for _ in range(max_batches):
            sent, more = self._send_batch(None)
            total += sent
            if not more or self._stopping:
                break
        return total

    def _claim(self, row_id: int, now: dt.datetime) -> OutboxMessage | None:
        """Claim the row for one lease, committed before SMTP; None when another sender has it."""
        with self.session_factory() as session:
            result = session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == row_id,
                    OutboxMessage.sent_at.is_(None),
                    or_(
                        OutboxMessage.claimed_until.is_(None),
                        OutboxMessage.claimed_until < now,
                    ),
                )
                .values(claimed_until=now + self._lease)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                session.rollback()
                self.stats.lost_claims += 1
                return None
            session.commit()
            row = session.get(OutboxMessage, row_id)
            session.expunge_all()
            return row

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        smtp = self.smtp_factory(config.smtp_host, config.smtp_port, timeout=config.timeout_seconds)
        try:
            if config.starttls:
                import ssl

                smtp.starttls(context=ssl.create_default_context())
            if config.smtp_user:
                smtp.login(config.smtp_user, config.smtp_password)
        except BaseException:
            _close(smtp)
            raise
        return smtp

    def _deliver(self, smtp: smtplib.SMTP, row: OutboxMessage, now: dt.datetime) -> None:
        message = EmailMessage(policy=SMTP_POLICY)
        message["Subject"] = row.subject
        message["From"] = self.config.sender_from
        message["To"] = row.to_addr
        message["Date"] = email.utils.format_datetime(timefmt.to_jst(now))
        message["Message-ID"] = row.message_id
        message.set_content(body_of(row, self.settings), charset="utf-8")
        envelope_from = email.utils.parseaddr(self.config.sender_from)[1]
        try:
            smtp.send_message(message, from_addr=envelope_from, to_addrs=[row.to_addr])
        except smtplib.SMTPServerDisconnected as exc:
            raise _ConnectionLost() from exc
        except smtplib.SMTPException:
            raise  # an answer of the server about this message
        except OSError as exc:  # socket errors and timeouts
            raise _ConnectionLost() from exc

    def _sent(self, row: OutboxMessage, now: dt.datetime) -> None:
        with self.session_factory() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id, OutboxMessage.sent_at.is_(None))
                .values(
                    sent_at=now,
                    sealed_body=None,  # sent: nothing of the body stays (#12)
                    claimed_until=None,
                    attempts=OutboxMessage.attempts + 1,
                    last_error=None,
                )
                .execution_options(synchronize_session=False)
            )
            session.commit()
        self.stats.sent += 1
        log.info(
            "mail sent message_id=%s kind=%s to_domain=%s attempt=%d",
            row.message_id,
            row.kind,
            _domain(row.to_addr),
            row.attempts + 1,
        )

    def _failed(self, row: OutboxMessage, now: dt.datetime, exc: BaseException) -> None:
        cause = exc.__cause__ if isinstance(exc, _ConnectionLost) and exc.__cause__ else exc
        error = describe_error(cause)[:255]
        attempts = row.attempts + 1
        retry_at = now + backoff(attempts)
        with self.session_factory() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id, OutboxMessage.sent_at.is_(None))
                .values(
                    attempts=attempts,
                    next_attempt_at=retry_at,
                    claimed_until=None,
                    last_error=error,
                )
                .execution_options(synchronize_session=False)
            )
            session.commit()
        self.stats.failed += 1
        log.warning(
            "mail failed message_id=%s kind=%s to_domain=%s attempt=%d error=%s retry_at=%s",
            row.message_id,
            row.kind,
            _domain(row.to_addr),
            attempts,
            error,
            retry_at.isoformat(timespec="seconds"),
        )

    # -- the background thread ------------------------------------------------------------------

    def wake(self) -> None:
        """Ask the background thread for a pass now (starting it on first use); no-op when off."""
        if not self.background or self._stopping:
            return
        self.start()
        self._wakeup.set()

    def start(self) -> None:
        """Start the daemon thread if it is not running (``wake`` does this by itself)."""
        with self._cond:
            if self._stopping or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(target=self._run, name="cjs-mail-sender", daemon=True)
            self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the background thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (after its current pass) and wait for it; it does not start again."""
        with self._cond:
            self._stopping = True
            thread = self._thread
            self._cond.notify_all()
        self._wakeup.set()
        if thread is not None:
            thread.join(timeout)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wake the thread and wait until a whole pass begun after this call ends; False on timeout."""
        if not self.background:
            raise RuntimeError("the mail sender has no background thread (cjs.mail.sender = off)")
        with self._cond:
            target = self._passes_started + 1
        self.wake()
        with self._cond:
            self._cond.wait_for(lambda: self._passes_done >= target or self._stopping, timeout)
            return self._passes_done >= target

    def _run(self) -> None:
        while True:
            self._wakeup.wait(self.config.poll_seconds)
            self._wakeup.clear()
            with self._cond:
                if self._stopping:
                    self._cond.notify_all()
                    return
                self._passes_started += 1
                number = self._passes_started
            try:
                self.send_backlog()
            except Exception as exc:  # the database may be away: try again at the next poll
                log.error("mail sender pass failed: %s", describe_error(exc))
            with self._cond:
                self._passes_done = number
                self._cond.notify_all()


def _close(smtp: smtplib.SMTP | None) -> None:
    """Quit politely, or at least close the socket."""
    if smtp is None:
        return
    try:
        smtp.quit()
    except Exception:
        smtp.close()


# --- Pyramid -----------------------------------------------------------------------------------


def start_sender(registry: Registry) -> None:
    """Start the application's background sender now (servers, at start): it sends at once what is
    due in the outbox (left by a process that ended, or written by a job), then polls. A no-op when
    ``cjs.mail.sender = off``."""
    sender = sender_for(registry)
    if sender is not None:
        sender.wake()


def stop_sender(registry: Registry) -> None:
    """Stop the application's background sender, if any (tests, shutdown)."""
    sender = sender_for(registry)
    if sender is not None:
        sender.stop()


def all_templates(registry: Registry) -> dict[str, MailTemplate]:
    """The core's mail templates and those the app's modules declare, by name."""
    return {**TEMPLATES, **get_modules(registry).mail_templates}


def includeme(config: Configurator) -> None:
    """Give the app its sender (:func:`sender_for`), whose thread starts on the first wake, and
    the :class:`~core.mail.interfaces.IOutbox` service (``core.mail.services``).

    A module's mail template named like one of the core's stops the start. Needs ``core.db``
    included first.
    """
    registry = config.registry
    for name in get_modules(registry).mail_templates:
        if name in TEMPLATES:
            raise ConfigurationError(f"mail template {name!r}: the core has one of that name")
    registry[_SENDER] = OutboxSender(get_session_factory(registry), config.get_settings())
    config.include("core.mail.services")
