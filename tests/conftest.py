"""Fixtures every test of the project uses: databases, the CA, the application.

Databases. Every test that asks for ``db_url`` runs twice, on SQLite and on a real PostgreSQL 15, each
time on a fresh database migrated to head and used by this test only. Migrating is done once per
pytest-xdist worker and backend, into a template; a test gets a copy of the template (a file copy on
SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL), dropped afterwards.

- ``pg_server`` (session): a PostgreSQL server of this worker (:class:`PostgresServer`), started with
  ``initdb``/``pg_ctl`` on a temporary folder and stopped at the end. Without the binaries the tests
  that need it are skipped, or fail when ``CI=true``.
- ``db_url`` (function, parametrized ``sqlite``/``postgresql``): URL of a fresh database at head.
- ``sqlite_url`` / ``postgresql_url`` (function): the same on one backend, not parametrized.
- ``empty_db_url`` (function, parametrized likewise): URL of a fresh database with no tables at all.
- ``dbsession`` (function): a SQLAlchemy session on ``db_url`` for arranging and asserting data; the
  test commits itself. Its transactions never take SQLite's write lock, but a read transaction keeps
  its snapshot on SQLite: ``dbsession.rollback()`` before reading what the app wrote since.

Application. ``ca_settings`` (session): the software CA's settings, the CA created once.
``app_settings`` (function): raw string settings as an ini file gives them, on ``db_url``. ``app``:
``core.make_app(app_settings)``. ``testapp``: a WebTest ``TestApp`` over HTTPS on localhost.

Tests that use PostgreSQL are marked ``postgresql`` (``-m "not postgresql"`` leaves them out).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from core.clock import set_clock

pytest_plugins = ["mailserver", "softhsm"]


def pytest_sessionstart(session: pytest.Session) -> None:
    """Tests hash passwords with argon2id at its cheapest: the production parameters (64 MiB, t=3)
    cost ~50 ms a hash on these 2 cores, and the suite hashes thousands of times. The hashes name
    their parameters, so verification is unaffected; tests/unit/test_passwords.py checks the
    production parameters themselves."""
    import argon2

    import core.auth.passwords

    core.auth.passwords._hasher = argon2.PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


PG_BIN = Path(os.environ.get("CJS_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"
TEMPLATE_DB = "cjs_template"

_PG_VERSIONS = pytest.StashKey[list[str]]()


# --- PostgreSQL server -------------------------------------------------------------------------


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL server: unix socket in ``socket_dir`` and TCP on 127.0.0.1:``port``."""

    bindir: Path
    root: Path
    port: int
    version: str = ""
    _as_postgres: list[str] = field(default_factory=list)

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` on this server, through the unix socket."""
        return f"postgresql+psycopg://{PG_USER}@/{database}?host={self.socket_dir}&port={self.port}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        """A psycopg connection in autocommit mode (CREATE/DROP DATABASE need it); close it."""
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=PG_USER,
            dbname=database,
            autocommit=True,
        )

    def _run(self, *args: str) -> None:
        command = [*self._as_postgres, *args]
        result = subprocess.run(command, cwd=self.root, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self.logfile.read_text() if self.logfile.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}{log[-2000:]}"
            )

    def start(self) -> None:
        """initdb, configure for speed (no durability: a test server), start and wait."""
        self._run(
            str(self.bindir / "initdb"),
            f"--pgdata={self.datadir}",
            f"--username={PG_USER}",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )
        with (self.datadir / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# cjs tests\n"
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
                "max_connections = 200\n"
            )
        self._run(
            str(self.bindir / "pg_ctl"),
            f"--pgdata={self.datadir}",
            f"--log={self.logfile}",
            "--wait",
            "start",
        )
        with self.connect() as connection:
            row = connection.execute("SELECT version()").fetchone()
        self.version = str(row[0]) if row else "?"

    def stop(self) -> None:
        """Stop at once (``-m immediate``); the data is thrown away anyway."""
        with contextlib.suppress(RuntimeError):
            self._run(
                str(self.bindir / "pg_ctl"), f"--pgdata={self.datadir}", "--mode=immediate", "stop"
            )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_unavailable() -> str | None:
    """Why no test server can be started here, or None."""
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL binaries not found in {PG_BIN} (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            return f"running as root and there is no {PG_USER!r} user to run initdb"
    return None


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and PostgreSQL is needed: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest) -> Iterator[PostgresServer]:
    """A PostgreSQL server for this worker; skipped without binaries (failed when CI=true)."""
    reason = _postgres_unavailable()
    if reason:
        _skip_or_fail(reason)
    as_postgres: list[str] = []
    owner = None
    if os.geteuid() == 0:
        # initdb and pg_ctl refuse root; /tmp is traversable by the postgres user.
        as_postgres = ["runuser", "-u", PG_USER, "--"]
        owner = pwd.getpwnam(PG_USER)
    last_error: RuntimeError | None = None
    for _attempt in range(3):
        root = Path(tempfile.mkdtemp(prefix="cjs-pg-", dir="/tmp" if owner else None))
        if owner:
            os.chown(root, owner.pw_uid, owner.pw_gid)
        server = PostgresServer(PG_BIN, root, _free_port(), _as_postgres=as_postgres)
        try:
            server.start()
        except RuntimeError as exc:  # e.g. another worker took the port meanwhile
            last_error = exc
            server.stop()
            shutil.rmtree(root, ignore_errors=True)
            continue
        break
    else:
        _skip_or_fail(f"PostgreSQL test server did not start: {last_error}")
    request.config.stash[_PG_VERSIONS].append(server.version)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def _pg_admin(pg_server: PostgresServer) -> Iterator[psycopg.Connection[Any]]:
    """One autocommit connection to the ``postgres`` database, to create and drop databases."""
    with pg_server.connect() as connection:
        yield connection


@pytest.fixture(scope="session")
def _pg_template(pg_server: PostgresServer, _pg_admin: psycopg.Connection[Any]) -> str:
    """A database migrated to head, once per worker: the template of every test's database."""
    from core.db import migrate as dbmigrate

    _pg_admin.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    dbmigrate.upgrade(pg_server.url(TEMPLATE_DB))
    return TEMPLATE_DB


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, once per worker: copied for every test."""
    from core.db import migrate as dbmigrate

    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite"
    dbmigrate.upgrade(f"sqlite:///{path}")
    return path


_counter = itertools.count(1)


@contextlib.contextmanager
def _fresh_postgresql(
    pg_server: PostgresServer, admin: psycopg.Connection[Any], template: str | None
) -> Iterator[str]:
    """A new database (a copy of ``template``, or empty), dropped afterwards even if still in use."""
    name = f"t_{next(_counter)}"
    source = template or "template0"
    admin.execute(f"CREATE DATABASE {name} TEMPLATE {source}")
    try:
        yield pg_server.url(name)
    finally:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _fresh_sqlite(folder: Path, template: Path | None) -> str:
    """A new SQLite file (a copy of ``template``, or none yet: SQLite creates it on connect)."""
    path = folder / f"cjs-{next(_counter)}.sqlite"
    if template is not None:
        shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def _fresh(request: pytest.FixtureRequest, backend: str, *, migrated: bool) -> Iterator[str]:
    """A fresh database URL for a parametrized fixture; PostgreSQL is started only when needed."""
    if backend == "sqlite":
        template = request.getfixturevalue("_sqlite_template") if migrated else None
        yield _fresh_sqlite(request.getfixturevalue("tmp_path"), template)
        return
    server = request.getfixturevalue("pg_server")
    admin = request.getfixturevalue("_pg_admin")
    pg_template = request.getfixturevalue("_pg_template") if migrated else None
    with _fresh_postgresql(server, admin, pg_template) as url:
        yield url


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a fresh database migrated to head, for this test only; on SQLite and PostgreSQL."""
    yield from _fresh(request, request.param, migrated=True)


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a fresh database with no tables (not migrated); on SQLite and PostgreSQL."""
    yield from _fresh(request, request.param, migrated=False)


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """URL of a fresh SQLite database migrated to head, for this test only."""
    return _fresh_sqlite(tmp_path, _sqlite_template)


@pytest.fixture
def postgresql_url(
    pg_server: PostgresServer, _pg_admin: psycopg.Connection[Any], _pg_template: str
) -> Iterator[str]:
    """URL of a fresh PostgreSQL database migrated to head, for this test only."""
    with _fresh_postgresql(pg_server, _pg_admin, _pg_template) as url:
        yield url


@pytest.fixture
def dbsession(db_url: str) -> Iterator[Any]:
    """A SQLAlchemy session on ``db_url`` to arrange and assert data; commit it yourself."""
    from core.db import make_engine, make_session_factory

    engine = make_engine(db_url, sqlite_begin_immediate=False)  # inspecting never holds the lock
    session = make_session_factory(engine)()
    try:
        yield session
    finally:
        session.close()
        engine.dispose()


# --- CA and application ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def secrets_key_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A key file for data at rest (``cjs.secrets.key_file``), made once per worker, so that
    settings in production mode find it too."""
    from core.secrets import create_key_file

    path = tmp_path_factory.mktemp("secrets") / "secrets.key"
    create_key_file(path)
    return str(path)


@pytest.fixture(scope="session")
def ca_settings(tmp_path_factory: pytest.TempPathFactory, secrets_key_file: str) -> dict[str, str]:
    """The software CA's settings (strings); the CA is created once per worker."""
    from core.pki.ca import init_ca
    from core.settings import validate

    settings = {
        "cjs.secrets.key_file": secrets_key_file,
        "cjs.ca.dir": str(tmp_path_factory.mktemp("ca")),
        "cjs.ca.key_passphrase": "test-ca-passphrase",
        "cjs.ca.signer": "software",
        "cjs.ca.issuer_name": "Rokin-KW CA",
        "cjs.ca.organization": "Rokin-KW",
    }
    init_ca(validate({**settings, "sqlalchemy.url": "sqlite://", "cjs.environment": "development"}))
    return settings


#: CERT-1: the CA signers that tests marked ``signers`` run with, swapped by settings alone.
SIGNERS = ("software", "pkcs11")


@pytest.fixture
def ca_signer() -> str:
    """The app's CA signer: ``software``; a test marked ``signers`` runs once with each of SIGNERS."""
    return "software"


@pytest.fixture
def app_settings(
    db_url: str,
    ca_signer: str,
    ca_settings: dict[str, str],
    secrets_key_file: str,
    request: pytest.FixtureRequest,
) -> dict[str, str]:
    """Raw settings for ``core.make_app``, as an ini file would give them; change them freely.

    The CA is ``ca_settings`` (software), or with ``ca_signer == "pkcs11"`` the CA whose key is on
    the SoftHSM2 token (``pkcs11_settings``, tests/softhsm.py); nothing else differs.
    """
    ca = request.getfixturevalue("pkcs11_settings") if ca_signer == "pkcs11" else ca_settings
    return {
        "sqlalchemy.url": db_url,
        **ca,
        "cjs.secrets.key_file": secrets_key_file,
        "cjs.environment": "development",
        "cjs.hours.always_open": "true",
        "cjs.mail.sender": "off",  # tests send the outbox themselves
        "cjs.cert.key_type": "ec-p256",  # fast; RSA keys are covered in test_certificates.py
        # The public base URL (#12): the clients below speak HTTPS to "localhost"; the guard
        # refuses any other Host.
        "cjs.service_url": "https://localhost/",
        "cjs.staff.service_url": "https://localhost/",
    }


@pytest.fixture
def app(app_settings: dict[str, str]) -> Iterator[Any]:
    """The WSGI application on the test's database; its engine is disposed afterwards."""
    from core.app import make_app

    application = make_app(app_settings)
    try:
        yield application
    finally:
        from core.app import close_app

        close_app(application)


@pytest.fixture
def testapp(app: Any) -> Any:
    """A WebTest client of ``app`` over HTTPS on localhost."""
    import webtest

    return webtest.TestApp(
        app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
    )


# --- Customers: the demo bank configuration, a settable clock, a browser-like client ------------


DEMO_BANK_FILE = Path(__file__).resolve().parents[1] / "demo" / "bank.toml"


@pytest.fixture
def bank(app: Any, app_settings: dict[str, str]) -> None:
    """The demo contracts (10000001 会員 with two deposit groups, 20000001 事業主) in the database."""
    from core.bank.config import apply_file_with_settings
    from core.settings import validate

    apply_file_with_settings(validate(app_settings), DEMO_BANK_FILE)


class Clock:
    """A clock the app reads (``core.clock.set_clock``) that tests move forward."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(app: Any) -> Clock:
    """The app's clock, starting now; ``clock.advance(minutes=61)`` moves it."""
    moment = Clock(dt.datetime.now(dt.UTC))
    set_clock(app.registry, moment)
    return moment


MASTER = {
    "contract_no": "10000001",
    "initial_password": "Demo#001",
    "user_id": "master01",
    "password": "Passw0rd!",
    "user_name": "労金　太郎",
    "email": "taro@example.com",
}


class Customer:
    """Drives the screens as a customer's browser does, through WebTest (forms, redirects, cookies).

    ``use_certificate`` makes every later request carry a client certificate the way the TLS server
    hands it to the app (``SSL_CLIENT_VERIFY`` / ``SSL_CLIENT_CERT``).
    """

    def __init__(self, testapp: Any, dbsession: Any, settings: Any = None) -> None:
        self.app = testapp
        self.db = dbsession
        #: Settings naming the key that seals the outbox (default: the WebTest app's own).
        self.settings = settings

    @classmethod
    def of(cls, app: Any, dbsession: Any) -> Customer:
        """A new browser (its own cookies) on ``app``, over HTTPS on localhost."""
        import webtest

        client = webtest.TestApp(
            app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
        )
        return cls(client, dbsession)

    def register_master(self, **overrides: str) -> Any:
        """FLOW-1 to the result screen; returns it."""
        values = {**MASTER, **overrides}
        page = self.app.get("/register/master").maybe_follow()
        form = page.forms[0]
        form["contract_no"] = values["contract_no"]
        form["initial_password"] = values["initial_password"]
        page = form.submit().maybe_follow()
        form = page.forms[0]
        for name in ("user_id", "password", "user_name", "email"):
            form[name] = values[name]
        form["password_confirm"] = values["password"]
        form["email_confirm"] = values["email"]
        return form.submit().maybe_follow()

    def mail_body(self, row: Any) -> str:
        """The text of an outbox row not yet sent, opened with the app's key (bodies rest sealed)."""
        from core.mail import body_of

        return body_of(row, self.settings or self.app.app.registry.settings)

    def latest_code(self, email: str) -> str:
        """The authentication code in the newest code mail to ``email`` (from the outbox), in
        Japanese or English."""
        import re

        from sqlalchemy import select

        from core.db.models import OutboxMessage

        self.db.rollback()
        row = self.db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.to_addr == email, OutboxMessage.kind == "email_code")
            .order_by(OutboxMessage.id.desc())
        ).first()
        assert row is not None, f"no code mail to {email}"
        match = re.search(r"(?:認証コード：|Authentication code: )(\d{6})", self.mail_body(row))
        assert match is not None
        return match.group(1)

    def start_issue(self, user_id: str, password: str) -> Any:
        """From the top page's 電子証明書発行 through DC586101; returns the next screen."""
        page = self.app.get("/").click(description="電子証明書発行", index=0).maybe_follow()
        form = page.forms[0]
        form["user_id"] = user_id
        form["password"] = password
        return form.submit().maybe_follow()

    def issue(self, user_id: str, password: str, email: str | None = None) -> tuple[bytes, str]:
        """FLOW-2 to the download; returns the PKCS#12 bytes and the file name."""
        page = self.start_issue(user_id, password)
        if "認証コード" in page.text and page.forms and "code" in page.forms[0].fields:
            form = page.forms[0]
            form["code"] = self.latest_code(email or MASTER["email"])
            page = form.submit().maybe_follow()
        page = page.forms[0].submit().maybe_follow()  # 発行
        assert "電子証明書発行中" in page.text, page.text
        page = page.forms["issuing-form"].submit().maybe_follow()  # what its script does
        assert "電子証明書発行結果" in page.text, page.text
        download = self.app.get("/cert/download")
        disposition = download.headers["Content-Disposition"]
        return download.body, disposition.split('filename="')[1].rstrip('"')

    def use_certificate(self, pkcs12: bytes, password: str) -> Any:
        """Present the certificate of ``pkcs12`` on every later request; returns it."""
        from cryptography.hazmat.primitives.serialization import Encoding
        from cryptography.hazmat.primitives.serialization import pkcs12 as p12

        _, certificate, _ = p12.load_key_and_certificates(pkcs12, password.encode())
        assert certificate is not None
        self.app.extra_environ = {
            **self.app.extra_environ,
            "SSL_CLIENT_VERIFY": "SUCCESS",
            "SSL_CLIENT_CERT": certificate.public_bytes(Encoding.PEM).decode(),
        }
        return certificate

    def login(self, password: str) -> Any:
        """FLOW-4 from the ログイン button; returns the screen after the password."""
        page = self.app.get("/login").maybe_follow()
        form = page.forms[0]
        form["password"] = password
        return form.submit().maybe_follow()


@pytest.fixture
def customer(testapp: Any, dbsession: Any, bank: None) -> Customer:
    """A customer's browser on the demo contracts."""
    return Customer(testapp, dbsession)


# --- Hooks: mark PostgreSQL tests, report the server version ------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_PG_VERSIONS] = []
    config.addinivalue_line(
        "markers", "signers: run once with each CA signer (software, pkcs11; pkcs11 on SQLite only)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("signers") and "ca_signer" in metafunc.fixturenames:
        metafunc.parametrize("ca_signer", SIGNERS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, deselected = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("ca_signer") == "pkcs11" and params.get("db_url") == "postgresql":
            deselected.append(item)  # the token variant runs on SQLite only (suite time)
            continue
        if "pg_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgresql)
        kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> str:
    reason = _postgres_unavailable()
    if reason:
        then = "fail (CI=true)" if os.environ.get("CI") == "true" else "are skipped"
        return f"postgresql: {reason}; tests that need it {then}"
    try:
        version = subprocess.run(
            [str(PG_BIN / "postgres"), "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        version = f"postgres --version failed: {exc}"
    return f"postgresql: {version} from {PG_BIN} (one server per worker)"


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: collect the versions of the servers the workers started."""
    output = getattr(node, "workeroutput", None) or {}
    node.config.stash[_PG_VERSIONS].extend(output.get("cjs_pg_versions", []))


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the versions to the controller
        versions = session.config.stash[_PG_VERSIONS]
        workeroutput["cjs_pg_versions"] = list(versions)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    # Tests that count what they tried say so with record_property("cases_tried", line): shown
    # here, also from pytest-xdist workers (the report carries the property).
    tried = [
        f"{report.nodeid}: {value}"
        for report in terminalreporter.stats.get("passed", [])
        for name, value in report.user_properties
        if name == "cases_tried"
    ]
    if tried:
        terminalreporter.write_sep("-", "cases tried")
        for line in tried:
            terminalreporter.write_line(line)
    versions = config.stash[_PG_VERSIONS]
    if versions:
        terminalreporter.write_sep("-", "PostgreSQL")
        for version in sorted(set(versions)):
            count = versions.count(version)
            terminalreporter.write_line(f"{count} test server(s) ran: {version}")
