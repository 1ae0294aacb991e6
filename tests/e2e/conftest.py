"""End-to-end fixtures: the application served over real TLS, both ways it is deployed.

``deployment`` (function scope, parametrized ``direct`` / ``nginx``, ids the same) gives a
:class:`Deployment`:

- ``mode``: ``"direct"`` — ``core.cli.server.make_server`` (cheroot) serves HTTPS itself with an optional
  client certificate; or ``"nginx"`` — cheroot serves plain HTTP on 127.0.0.1 and a real nginx,
  configured from ``deploy/nginx.conf.template`` (the production template), terminates TLS with
  ``ssl_verify_client optional`` and forwards ``X-SSL-Client-Verify`` / ``X-SSL-Client-Cert`` /
  ``X-Forwarded-Proto``; the app has ``cjs.proxy.trusted = 127.0.0.1``.
- ``base_url``: ``https://localhost:PORT`` (no trailing slash). The server certificate is issued by the
  test CA for ``localhost`` and ``127.0.0.1``.
- ``ca_file``: the test CA's PEM (``Path``): it signed the server certificate and signs the customers'
  client certificates. Trust it in a client (``NODE_EXTRA_CA_CERTS`` for Playwright).
- ``settings``: the app's raw settings (strings); ``app``: the WSGI app (``core.db.get_engine``,
  ``core.clock.set_clock(app.registry, …)`` to move the app's time); ``db_url``: its database (a fresh
  SQLite file by default; ``CJS_E2E_DB=postgresql`` runs on the PostgreSQL test server instead).
- ``smtp``: the ``smtp_server`` fixture's :class:`mailserver.SmtpServer`. The app's mail really goes
  there: outbox + sender thread (``cjs.mail.sender = thread``, poll 1 s).
- The demo contracts (``demo/bank.toml``: 10000001 会員 with two deposit groups, 20000001 事業主)
  are applied with ``core.bank.config`` (once per worker into a template database, copied per test).
- ``app_address``: ``(host, port)`` of cheroot itself (HTTPS when direct, plain HTTP behind nginx).
- ``requests``: every request that reached the application during this test
  (:class:`AppRequest`: method, path, remote address, the proxy/TLS headers it carried), to assert
  that nginx or the TLS handshake stopped one before the app.
- ``nginx``: the :class:`Nginx` process (``conf``, ``access_log``, ``error_log``), or None.

Helpers (stable names: the browser tests use them too):

- ``deployment.read_code(email, timeout=10) -> str``: waits for an authentication-code mail to
  ``email`` at the SMTP server that ``read_code`` has not returned before, and returns the 6-digit
  code of the newest such mail.
- ``deployment.mails(to=None) -> list[EmailMessage]``: the mails received so far.
- ``deployment.client(cert=None, key=None, *, pkcs12=None, password=None) -> TlsClient``: a client
  over real TLS (``http.client`` + ``ssl.SSLContext`` trusting ``ca_file``; ``load_cert_chain`` when
  a certificate is given as PEM files, or as PKCS#12 bytes + password). It keeps cookies, follows
  same-origin redirects, sends ``Origin`` on POST as a browser does, and parses forms:
  ``page = c.get("/register/master")``; ``c.submit(page, {"contract_no": ...})`` posts the form that
  has those fields (hidden ``csrf_token`` included). See :class:`TlsClient` and :class:`Page`.
- ``deployment.save_pkcs12(data, password) -> (cert_path, key_path)``: PEM files from a ``.p12``.
- ``deployment.db()``: a context manager giving a SQLAlchemy session on the app's database (commit
  it yourself).

Servers (cheroot, nginx) live per module and per mode; each test gets a fresh database, SMTP
server and application plugged into them (nothing leaks between tests). Without nginx the
``nginx`` cases are skipped, or fail when ``CI=true``.

Lower level, also stable:

- ``e2e_servers`` (module scope, the parametrized one): :class:`Servers` — ``mode``, ``base_url``,
  ``app_address``, ``slot`` (:class:`AppSlot`: ``slot.app`` is the WSGI app being served; a test
  may plug another one in and must put ``deployment.app`` back), ``nginx``, ``started_in``. One mode
  only: ``@pytest.mark.parametrize("e2e_servers", ["nginx"], indirect=True)``.
- :class:`Nginx`: ``prefix``, ``conf`` (the rendered template), ``error_log``, ``access_log``
  (format ``cjs``: it logs ``verify="$ssl_client_verify"``), ``access_lines()``,
  ``wait_for_access(predicate, start=0, timeout=5)``.
- ``foreign_client_certificates`` (session): PEM files (certificate + key) for master01 from a CA
  copying our CA's name (``"same-name"``) and from a CA of another name (``"other-name"``).
- ``e2e_tls_files`` (session): ``ca_file``, ``server_cert``, ``server_key``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import string
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from core.db import get_session_factory

ROOT = Path(__file__).resolve().parents[2]
NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
DEMO_BANK_FILE = ROOT / "demo" / "bank.toml"
LOOPBACK = "127.0.0.1"
CODE_PATTERN = re.compile(r"(?:認証コード[：:]|Authentication code:)\s*(\d{6})")
MODES = [pytest.param("direct", id="direct"), pytest.param("nginx", id="nginx")]


# --- Module name: pytest imports every conftest.py outside a package as ``conftest`` ------------


def pytest_plugin_registered(plugin: object, manager: pytest.PytestPluginManager) -> None:
    """Give ``import conftest`` back to tests/conftest.py once this file is registered.

    pytest imports each conftest.py outside a package under the one module name ``conftest``, so
    after loading this file ``from conftest import MASTER`` (tests/functional, here) would find this
    module instead of tests/conftest.py. Nothing imports this file by name; its fixtures and helpers
    come through ``deployment``.
    """
    if getattr(plugin, "__file__", None) != __file__:
        return
    top = manager.get_plugin(str(ROOT / "tests" / "conftest.py"))
    if top is not None:
        sys.modules["conftest"] = top


# --- A browser-like client over real TLS -------------------------------------------------------


@dataclass
class Form:
    """An HTML form: ``action`` (absolute or relative), ``method``, its named fields and buttons."""

    action: str
    method: str
    id: str | None
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._form = Form(a.get("action", ""), a.get("method", "get").upper(), a.get("id"))
            self.forms.append(self._form)
            return
        form, name = self._form, a.get("name")
        if form is None or not name:
            return
        kind = a.get("type", "text" if tag == "input" else "submit").lower()
        if tag == "button" or (tag == "input" and kind in {"submit", "image"}):
            form.buttons.append((name, a.get("value", "")))
        elif tag == "input" and kind in {"checkbox", "radio"}:
            if "checked" in a:
                form.fields[name] = a.get("value", "on")
        elif tag == "input" and kind not in {"button", "reset", "file"}:
            form.fields[name] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = name
            form.fields[name] = ""

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea is not None:
            self._form.fields[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None


@dataclass
class Page:
    """A response: ``status``, ``headers`` (``http.client.HTTPMessage``), ``body``, final ``url``,
    ``history`` (the redirects followed to get here), ``text`` and ``forms``."""

    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes
    url: str
    history: list[Page] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def path(self) -> str:
        return urllib.parse.urlsplit(self.url).path

    @property
    def forms(self) -> list[Form]:
        parser = _FormParser()
        parser.feed(self.text)
        parser.close()
        return parser.forms

    def form(self, *fields: str, id: str | None = None) -> Form:
        """The first form with ``id``, or having all of ``fields`` (else the first form)."""
        for candidate in self.forms:
            if id is not None and candidate.id == id:
                return candidate
            if id is None and all(name in candidate.fields for name in fields):
                return candidate
        raise AssertionError(
            f"no form with id={id!r} fields={fields!r} at {self.url}:\n{self.text}"
        )


class TlsClient:
    """A browser-like HTTPS client: one TLS connection per request (the certificate is presented in
    every handshake), a cookie jar, redirects followed within the origin, forms submitted.

    ``cert``/``key``: PEM files of the client certificate (``key`` may be inside ``cert``).
    ``source_address``: the local address to connect from. Connection errors (a refused handshake)
    propagate as ``ssl.SSLError`` / ``ConnectionError``.
    """

    def __init__(
        self,
        base_url: str,
        ca_file: str | Path,
        cert: str | Path | None = None,
        key: str | Path | None = None,
        *,
        timeout: float = 10.0,
        source_address: tuple[str, int] | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        assert parts.scheme == "https" and parts.hostname and parts.port
        self.base_url = base_url.rstrip("/")
        self.host, self.port = parts.hostname, parts.port
        self.context = ssl.create_default_context(cafile=str(ca_file))
        if cert is not None:
            self.context.load_cert_chain(str(cert), str(key) if key else None)
        self.timeout = timeout
        self.source_address = source_address
        self.cookies: dict[str, str] = {}

    # -- requests ---------------------------------------------------------------------------------

    def _target(self, url: str) -> str | None:
        """The path+query of ``url`` if it is on this origin (absolute or relative), else None."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme and (parts.scheme, parts.hostname, parts.port) != (
            "https",
            self.host,
            self.port,
        ):
            return None
        path = parts.path or "/"
        return f"{path}?{parts.query}" if parts.query else path

    def _store_cookies(self, headers: http.client.HTTPMessage) -> None:
        from http.cookies import SimpleCookie

        for header in headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                gone = morsel["max-age"] in {"0", "-1"} or not morsel.value
                if gone:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def request_once(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Page:
        """One request, no redirect followed."""
        target = self._target(url)
        assert target is not None, f"{url} is not on {self.base_url}"
        sent = {"Accept-Language": "ja", "User-Agent": "cjs-e2e"}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method == "POST":
            sent["Origin"] = self.base_url
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        sent.update(headers or {})
        connection = http.client.HTTPSConnection(
            self.host,
            self.port,
            context=self.context,
            timeout=self.timeout,
            source_address=self.source_address,
        )
        try:
            connection.request(method, target, body=body, headers=sent)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        self._store_cookies(response.headers)
        return Page(
            response.status, response.reason, response.headers, data, self.base_url + target
        )

    def request(
        self,
        method: str,
        path: str,
        data: Mapping[str, str] | list[tuple[str, str]] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        follow: bool = True,
    ) -> Page:
        """``method`` ``path`` (form-encoded ``data`` for POST); same-origin redirects followed."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        page = self.request_once(method, path, body, headers)
        history: list[Page] = []
        while follow and page.status in {301, 302, 303, 307, 308} and len(history) < 20:
            location = page.headers.get("Location", "")
            if self._target(urllib.parse.urljoin(page.url, location)) is None:
                break
            history.append(page)
            if page.status in {307, 308}:
                page = self.request_once(method, urllib.parse.urljoin(page.url, location), body)
            else:
                page = self.request_once("GET", urllib.parse.urljoin(page.url, location), None)
        page.history = history
        return page

    def get(self, path: str, **kwargs: Any) -> Page:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: Mapping[str, str] | list[tuple[str, str]], **kw: Any) -> Page:
        return self.request("POST", path, data, **kw)

    def submit(
        self,
        page: Page,
        values: Mapping[str, str] | None = None,
        *,
        form_id: str | None = None,
        button: tuple[str, str] | None = None,
        **kwargs: Any,
    ) -> Page:
        """Fill the form of ``page`` that has the fields of ``values`` (or ``form_id``) and send it
        (hidden fields such as ``csrf_token`` included; ``button`` as (name, value) if pressed)."""
        values = dict(values or {})
        form = page.form(*values, id=form_id)
        fields = {**form.fields, **values}
        pairs = list(fields.items()) + ([button] if button else [])
        action = urllib.parse.urljoin(page.url, form.action or page.url)
        if form.method == "POST":
            return self.request("POST", action, pairs, **kwargs)
        query = urllib.parse.urlencode(pairs)
        return self.request("GET", f"{action.split('?')[0]}?{query}", **kwargs)


# --- nginx ---------------------------------------------------------------------------------------


def nginx_binary() -> str | None:
    """The nginx executable (Debian puts it in /usr/sbin, not always on PATH), or None."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def render_nginx_template(values: Mapping[str, str], template: Path = NGINX_TEMPLATE) -> str:
    """The template with each ``${CJS_...}`` replaced; a placeholder without a value is an error."""
    text = template.read_text()
    wanted = set(re.findall(r"\$\{(CJS_[A-Z0-9_]+)\}", text))
    missing, unknown = wanted - set(values), set(values) - wanted
    assert not missing and not unknown, f"placeholders missing {missing}, unknown {unknown}"
    return string.Template(text).safe_substitute(values)


@dataclass
class Nginx:
    """An nginx from a temporary prefix (``nginx -p PREFIX -c CONF -e ERRLOG -g 'daemon off;'``)."""

    prefix: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    @property
    def access_log(self) -> Path:
        return self.prefix / "access.log"

    def write_conf(self, values: Mapping[str, str]) -> None:
        (self.prefix / "temp").mkdir(parents=True, exist_ok=True)
        self.conf.write_text(render_nginx_template(values))

    def start(self, binary: str, timeout: float = 10.0) -> None:
        """Start in the foreground as a child; return when the port accepts connections."""
        self.process = subprocess.Popen(
            [
                binary,
                "-p",
                str(self.prefix),
                "-c",
                str(self.conf),
                "-e",
                str(self.error_log),
                "-g",
                "daemon off;",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                log = self.error_log.read_text() if self.error_log.exists() else ""
                raise RuntimeError(f"nginx exited with {self.process.returncode}: {stderr}{log}")
            with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, self.port), 0.5):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nginx did not listen on {self.port} within {timeout} s")
            time.sleep(0.01)

    def stop(self) -> None:
        """Fast shutdown (SIGTERM), then SIGKILL if it lingers."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stderr:
            process.stderr.close()

    def workers(self) -> set[int]:
        """The process ids of the master's worker processes now (read from /proc)."""
        assert self.process is not None
        master = str(self.process.pid)
        found = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()  # after "(comm)"
                if fields[1] == master and fields[0] != "Z":  # ppid; a zombie has exited
                    found.add(int(stat.parent.name))
        return found

    def wait_for_workers_gone(self, old: set[int], timeout: float = 10.0) -> None:
        """Wait until none of the ``old`` workers is left: after a reload, the old workers finish
        their connections and exit, and until then one of them may still accept a new one."""
        deadline = time.monotonic() + timeout
        while self.workers() & old:
            assert time.monotonic() < deadline, f"old nginx workers still running after {timeout} s"
            time.sleep(0.02)

    def access_lines(self) -> list[str]:
        """The access log so far (nginx writes each line when the request ends)."""
        return self.access_log.read_text().splitlines() if self.access_log.exists() else []

    def wait_for_access(
        self, predicate: Callable[[str], bool], start: int = 0, timeout: float = 5.0
    ) -> str:
        """The first access log line from line ``start`` on that matches ``predicate``, waiting for
        it (bounded): nginx writes a line as the request ends, maybe after the client read it."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.access_lines()[start:]:
                if predicate(line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no such access log line in {self.access_lines()[start:]}")
            time.sleep(0.02)


# --- The application slot: servers live per module, the app per test ----------------------------


@dataclass(frozen=True)
class AppRequest:
    """A request as it reached the application (after TLS and nginx)."""

    method: str
    path: str
    remote_addr: str
    headers: dict[str, str]


_SEEN_KEYS = (
    "SSL_CLIENT_VERIFY",
    "SSL_CLIENT_CERT",
    "HTTP_X_SSL_CLIENT_VERIFY",
    "HTTP_X_SSL_CLIENT_CERT",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_HOST",
)


class AppSlot:
    """The WSGI callable the servers run: records each request and hands it to the test's app."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None
        self.requests: list[AppRequest] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.requests.append(
            AppRequest(
                environ.get("REQUEST_METHOD", ""),
                environ.get("PATH_INFO", ""),
                environ.get("REMOTE_ADDR", ""),
                {key: str(environ[key]) for key in _SEEN_KEYS if key in environ},
            )
        )
        app = self.app
        if app is None:
            body = b"no application plugged in"
            start_response("503 Service Unavailable", [("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)


@dataclass
class Servers:
    """What one mode runs for a module: cheroot (and nginx), serving :class:`AppSlot`."""

    mode: str
    base_url: str
    app_address: tuple[str, int]
    slot: AppSlot
    nginx: Nginx | None
    started_in: float


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    server_cert: Path
    server_key: Path
    crl_file: Path


@pytest.fixture(scope="session")
def e2e_tls_files(
    ca_settings: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> TlsFiles:
    """The test CA and a server certificate of it for localhost / 127.0.0.1 (once per worker)."""
    from core.pki.ca import issue_server_certificate
    from core.pki.signers import load_signer
    from core.pki.x509 import CA_CERT_FILE, ca_dir
    from core.settings import validate

    settings = validate(
        {**ca_settings, "sqlalchemy.url": "sqlite://", "cjs.environment": "development"}
    )
    folder = tmp_path_factory.mktemp("e2e-tls")
    signer = load_signer(settings)
    cert, key = issue_server_certificate(signer, ["localhost", LOOPBACK], folder)
    return TlsFiles(ca_dir(settings) / CA_CERT_FILE, cert, key, _empty_crl(signer, folder))


def _empty_crl(signer: Any, folder: Path) -> Path:
    """A CRL of the test CA with no entry, for nginx's ``ssl_crl`` (each test's own revocations
    are refused by the app, which reads them from its database; tests/e2e/test_crl_nginx.py shows
    nginx refusing with the service's own CRL)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(signer.ca_certificate.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=2))
        .add_extension(x509.CRLNumber(1), critical=False)
    )
    path = folder / "crl.pem"
    path.write_bytes(signer.sign_crl(builder).public_bytes(Encoding.PEM))
    return path


@contextlib.contextmanager
def _cheroot(app: AppSlot, port: int, tls: TlsFiles | None) -> Iterator[None]:
    from core.cli.server import make_server, running

    if tls is None:
        server = make_server(app, LOOPBACK, port, None, numthreads=10, shutdown_timeout=1)
    else:
        server = make_server(
            app,
            LOOPBACK,
            port,
            tls.server_cert,
            tls.server_key,
            tls.ca_file,
            numthreads=10,
            shutdown_timeout=1,
        )
    server.expiration_interval = 0.05  # its stop() waits for one interval (0.5 s by default)
    with running(server):
        yield


def _nginx_values(nginx: Nginx, app_port: int, tls: TlsFiles) -> dict[str, str]:
    return {
        "CJS_NGINX_USER": pwd.getpwuid(os.geteuid()).pw_name,
        "CJS_NGINX_WORKERS": "1",
        "CJS_NGINX_PID": str(nginx.prefix / "nginx.pid"),
        "CJS_NGINX_ERROR_LOG": str(nginx.error_log),
        "CJS_NGINX_ACCESS_LOG": str(nginx.access_log),
        "CJS_NGINX_TEMP": str(nginx.prefix / "temp"),
        "CJS_APP_ADDRESS": f"{LOOPBACK}:{app_port}",
        "CJS_LISTEN": f"{LOOPBACK}:{nginx.port}",
        "CJS_SERVER_NAME": "localhost",
        "CJS_TLS_CERT": str(tls.server_cert),
        "CJS_TLS_KEY": str(tls.server_key),
        "CJS_CLIENT_CA": str(tls.ca_file),
        "CJS_CRL_FILE": str(tls.crl_file),
    }


@pytest.fixture(scope="module", params=MODES)
def e2e_servers(
    request: pytest.FixtureRequest,
    e2e_tls_files: TlsFiles,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Servers]:
    """cheroot (HTTPS, or HTTP behind nginx) and nginx for one mode, for the module's tests."""
    mode = request.param
    binary = nginx_binary() if mode == "nginx" else None
    if mode == "nginx" and binary is None:
        _skip_or_fail("nginx is not installed (apt-get install nginx)")
    started = time.perf_counter()
    slot = AppSlot()
    with contextlib.ExitStack() as stack:
        app_port = _free_port()
        if mode == "direct":
            stack.enter_context(_cheroot(slot, app_port, e2e_tls_files))
            servers = Servers(
                mode, f"https://localhost:{app_port}", (LOOPBACK, app_port), slot, None, 0.0
            )
        else:
            assert binary is not None
            stack.enter_context(_cheroot(slot, app_port, None))
            prefix = tmp_path_factory.mktemp("nginx")
            for attempt in range(3):  # another worker may take the free port meanwhile
                nginx = Nginx(prefix, _free_port())
                nginx.write_conf(_nginx_values(nginx, app_port, e2e_tls_files))
                try:
                    nginx.start(binary)
                except RuntimeError:
                    if attempt == 2:
                        raise
                    continue
                break
            stack.callback(nginx.stop)
            servers = Servers(
                mode, f"https://localhost:{nginx.port}", (LOOPBACK, app_port), slot, nginx, 0.0
            )
        servers.started_in = time.perf_counter() - started
        yield servers


# --- The deployment ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def e2e_bank_template(
    _sqlite_template: Path, ca_settings: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A SQLite database at head with the demo contracts applied by ``core.bank.config`` (once per worker:
    hashing the initial passwords costs about 0.3 s, too much for every test)."""
    from core.bank.config import apply_file_with_settings
    from core.settings import validate

    path = tmp_path_factory.mktemp("e2e-bank") / "bank.sqlite"
    shutil.copyfile(_sqlite_template, path)
    settings = {
        **ca_settings,
        "sqlalchemy.url": f"sqlite:///{path}",
        "cjs.environment": "development",
    }
    apply_file_with_settings(validate(settings), DEMO_BANK_FILE)
    assert not Path(f"{path}-wal").exists()
    return path


@dataclass
class Deployment:
    """The application over real TLS; see the module docstring for every attribute and helper."""

    mode: str
    base_url: str
    ca_file: Path
    settings: dict[str, str]
    app: Any
    db_url: str
    smtp: Any
    app_address: tuple[str, int]
    requests: list[AppRequest]
    nginx: Nginx | None
    tmp_path: Path
    _codes_read: dict[str, int] = field(default_factory=dict)

    def client(
        self,
        cert: str | Path | None = None,
        key: str | Path | None = None,
        *,
        pkcs12: bytes | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> TlsClient:
        """A :class:`TlsClient` on ``base_url`` trusting ``ca_file``, with a client certificate
        given as PEM files or as PKCS#12 bytes and its password (or none)."""
        if pkcs12 is not None:
            assert password is not None, "the PKCS#12 password is needed"
            cert, key = self.save_pkcs12(pkcs12, password)
        return TlsClient(self.base_url, self.ca_file, cert, key, **kwargs)

    def save_pkcs12(self, data: bytes, password: str) -> tuple[Path, Path]:
        """Write the certificate and key of a ``.p12`` as PEM files; return their paths."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12

        key, certificate, _chain = pkcs12.load_key_and_certificates(data, password.encode())
        assert key is not None and certificate is not None
        stem = self.tmp_path / f"client-{certificate.serial_number:x}"
        cert_path, key_path = stem.with_suffix(".pem"), stem.with_suffix(".key")
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path

    def write_pem(self, name: str, certificate: Any, key: Any) -> Path:
        """A PEM file (certificate, then unencrypted key) in the test's folder, for ``client()``."""
        return write_key_and_certificate(self.tmp_path, name, certificate, key)

    def mails(self, to: str | None = None) -> list[EmailMessage]:
        """The mails received by the SMTP server so far (to ``to`` only, if given)."""
        messages, envelopes = list(self.smtp.messages), list(self.smtp.envelopes)
        pairs = zip(messages, envelopes, strict=False)
        return [m for m, (_from, rcpts) in pairs if to is None or to in rcpts]

    def read_code(self, email: str, timeout: float = 10.0) -> str:
        """Wait for an authentication-code mail to ``email`` not returned before; its 6 digits."""
        deadline = time.monotonic() + timeout
        last = self._codes_read.get(email, -1)
        while True:
            messages, envelopes = list(self.smtp.messages), list(self.smtp.envelopes)
            for index in range(min(len(messages), len(envelopes)) - 1, last, -1):
                if email not in envelopes[index][1]:
                    continue
                body = messages[index].get_body(preferencelist=("plain",))
                match = CODE_PATTERN.search(body.get_content() if body is not None else "")
                if match:
                    self._codes_read[email] = index
                    return match.group(1)
            if time.monotonic() > deadline:
                subjects = [str(m["Subject"]) for m in self.mails(email)]
                raise AssertionError(
                    f"no new authentication-code mail to {email} within {timeout} s "
                    f"(mails to it: {subjects})"
                )
            time.sleep(0.02)

    @contextlib.contextmanager
    def db(self) -> Iterator[Any]:
        """A SQLAlchemy session on the app's database; commit it yourself."""
        session = get_session_factory(self.app.registry)()
        try:
            yield session
        finally:
            session.close()


def _database(request: pytest.FixtureRequest) -> tuple[str, bool]:
    """(URL, demo contracts already applied) of a fresh database for one test."""
    if os.environ.get("CJS_E2E_DB", "sqlite") == "postgresql":
        return request.getfixturevalue("postgresql_url"), False
    url: str = request.getfixturevalue("sqlite_url")
    template: Path = request.getfixturevalue("e2e_bank_template")
    shutil.copyfile(template, url.removeprefix("sqlite:///"))
    return url, True


@pytest.fixture
def deployment(
    request: pytest.FixtureRequest,
    e2e_servers: Servers,
    e2e_tls_files: TlsFiles,
    ca_settings: dict[str, str],
    smtp_server: Any,
    mail_settings: dict[str, str],
    tmp_path: Path,
) -> Iterator[Deployment]:
    """The app over real TLS, ``direct`` or behind ``nginx`` (see the module docstring)."""
    from core.app import close_app, make_app
    from core.bank.config import apply_file_with_settings
    from core.settings import validate

    db_url, bank_applied = _database(request)
    settings = {
        "sqlalchemy.url": db_url,
        **ca_settings,
        "cjs.environment": "development",
        "cjs.hours.always_open": "true",
        **mail_settings,
        "cjs.mail.sender": "thread",
        "cjs.mail.poll_seconds": "1",
        "cjs.service_url": e2e_servers.base_url + "/",
        "cjs.proxy.trusted": LOOPBACK if e2e_servers.mode == "nginx" else "",
    }
    if not bank_applied:
        apply_file_with_settings(validate(settings), DEMO_BANK_FILE)
    app = make_app(settings)
    slot = e2e_servers.slot
    slot.requests = []
    slot.app = app
    try:
        yield Deployment(
            mode=e2e_servers.mode,
            base_url=e2e_servers.base_url,
            ca_file=e2e_tls_files.ca_file,
            settings=settings,
            app=app,
            db_url=db_url,
            smtp=smtp_server,
            app_address=e2e_servers.app_address,
            requests=slot.requests,
            nginx=e2e_servers.nginx,
            tmp_path=tmp_path,
        )
    finally:
        slot.app = None
        close_app(app)


# --- Certificates for the refusal cases ----------------------------------------------------------


def write_key_and_certificate(folder: Path, name: str, certificate: Any, key: Any) -> Path:
    """One PEM file with the certificate then its private key (for ``load_cert_chain``)."""
    from cryptography.hazmat.primitives import serialization

    path = folder / f"{name}.pem"
    path.write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _foreign_certificate(folder: Path, name: str, ca_common_name: str) -> Path:
    """A client certificate for master01 issued by a throwaway CA called ``ca_common_name``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Rokin-KW"),
            x509.NameAttribute(NameOID.COMMON_NAME, ca_common_name),
        ]
    )
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "10000001"),
            x509.NameAttribute(NameOID.COMMON_NAME, "master01"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return write_key_and_certificate(folder, name, certificate, key)


@pytest.fixture(scope="session")
def foreign_client_certificates(
    ca_settings: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """PEM files (certificate + key) of client certificates for master01 from foreign CAs:
    ``"same-name"`` — a CA that copies our CA's name (issuer found, signature wrong);
    ``"other-name"`` — a CA of another name (issuer unknown)."""
    folder = tmp_path_factory.mktemp("foreign")
    return {
        "same-name": _foreign_certificate(folder, "same-name", ca_settings["cjs.ca.issuer_name"]),
        "other-name": _foreign_certificate(folder, "other-name", "Other Rokin CA"),
    }


__all__ = [
    "AppRequest",
    "Deployment",
    "Form",
    "Nginx",
    "Page",
    "TlsClient",
    "render_nginx_template",
]
