"""AUTH-1 and AUTH-2 under concurrency: 50 wrong passwords sent at the same moment by parallel clients
lock the credential exactly once, after exactly 6 counted failures, and never lose or double a count.

The counters are read and written under a row lock (``SELECT … FOR UPDATE`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite, core/auth/lockout.py), so of 50 simultaneous wrong passwords exactly 6 are
checked and counted (5 ``wrong`` and the ``locked_now`` that locks) and the other 44 are refused as
``locked`` without being checked or counted. Both password screens share one credential (AUTH-1): the
clients mix DC582101 (login, the user named by the client certificate) and DC586101 (issuance, user
ID + password).

- In one process: 50 threads, each its own WebTest client (own cookie jar and session) over the same
  WSGI app, released together by a :class:`threading.Barrier`; on SQLite and on PostgreSQL.
- In two app processes: two real cheroot servers (plain HTTP on 127.0.0.1, ``cjs.proxy.trusted =
  127.0.0.1``) on one PostgreSQL database; each client reaches one of them through
  :class:`ProxyToServer`, which forwards the request as nginx does (the certificate in
  ``X-SSL-Client-Verify`` / ``X-SSL-Client-Cert``, ``X-Forwarded-Proto: https``).

The plain lock/unlock/block sequence of one browser is in test_issue_login.py; here only what a race
can break, and the state the race leaves (not counted while locked; a success resets both counters).
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import webtest
from conftest import DEMO_BANK_FILE, MASTER, Customer
from sqlalchemy import func, select, update

from auth_backends import messages
from auth_backends.password import WRONG, WRONG_WITH_ID
from core.db.models import AuditEvent, OutboxMessage, User

CLIENTS = 50
PASSWORD = MASTER["password"]
BAD_PASSWORD = "Wrong#999"
ENTRIES = ("login", "issue")  # DC582101 and DC586101, alternately: 25 clients each
HTTPS = {"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 60  # seconds: every wait below is bounded


@pytest.fixture
def app_settings(app_settings: dict[str, str]) -> dict[str, str]:
    """The conftest settings with EC P-256 client keys (quicker to set up than RSA)."""
    return {**app_settings, "cjs.cert.key_type": "ec-p256"}


# --- clients -----------------------------------------------------------------------------------


def certificate_environ(pem: str | None) -> dict[str, str]:
    """The environ the TLS server gives the app for a verified client certificate (or none)."""
    if pem is None:
        return {**HTTPS, "SSL_CLIENT_VERIFY": "NONE"}
    return {**HTTPS, "SSL_CLIENT_VERIFY": "SUCCESS", "SSL_CLIENT_CERT": pem}


def registered_master(customer: Customer) -> str:
    """FLOW-1 then FLOW-2 for the demo master; returns the PEM of its certificate."""
    from cryptography.hazmat.primitives.serialization import Encoding

    customer.register_master()
    customer.app.reset()
    data, _ = customer.issue(MASTER["user_id"], PASSWORD, MASTER["email"])
    customer.app.reset()
    certificate = customer.use_certificate(data, PASSWORD)
    return str(certificate.public_bytes(Encoding.PEM).decode())


def password_form(wsgi_app: Any, entry: str, pem: str) -> Any:
    """A fresh browser (own cookies and session) on DC582101 or DC586101, a wrong password typed.

    Login clients present the certificate (it names the user); issuance clients present none and
    type the user ID, as from a new PC.
    """
    client = webtest.TestApp(wsgi_app, extra_environ=certificate_environ(pem))
    if entry == "login":
        page = client.get("/login").maybe_follow()
        assert "DC582101" in page.text, page.text
    else:
        client.extra_environ = certificate_environ(None)
        page = client.get("/cert").maybe_follow()
        assert "DC586101" in page.text, page.text
        page.forms[0]["user_id"] = MASTER["user_id"]
    form = page.forms[0]
    form["password"] = BAD_PASSWORD
    return form


def answer(text: str) -> str:
    """What a password screen said: locked, blocked, wrong (or the whole page if none of those)."""
    if messages.LOCKED in text:
        return "locked"
    if messages.BLOCKED_USER in text:
        return "blocked"
    if WRONG_WITH_ID in text or WRONG in text:
        return "wrong"
    return text


def race(forms: list[Any]) -> list[str]:
    """Submit every form at the same moment, one thread each; returns what each screen said."""
    barrier = threading.Barrier(len(forms))

    def submit(form: Any) -> str:
        barrier.wait(timeout=TIMEOUT)
        return answer(form.submit().maybe_follow().text)

    with ThreadPoolExecutor(max_workers=len(forms)) as pool:
        futures = [pool.submit(submit, form) for form in forms]
        return [future.result(timeout=TIMEOUT) for future in futures]


# --- what the database says --------------------------------------------------------------------


@dataclass
class Tally:
    """Counters, audit events and mails after a race."""

    failed_count: int
    lock_count: int
    blocked: bool
    outcomes: Counter[str]  # details.outcome of login.password / issue.password events
    by_entry: Counter[str]  # the same events per action
    events: Counter[str]  # user.lock / user.block
    mails: Counter[str]  # outbox kinds locked / blocked


def mark(dbsession: Any) -> tuple[int, int]:
    """The last audit event and outbox message ids: a tally counts only what came after."""
    dbsession.rollback()
    events = dbsession.scalar(select(func.max(AuditEvent.id))) or 0
    mails = dbsession.scalar(select(func.max(OutboxMessage.id))) or 0
    return events, mails


def tally(dbsession: Any, since: tuple[int, int]) -> Tally:
    """What the database holds now; events and mails only after ``since`` (:func:`mark`)."""
    dbsession.rollback()  # a fresh snapshot (SQLite keeps the old one otherwise)
    user = dbsession.scalars(select(User).where(User.user_id == MASTER["user_id"])).one()
    checks = dbsession.scalars(
        select(AuditEvent).where(
            AuditEvent.id > since[0],
            AuditEvent.action.in_(["login.password", "issue.password"]),
        )
    ).all()
    events = dbsession.execute(
        select(AuditEvent.action, func.count())
        .where(AuditEvent.id > since[0], AuditEvent.action.in_(["user.lock", "user.block"]))
        .group_by(AuditEvent.action)
    ).all()
    mails = dbsession.execute(
        select(OutboxMessage.kind, func.count())
        .where(OutboxMessage.id > since[1], OutboxMessage.kind.in_(["locked", "blocked"]))
        .group_by(OutboxMessage.kind)
    ).all()
    return Tally(
        failed_count=user.failed_count,
        lock_count=user.lock_count,
        blocked=user.blocked_at is not None,
        outcomes=Counter(str(event.details["outcome"]) for event in checks),
        by_entry=Counter(event.action for event in checks),
        events=Counter(dict(events)),
        mails=Counter(dict(mails)),
    )


def assert_locked_exactly_once(answers: list[str], after: Tally) -> None:
    """6 counted (5 wrong + the one that locked), 44 refused uncounted, one lock, one mail."""
    assert Counter(answers) == {"wrong": 5, "locked": CLIENTS - 5}
    assert after.outcomes == {"wrong": 5, "locked_now": 1, "locked": CLIENTS - 6}
    assert after.by_entry == {"login.password": CLIENTS // 2, "issue.password": CLIENTS // 2}
    assert (after.failed_count, after.lock_count, after.blocked) == (0, 1, False)
    assert after.events == {"user.lock": 1}
    assert after.mails == {"locked": 1}  # AUTH-2: the lock is emailed, once


def mixed_forms(make_app_for: Callable[[int], Any], pem: str) -> list[Any]:
    """50 browsers, alternately on DC582101 and DC586101; ``make_app_for(i)`` is client i's app."""
    return [password_form(make_app_for(i), ENTRIES[i % 2], pem) for i in range(CLIENTS)]


# --- one process, threads ----------------------------------------------------------------------


def test_fifty_parallel_wrong_passwords_lock_exactly_once(app, customer, dbsession, clock):
    """AUTH-1, AUTH-2: 50 threads, both entry points, one app; on SQLite and PostgreSQL.

    Then, while locked, the right password is refused on both screens and not counted; after 60
    minutes it logs in and the success resets both counters (our design).
    """
    pem = registered_master(customer)
    forms = mixed_forms(lambda _i: app, pem)
    since = mark(dbsession)
    answers = race(forms)
    assert_locked_exactly_once(answers, tally(dbsession, since))

    for entry in ENTRIES:
        form = password_form(app, entry, pem)
        form["password"] = PASSWORD
        assert answer(form.submit().maybe_follow().text) == "locked"  # same answer as wrong
    after = tally(dbsession, since)
    assert after.outcomes["locked"] == CLIENTS - 6 + 2  # refused unchecked
    assert (after.failed_count, after.lock_count) == (0, 1)  # not counted, not a success

    clock.advance(minutes=60)
    assert "DC590101" in customer.login(PASSWORD).text
    after = tally(dbsession, since)
    assert (after.failed_count, after.lock_count, after.outcomes["ok"]) == (0, 0, 1)


def test_fifty_parallel_wrong_passwords_on_the_third_lock_block_exactly_once(
    app, customer, dbsession, clock
):
    """AUTH-1, AUTH-2: two locks already (set in the row); the race blocks once, mails once.

    A block has no time-based reset: a day later the right password is still refused, uncounted.
    """
    pem = registered_master(customer)
    dbsession.rollback()  # a fresh transaction: SQLite refuses to write from a stale snapshot
    dbsession.execute(update(User).values(lock_count=2))
    dbsession.commit()
    forms = mixed_forms(lambda _i: app, pem)
    since = mark(dbsession)
    answers = race(forms)
    assert Counter(answers) == {"wrong": 5, "blocked": CLIENTS - 5}
    after = tally(dbsession, since)
    assert after.outcomes == {"wrong": 5, "blocked_now": 1, "blocked": CLIENTS - 6}
    assert (after.failed_count, after.lock_count, after.blocked) == (0, 3, True)
    assert after.events == {"user.block": 1}
    assert after.mails == {"blocked": 1}

    clock.advance(days=1)
    form = password_form(app, "issue", pem)
    form["password"] = PASSWORD
    assert answer(form.submit().maybe_follow().text) == "blocked"
    after = tally(dbsession, since)
    assert after.outcomes["blocked"] == CLIENTS - 6 + 1
    assert (after.failed_count, after.lock_count, after.blocked) == (0, 3, True)


# --- two app processes, one PostgreSQL database ------------------------------------------------


SERVER_SCRIPT = """
import json, os, sys
from cheroot import wsgi
from core.app import make_app

settings, ready = json.loads(sys.argv[1]), sys.argv[2]
server = wsgi.Server(("127.0.0.1", 0), make_app(settings), numthreads=32, request_queue_size=64)
server.prepare()
with open(ready + ".tmp", "w") as out:
    out.write(str(server.bind_addr[1]))
os.replace(ready + ".tmp", ready)
server.serve()
"""

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class ProxyToServer:
    """A WSGI app that forwards each request to an app server over HTTP, as nginx would.

    The client certificate WebTest puts in ``SSL_CLIENT_VERIFY`` / ``SSL_CLIENT_CERT`` travels as
    ``X-SSL-Client-Verify`` and the URL-escaped ``X-SSL-Client-Cert``; ``X-Forwarded-Proto`` is
    the browser's scheme. WebTest keeps the cookies, follows redirects and fills the forms.
    """

    def __init__(self, port: int) -> None:
        self.port = port

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else None
        headers["X-Forwarded-Proto"] = environ["wsgi.url_scheme"]
        headers["X-SSL-Client-Verify"] = environ.get("SSL_CLIENT_VERIFY", "NONE")
        if environ.get("SSL_CLIENT_CERT"):
            headers["X-SSL-Client-Cert"] = quote(environ["SSL_CLIENT_CERT"])
        path = quote(environ.get("PATH_INFO", "/").encode("latin-1"))
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            connection.request(environ["REQUEST_METHOD"], path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            status = f"{response.status} {response.reason}"
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
        finally:
            connection.close()
        start_response(status, [*kept, ("Content-Length", str(len(data)))])
        return [data]


@dataclass
class AppServer:
    """An app server process: ``python -c SERVER_SCRIPT`` on a free port of 127.0.0.1."""

    process: subprocess.Popen[bytes]
    log: Path
    port: int = 0


def start_servers(settings: dict[str, str], folder: Path, count: int) -> list[AppServer]:
    """Start ``count`` server processes together; wait (bounded) until each listens."""
    servers = []
    for index in range(count):
        log = folder / f"server{index}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-c", SERVER_SCRIPT, json.dumps(settings), str(log) + ".port"],
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        servers.append(AppServer(process, log))
    deadline = time.monotonic() + TIMEOUT
    for server in servers:
        ready = Path(str(server.log) + ".port")
        while not ready.exists():
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"app server did not start:\n{server.log.read_text()[-3000:]}")
            time.sleep(0.05)
        server.port = int(ready.read_text())
    return servers


def stop_servers(servers: list[AppServer]) -> None:
    for server in servers:
        server.process.terminate()
    for server in servers:
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


@pytest.fixture
def two_servers(
    postgresql_url: str, ca_settings: dict[str, str], tmp_path: Path
) -> Iterator[list[AppServer]]:
    """Two app processes on one PostgreSQL database with the demo contracts, stopped afterwards."""
    from core.bank.config import apply_file_with_settings
    from core.settings import validate

    settings = {
        "sqlalchemy.url": postgresql_url,
        **ca_settings,
        "cjs.environment": "development",
        "cjs.hours.always_open": "true",
        "cjs.mail.sender": "off",
        "cjs.cert.key_type": "ec-p256",
        "cjs.proxy.trusted": "127.0.0.1",
        "cjs.service_url": "https://localhost/",  # the clients' Host, through the proxies (#12)
    }
    apply_file_with_settings(validate(settings), DEMO_BANK_FILE)
    servers = start_servers(settings, tmp_path, 2)
    try:
        yield servers
    finally:
        stop_servers(servers)


@pytest.fixture
def pg_session(postgresql_url: str) -> Iterator[Any]:
    """A session to inspect the PostgreSQL database the servers share."""
    from core.db import make_engine, make_session_factory

    engine = make_engine(postgresql_url)
    session = make_session_factory(engine)()
    try:
        yield session
    finally:
        session.close()
        engine.dispose()


def test_fifty_parallel_wrong_passwords_over_two_app_processes_lock_exactly_once(
    two_servers, pg_session, ca_settings
):
    """AUTH-1, AUTH-2: 25 clients on each of two app processes, both entry points, PostgreSQL.

    The row lock is the database's, so two processes count no differently from one. Then the
    right password is refused on both processes and not counted (the 60 minutes are the in-process
    test's).
    """
    proxies = [ProxyToServer(server.port) for server in two_servers]
    customer = Customer(
        webtest.TestApp(proxies[0], extra_environ=dict(HTTPS)), pg_session, ca_settings
    )
    pem = registered_master(customer)
    forms = mixed_forms(lambda i: proxies[i * 2 // CLIENTS], pem)  # 25 each, both entries
    since = mark(pg_session)
    answers = race(forms)
    assert_locked_exactly_once(answers, tally(pg_session, since))

    for entry in ENTRIES:
        for proxy in proxies:
            form = password_form(proxy, entry, pem)
            form["password"] = PASSWORD
            assert answer(form.submit().maybe_follow().text) == "locked", (entry, proxy.port)
    after = tally(pg_session, since)
    assert after.outcomes["locked"] == CLIENTS - 6 + 4
    assert (after.failed_count, after.lock_count) == (0, 1)
    assert all(server.process.poll() is None for server in two_servers)  # none died in the race
    assert not [s.log for s in two_servers if "Traceback" in s.log.read_text()]
