"""The CA's certificate revocation list (CERT-6): built from the database, signed by the active signer,
written where nginx reads it and served at ``/crl/<issuer>.crl``.

What is in it (RFC 5280 section 5): issuer = the CA's subject; thisUpdate = now; nextUpdate = now +
48 hours (``cjs.crl.next_update_hours``); the CRL number and authority key identifier extensions; one
entry per revoked certificate of that issuer (its serial, its revocation date and, but for
``unspecified``, a reasonCode from :data:`core.pki.x509.REVOCATION_REASONS`). An entry stays for
:data:`RETENTION` after the certificate expires, so that it appears on at least one scheduled CRL
issued beyond the certificate's validity, then drops out.

When it is written:

- after every transaction that revoked a certificate commits (:func:`note_revocation`, called by
  :func:`core.pki.certificates.revoke`, flags the database session; an ``after_commit`` listener on the
  application's session factory asks the process's :class:`PublicationWorker`, whose thread
  publishes a few milliseconds later: the request that revoked does not wait for the signature, the
  files and the reload command, and a burst of revocations gives one publication). The content is
  read from the committed database by a fresh session, never from the revoking transaction, so a
  revocation that rolls back never reaches the file and a committed one always does. The
  application itself never waits for the CRL: it refuses a revoked certificate from the database at
  every request (``core.security.policy``); the CRL is for nginx and for relying parties;
- at start and whenever it is asked for (``/crl/…``), when the file is missing, signed by another key,
  past half its validity, or lists fewer or more certificates than the database holds (a revocation
  committed by another process or host);
- by the daily job (:func:`publish_daily`, from ``core.cli.jobs.run_daily``), whatever its state.

Files in ``cjs.ca.dir``: ``<slug>.crl`` (DER, what the endpoint serves) for each CA signing CRLs and
``crl.pem`` (the same CRLs in PEM, one after the other: nginx's ``ssl_crl``). Each file is written to
a temporary file in the same folder and renamed over the old one, so readers see the old or the new
file, never a partial one. Publications are serialised by an exclusive ``flock`` on ``.crl.lock`` in
that folder (threads and processes of one host); the content is read from the database while the lock
is held, so the last file written is never older than the last revocation committed before it.

CRL number: not a counter in the database but derived: ``max(thisUpdate in milliseconds since the
epoch, number of the file being replaced + 1)``. Strictly increasing for each file whatever the
number of processes (the lock), and comparable between hosts that each write their own file.

After the files are written, ``cjs.crl.reload_command`` (e.g. ``nginx -s reload``; empty: none) is run
without a shell; its failure is logged, never raised (nginx reads ``ssl_crl`` only at start and reload).

Only the active signer's CA gets a CRL (one CRL per active CA): a signer may list older signers it
still holds in an optional ``previous_signers`` attribute, each of which then gets its own CRL too.
A previous CA whose key is gone cannot sign a CRL; see docs/revocation.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shlex
import subprocess
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from core import clock
from core.db import get_session_factory, make_engine, make_session_factory
from core.db.models import Certificate, CertificateStatus, StaffCertificate, utcnow
from core.pki.files import folder_lock, write_atomically
from core.pki.signers import get_signer, load_signer
from core.pki.x509 import authority_key_identifier, common_name, key_identifier, reason_flag

log = logging.getLogger(__name__)

#: nextUpdate − thisUpdate, unless ``cjs.crl.next_update_hours`` says otherwise.
DEFAULT_NEXT_UPDATE = dt.timedelta(hours=48)
#: A revoked certificate stays on the CRL this long after its own expiry.
RETENTION = dt.timedelta(days=7)
#: The file nginx reads (``ssl_crl``): every CRL in PEM.
NGINX_CRL_FILE = "crl.pem"
LOCK_FILE = ".crl.lock"
#: ``Session.info`` key set by :func:`note_revocation`.
PENDING_KEY = "cjs.crl.pending"
#: How long the reload command may run.
RELOAD_TIMEOUT_SECONDS = 60


# --- Naming -------------------------------------------------------------------------------------


def issuer_slug(ca_certificate: x509.Certificate) -> str:
    """The CA's name in URLs and file names: its CN in lower-case ASCII and 8 hex digits of its key id.

    ``Rokin-KW CA`` with key id ``3f2a9c1b…`` gives ``rokin-kw-ca-3f2a9c1b``: readable, and distinct
    for each key when a rotation keeps the name.
    """
    name = common_name(ca_certificate.subject) or "ca"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "ca"
    return f"{slug}-{key_identifier(ca_certificate).hex()[:8]}"


def der_path(folder: Path, ca_certificate: x509.Certificate) -> Path:
    """Where the DER CRL of ``ca_certificate`` is kept."""
    return folder / f"{issuer_slug(ca_certificate)}.crl"


# --- Building -----------------------------------------------------------------------------------


#: The tables of the certificates the CA issues: customers' and staff's (``core.pki.staff``).
ISSUED_CERTIFICATE_MODELS: tuple[type[Certificate] | type[StaffCertificate], ...] = (
    Certificate,
    StaffCertificate,
)


def _listed(
    model: type[Certificate] | type[StaffCertificate],
    ca_certificate: x509.Certificate,
    this_update: dt.datetime,
) -> tuple[Any, ...]:
    """SQL conditions: revoked, of this issuer, expired less than :data:`RETENTION` ago."""
    return (
        model.status == CertificateStatus.REVOKED,
        model.issuer == ca_certificate.subject.rfc4514_string(),
        model.not_after > this_update - RETENTION,
    )


def revoked_certificates(
    dbsession: Session, ca_certificate: x509.Certificate, this_update: dt.datetime
) -> list[Certificate | StaffCertificate]:
    """The rows a CRL of ``ca_certificate`` issued at ``this_update`` lists (customers' and
    staff's), oldest revocation first."""
    rows: list[Certificate | StaffCertificate] = []
    for model in ISSUED_CERTIFICATE_MODELS:
        rows += dbsession.scalars(select(model).where(*_listed(model, ca_certificate, this_update)))
    return sorted(rows, key=lambda row: (row.revoked_at or this_update, row.serial))


def count_revoked(
    dbsession: Session, ca_certificate: x509.Certificate, this_update: dt.datetime
) -> int:
    """How many entries a CRL issued at ``this_update`` would list now (the staleness check)."""
    return sum(
        int(
            dbsession.scalar(
                select(func.count(model.id)).where(*_listed(model, ca_certificate, this_update))
            )
            or 0
        )
        for model in ISSUED_CERTIFICATE_MODELS
    )


def revoked_entry(certificate: Certificate | StaffCertificate) -> x509.RevokedCertificate:
    """The CRL entry of a revoked row: serial, revocation date, reasonCode (none for unspecified)."""
    if certificate.revoked_at is None:
        raise ValueError(f"certificate {certificate.serial} has no revocation date")
    builder = (
        x509.RevokedCertificateBuilder()
        .serial_number(int(certificate.serial, 16))
        .revocation_date(certificate.revoked_at)
    )
    reason = reason_flag(certificate.revocation_reason)
    if reason is not None:
        builder = builder.add_extension(x509.CRLReason(reason), critical=False)
    return builder.build()


def build_crl(
    signer: Any,
    certificates: Sequence[Certificate | StaffCertificate],
    *,
    number: int,
    this_update: dt.datetime,
    next_update: dt.datetime,
) -> x509.CertificateRevocationList:
    """A CRL of ``signer``'s CA listing ``certificates``, signed with ``signer.sign_crl``."""
    ca_certificate: x509.Certificate = signer.ca_certificate
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_certificate.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(authority_key_identifier(ca_certificate), critical=False)
    )
    for certificate in certificates:
        builder = builder.add_revoked_certificate(revoked_entry(certificate))
    crl: x509.CertificateRevocationList = signer.sign_crl(builder)
    return crl


def crl_number(crl: x509.CertificateRevocationList) -> int:
    """The CRL number extension's value (0 when absent)."""
    try:
        return int(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    except x509.ExtensionNotFound:
        return 0


def next_number(this_update: dt.datetime, previous: x509.CertificateRevocationList | None) -> int:
    """``max(thisUpdate in ms since the epoch, previous number + 1)``: strictly increasing."""
    by_time = int(this_update.timestamp() * 1000)
    return max(by_time, crl_number(previous) + 1) if previous is not None else by_time


def load_der(path: Path) -> x509.CertificateRevocationList | None:
    """The CRL in ``path``, or None when it is missing or unreadable."""
    try:
        return x509.load_der_x509_crl(path.read_bytes())
    except (OSError, ValueError):
        return None


# --- The reload command ------------------------------------------------------------------------


def run_reload_command(command: str | Sequence[str]) -> bool:
    """Run the reload command (no shell); log and return False on failure, never raise."""
    args = shlex.split(command) if isinstance(command, str) else list(command)
    if not args:
        return True
    try:
        result = subprocess.run(  # noqa: S603 (the operator's own setting, no shell)
            args, capture_output=True, text=True, timeout=RELOAD_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.error("CRL reload command %r failed: %s", args[0], exc)
        return False
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip().replace("\n", " | ")[-500:]
        log.error(
            "CRL reload command %r failed with exit status %d: %s",
            args[0],
            result.returncode,
            output,
        )
        return False
    log.info("CRL reload command %r done", args[0])
    return True


# --- Publishing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """One CRL written by :meth:`CRLPublisher.publish`."""

    slug: str
    path: Path
    number: int
    entries: int
    this_update: dt.datetime
    next_update: dt.datetime


def _hours(settings: Mapping[str, Any], name: str, default: dt.timedelta) -> dt.timedelta:
    value = settings.get(name)
    if value in (None, ""):
        return default
    return dt.timedelta(hours=int(value))


def signers_of(signer: Any) -> list[Any]:
    """The active signer, then the older signers it still holds (``previous_signers``, optional)."""
    return [signer, *getattr(signer, "previous_signers", ())]


class CRLPublisher:
    """Writes and serves the CRLs of one CA folder from one database.

    ``signer`` is a callable returning the active signer (read at each use, so a signer swapped at
    run time is followed); ``session_factory`` makes sessions on the service's database; ``clock``
    gives the current aware time.
    """

    def __init__(
        self,
        settings: Mapping[str, Any],
        signer: Callable[[], Any],
        session_factory: Callable[[], Session],
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.folder = Path(settings["cjs.ca.dir"])
        self.next_update = _hours(settings, "cjs.crl.next_update_hours", DEFAULT_NEXT_UPDATE)
        self.reload_command: str | Sequence[str] = settings.get("cjs.crl.reload_command") or ""
        self._signer = signer
        self._session_factory = session_factory
        self._clock = clock
        self._thread_lock = threading.Lock()  # flock already serialises; this keeps it cheap

    @property
    def signers(self) -> list[Any]:
        """The signers whose CA gets a CRL, the active one first."""
        return signers_of(self._signer())

    def path_of(self, slug: str) -> Path | None:
        """The DER file of the CA named ``slug`` in URLs, or None when no signer has that name."""
        for signer in self.signers:
            if issuer_slug(signer.ca_certificate) == slug:
                return der_path(self.folder, signer.ca_certificate)
        return None

    def publish(self, now: dt.datetime | None = None) -> list[Published]:
        """Build, sign and write every CRL now, then run the reload command; return what was written."""
        now = (now or self._clock()).astimezone(dt.UTC).replace(microsecond=0)
        published: list[Published] = []
        with self._thread_lock, folder_lock(self.folder, LOCK_FILE):
            pems: list[bytes] = []
            with self._session_factory() as dbsession:
                for signer in self.signers:
                    ca_certificate = signer.ca_certificate
                    path = der_path(self.folder, ca_certificate)
                    rows = revoked_certificates(dbsession, ca_certificate, now)
                    number = next_number(now, load_der(path))
                    crl = build_crl(
                        signer,
                        rows,
                        number=number,
                        this_update=now,
                        next_update=now + self.next_update,
                    )
                    write_atomically(path, crl.public_bytes(serialization.Encoding.DER))
                    pems.append(crl.public_bytes(serialization.Encoding.PEM))
                    published.append(
                        Published(
                            issuer_slug(ca_certificate),
                            path,
                            number,
                            len(rows),
                            now,
                            now + self.next_update,
                        )
                    )
                dbsession.rollback()
            write_atomically(self.folder / NGINX_CRL_FILE, b"".join(pems))
            for item in published:
                log.info(
                    "CRL published issuer=%s number=%d entries=%d next_update=%s",
                    item.slug,
                    item.number,
                    item.entries,
                    item.next_update.isoformat(),
                )
            if self.reload_command:
                run_reload_command(self.reload_command)
        return published

    def stale_reason(self, now: dt.datetime | None = None) -> str | None:
        """Why the files must be written again now, or None when every CRL is current."""
        now = now or self._clock()
        if not (self.folder / NGINX_CRL_FILE).exists():
            return f"{NGINX_CRL_FILE} missing"
        with self._session_factory() as dbsession:
            for signer in self.signers:
                ca_certificate = signer.ca_certificate
                path = der_path(self.folder, ca_certificate)
                crl = load_der(path)
                if crl is None:
                    return f"{path.name} missing or unreadable"
                reason = _problem(crl, ca_certificate, now, self.next_update)
                if reason is not None:
                    return f"{path.name}: {reason}"
                expected = count_revoked(dbsession, ca_certificate, crl.last_update_utc)
                if expected != len(crl):
                    return f"{path.name}: lists {len(crl)} certificates, the database {expected}"
            dbsession.rollback()
        return None

    def refresh(self, now: dt.datetime | None = None) -> bool:
        """Publish when :meth:`stale_reason` finds a reason; True when it published."""
        reason = self.stale_reason(now)
        if reason is None:
            return False
        log.info("CRL out of date (%s): publishing", reason)
        self.publish(now)
        return True


def _problem(
    crl: x509.CertificateRevocationList,
    ca_certificate: x509.Certificate,
    now: dt.datetime,
    validity: dt.timedelta,
) -> str | None:
    if crl.issuer != ca_certificate.subject:
        return "another issuer"
    if not crl.is_signature_valid(ca_certificate.public_key()):  # type: ignore[arg-type]
        return "signed by another key"
    next_update = crl.next_update_utc
    if next_update is None or next_update - now < validity / 2:
        return "past half its validity"
    if crl.last_update_utc > now + dt.timedelta(minutes=5):
        return "issued in the future"
    return None


# --- After commit -------------------------------------------------------------------------------


def note_revocation(dbsession: Session) -> None:
    """Mark ``dbsession``'s transaction as one that revoked: the CRL is published after it commits.

    Called by :func:`core.pki.certificates.revoke`; harmless on a session no publisher watches (the CRL
    then catches up at its next refresh).
    """
    dbsession.info[PENDING_KEY] = True


class PublicationWorker:
    """Publishes the CRL in one daemon thread of this process whenever :meth:`request` asks.

    Requests made while a publication runs are served by one more publication after it (which reads
    every revocation committed so far). A failed publication is logged and retried after
    ``retry_seconds`` (doubling up to ten times that) until one succeeds. The thread starts at the
    first request, and again in a process forked after it. Should the process end before a requested
    publication, the refresh at the next start (or the endpoint, or the daily job) finds the file
    stale and publishes.
    """

    def __init__(self, publisher: CRLPublisher, *, retry_seconds: float = 5.0) -> None:
        self.publisher = publisher
        self.retry_seconds = retry_seconds
        self._condition = threading.Condition()
        self._requested = 0  # requests so far
        self._done = 0  # requests covered by a successful publication
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stopping = False

    def request(self) -> None:
        """Ask for a publication (returns at once)."""
        with self._condition:
            self._requested += 1
            self._stopping = False
            if not self.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="cjs-crl-publisher", daemon=True
                )
                self._thread.start()
            self._condition.notify_all()

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until every publication requested before this call is written.

        False on timeout, or when the worker was stopped with it still pending.
        """
        with self._condition:
            target = self._requested
            self._condition.wait_for(lambda: self._done >= target or self._stopping, timeout)
            return self._done >= target

    def is_alive(self) -> bool:
        """Whether this process's publication thread is running."""
        thread = self._thread
        return thread is not None and self._pid == os.getpid() and thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Let the publications asked for finish (up to ``timeout``), then end the thread."""
        if self.is_alive():
            self.wait(timeout)
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        delay = self.retry_seconds
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._requested > self._done or self._stopping)
                if self._stopping:
                    if self._requested > self._done:
                        log.warning(
                            "stopping with a CRL publication pending; the next start publishes"
                        )
                    return
                target = self._requested
            try:
                self.publisher.publish()
            except Exception:
                log.exception("CRL publication after a revocation failed; retrying in %g s", delay)
                with self._condition:  # only stop() cuts the wait short; new requests wait too
                    self._condition.wait_for(lambda: self._stopping, delay)
                delay = min(delay * 2, self.retry_seconds * 10)
                continue
            delay = self.retry_seconds
            with self._condition:
                self._done = max(self._done, target)
                self._condition.notify_all()


def watch(session_factory: sessionmaker[Session], on_revocation: Callable[[], None]) -> None:
    """Call ``on_revocation`` after each commit of a ``session_factory`` session that revoked.

    Called in the committing thread once the database has committed; not at all when the
    transaction rolls back. The application passes :meth:`PublicationWorker.request`. A failure is
    logged, never raised: the commit is done, and the next refresh (endpoint, start, daily job)
    repairs the file.
    """

    def after_commit(session: Session) -> None:
        # SQLAlchemy also calls after_commit when a SAVEPOINT (begin_nested) is released: the
        # revocation is not committed yet, the outermost commit publishes.
        if session.in_nested_transaction():
            return
        if not session.info.pop(PENDING_KEY, False):
            return
        try:
            on_revocation()
        except Exception:
            log.exception("CRL publication after a revocation failed; the next refresh retries")

    def after_transaction_end(session: Session, transaction: Any) -> None:
        if transaction.parent is None:  # the outermost transaction ended: commit or rollback
            session.info.pop(PENDING_KEY, None)

    event.listen(session_factory, "after_commit", after_commit)
    event.listen(session_factory, "after_transaction_end", after_transaction_end)


# --- Daily job and Pyramid ----------------------------------------------------------------------


def publish_daily(
    settings: Mapping[str, Any], session_factory: Callable[[], Session], now: dt.datetime
) -> list[Published]:
    """The daily job's CRL: load the configured signer and publish, whatever the files' state.

    Does nothing (and says so) when the settings name no CA folder; a signer or file error is raised,
    so that the job fails loudly before the CRL in the files expires.
    """
    if not settings.get("cjs.ca.dir"):
        log.info("daily job: no cjs.ca.dir, no CRL published")
        return []
    signer = load_signer(settings)
    return CRLPublisher(settings, lambda: signer, session_factory, lambda: now).publish(now)


def reader_factory(url: str, session_factory: sessionmaker[Session]) -> Callable[[], Session]:
    """Sessions the publisher reads the database with (it never writes).

    On SQLite, not the application's: those begin with ``BEGIN IMMEDIATE`` (the write lock), and a
    request may hold that lock while it asks for the CRL (pyramid_tm looks up the logged-in user, so
    the session row, before the view) — a second connection of the same request would then wait for
    it until the busy timeout. A deferred ``BEGIN`` reads a WAL snapshot without any lock. No pool:
    nothing stays open between publications. Elsewhere (PostgreSQL) the application's sessions.
    """
    if not url.startswith("sqlite"):
        return session_factory
    return make_session_factory(make_engine(url, sqlite_begin_immediate=False, poolclass=NullPool))


_PUBLISHER = "cjs.pki.crl_publisher"
_WORKER = "cjs.pki.crl_worker"


def get_publisher(registry: Any) -> CRLPublisher:
    """The application's publisher."""
    publisher: CRLPublisher = registry[_PUBLISHER]
    return publisher


def get_publication_worker(registry: Any) -> PublicationWorker:
    """The application's publication worker (the CRL after a revocation's commit)."""
    worker: PublicationWorker = registry[_WORKER]
    return worker


def publication_worker_of(registry: Any) -> PublicationWorker | None:
    """The application's publication worker, or None in an application without one."""
    worker: PublicationWorker | None = registry.get(_WORKER)
    return worker


def includeme(config: Any) -> None:
    """The publisher and its worker (:func:`get_publisher`, :func:`get_publication_worker`), the
    publication after commit, a refresh at start if due.

    Needs ``core.db`` and the signer (``core.pki.signers.get_signer``) first. A failure of the start refresh
    is logged: the service still starts, and the endpoint or the daily job retries.
    """
    registry = config.registry
    settings = config.get_settings()
    publisher = CRLPublisher(
        settings,
        lambda: get_signer(registry),
        reader_factory(str(settings["sqlalchemy.url"]), get_session_factory(registry)),
        lambda: clock.now(registry),
    )
    worker = PublicationWorker(publisher)
    registry[_PUBLISHER] = publisher
    registry[_WORKER] = worker
    watch(get_session_factory(registry), worker.request)
    try:
        publisher.refresh()
    except Exception as exc:
        log.warning("CRL not refreshed at start (%s); the endpoint and daily job retry", exc)
