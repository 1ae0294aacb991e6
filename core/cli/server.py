"""HTTPS serving with cheroot: TLS with an optional client certificate checked against our CA.

``cjs serve`` serves the application directly over TLS. The server asks every browser for a client
certificate issued by the service's own CA (``cjs.ca.dir``/ca.pem) but does not require one: the top
page must answer without a certificate and explain what to do (AUTH-5). A certificate that does not
chain to our CA aborts the handshake (OpenSSL's alert "unknown ca"); a verified one reaches the
application in the WSGI environ as ``SSL_CLIENT_VERIFY=SUCCESS`` with ``SSL_CLIENT_CERT`` (PEM),
``SSL_CLIENT_M_SERIAL``, ``SSL_CLIENT_S_DN_CN`` and the other mod_ssl style names cheroot sets.

The server certificate lives beside the CA folder, in ``<cjs.ca.dir>/../tls/server.pem`` and
``server-key.pem``. When missing it is issued by our CA for localhost (demo and development); a
certificate placed there by an operator (e.g. from the bank's public CA) is used as it is.

Behind nginx (``cjs serve --behind-proxy``, ``make_server(..., certfile=None)``) the server speaks
plain HTTP on a loopback address and nginx terminates TLS (docs/deployment.md).

``cjs serve --staff`` serves the bank staff's application instead (#14), on its own listener
(``cjs.staff.listen``, on the bank's internal network) with its own public URL
(``cjs.staff.service_url``). There a client certificate of our CA is *required* in the handshake
(a browser without one never gets a request through); the staff app then accepts only a
certificate of the CA's staff profile (``core.staff.accounts``). One process serves one listener:
the customers' and the staff's run as two processes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from pyramid.paster import setup_logging as paster_setup_logging

from core import mail
from core.app import close_app, make_app
from core.pki.ca import client_ca_file, issue_server_certificate
from core.pki.signers import get_signer, load_signer
from core.settings import ConfigurationError

log = logging.getLogger(__name__)

SERVER_CERT_FILE = "server.pem"
SERVER_KEY_FILE = "server-key.pem"
SERVER_HOSTNAMES = ("localhost", "127.0.0.1")
RENEW_BEFORE = dt.timedelta(days=30)


def make_server(
    app: Callable[..., Any],
    host: str,
    port: int,
    certfile: str | Path | None,
    keyfile: str | Path | None = None,
    client_ca_file: str | Path | None = None,
    *,
    numthreads: int = 10,
    shutdown_timeout: int = 5,
    max_body_bytes: int = 0,
    require_client_certificate: bool = False,
) -> wsgi.Server:
    """A cheroot WSGI server for ``app`` on ``host:port`` over TLS 1.2 or newer.

    ``max_body_bytes`` (0: no limit) is cheroot's own limit on a request body: a larger one gets
    cheroot's 413 before the application runs. ``cjs serve`` gives it ``cjs.request.max_upload_bytes``,
    the largest body any screen takes; the request guard enforces the smaller per-screen limits.

    Clients are asked for an optional certificate verified against ``client_ca_file`` (required
    with ``require_client_certificate``: the staff listener). The server is not started: call ``prepare()`` then ``serve()`` (or ``start()``), and ``stop()``.

    With ``certfile=None`` the server speaks plain HTTP, for a TLS proxy (nginx) in front of it on
    a loopback address: the proxy verifies the client certificate and forwards it in headers that
    the application believes only from ``cjs.proxy.trusted`` (``core.security.client_cert``).
    """
    server = wsgi.Server(
        (host, port),
        app,
        numthreads=numthreads,
        request_queue_size=64,
        shutdown_timeout=shutdown_timeout,
    )
    server.max_request_body_size = max_body_bytes
    if certfile is not None:
        if keyfile is None or client_ca_file is None:
            raise ValueError("TLS needs certfile, keyfile and client_ca_file")
        adapter = BuiltinSSLAdapter(str(certfile), str(keyfile))
        context = adapter.context
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_REQUIRED if require_client_certificate else ssl.CERT_OPTIONAL
        context.load_verify_locations(cafile=str(client_ca_file))
        server.ssl_adapter = adapter
    server.error_log = _error_log  # type: ignore[method-assign]
    return server


_server_log = logging.getLogger("core.cli.server.cheroot")


def _error_log(msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
    """cheroot's error log (handshake failures, worker errors) into the ``logging`` module."""
    _server_log.log(level, "%s", msg, exc_info=traceback)


def tls_dir(settings: Mapping[str, Any]) -> Path:
    """The folder of the server certificate and key: ``tls`` beside the CA folder."""
    return Path(settings["cjs.ca.dir"]).parent / "tls"


def client_ca_path(settings: Mapping[str, Any]) -> Path:
    """The CA certificates client certificates may chain to (the bundle during a CA rotation)."""
    path = client_ca_file(settings)
    if not path.exists():
        raise ConfigurationError(f"cjs.ca.dir: no CA certificate {path} (run 'cjs ca init')")
    return path


def _needs_new_certificate(cert_path: Path, ca_certificate: x509.Certificate) -> bool:
    """True when our own server certificate is missing, from an older CA or near its end."""
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return True
    if certificate.issuer != ca_certificate.subject:
        return False  # placed by an operator (another CA): keep it
    try:
        certificate.verify_directly_issued_by(ca_certificate)
    except (ValueError, TypeError, InvalidSignature):
        return True  # issued by an earlier CA of the same name (the CA was re-created)
    return certificate.not_valid_after_utc - dt.datetime.now(dt.UTC) < RENEW_BEFORE


def ensure_server_certificate(
    settings: Mapping[str, Any], signer: Any | None = None
) -> tuple[Path, Path]:
    """Return the server certificate and key paths, issuing them from our CA when needed."""
    folder = tls_dir(settings)
    cert_path, key_path = folder / SERVER_CERT_FILE, folder / SERVER_KEY_FILE
    if signer is None:
        signer = load_signer(settings)
    if key_path.exists() and not _needs_new_certificate(cert_path, signer.ca_certificate):
        return cert_path, key_path
    log.info("issuing the TLS server certificate %s for %s", cert_path, ", ".join(SERVER_HOSTNAMES))
    return issue_server_certificate(signer, list(SERVER_HOSTNAMES), folder)


def url_for(host: str, port: int) -> str:
    """The address to open in a browser (``localhost`` for loopback, as the certificate names)."""
    shown = "localhost" if host in {"127.0.0.1", "localhost", "0.0.0.0", "::", "::1"} else host  # noqa: S104
    if ":" in shown:
        shown = f"[{shown}]"
    return f"https://{shown}/" if port == 443 else f"https://{shown}:{port}/"


class StopRequest:
    """Set by SIGTERM or SIGINT; the main thread polls it (a lock in a handler could deadlock)."""

    def __init__(self) -> None:
        self.signal_name: str | None = None

    def __bool__(self) -> bool:
        return self.signal_name is not None

    def wait(self, poll: float = 0.2) -> str:
        """Sleep until a stop signal arrives; return its name."""
        while self.signal_name is None:
            time.sleep(poll)
        return self.signal_name


@contextmanager
def stop_signals() -> Iterator[StopRequest]:
    """A stop request set by SIGTERM or SIGINT while the block runs; old handlers come back after."""
    stop = StopRequest()

    def handler(signum: int, _frame: FrameType | None) -> None:
        stop.signal_name = signal.Signals(signum).name

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def running(server: wsgi.Server) -> Iterator[threading.Thread]:
    """Bind, serve in a thread, and stop and join it on leaving the block.

    A port that cannot be bound stops the start with one line (:class:`ConfigurationError`).
    """
    try:
        server.prepare()
    except OSError as exc:
        host, port = server.bind_addr[:2]
        reason = str(exc).rpartition("]")[2].strip(" )") or str(exc)
        raise ConfigurationError(f"--port: cannot listen on {host}:{port}: {reason}") from None
    thread = threading.Thread(target=server.serve, name="cheroot", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        server.stop()
        thread.join(timeout=10)


def setup_logging(args: argparse.Namespace) -> None:
    """Configure logging from the ini file's logging sections (as ``pserve`` does)."""
    config = getattr(args, "config", None)
    if config and Path(config).exists():
        paster_setup_logging(config)
    else:
        logging.basicConfig(level=logging.INFO)


#: Where ``cjs serve`` listens without ``--host``/``--port`` (the staff app: ``cjs.staff.listen``).
CUSTOMER_LISTEN = ("127.0.0.1", 8443)


def listen_address(args: argparse.Namespace, settings: Mapping[str, Any]) -> tuple[str, int]:
    """``--host``/``--port`` where given, else the default of the app served."""
    host, port = settings["cjs.staff.listen"] if getattr(args, "staff", False) else CUSTOMER_LISTEN
    return (args.host or host), (args.port or port)


def serve_command(args: argparse.Namespace, settings: Mapping[str, Any]) -> int:
    """``cjs serve``: serve the application over HTTPS until SIGTERM or SIGINT.

    ``--staff`` (``args.staff``): the bank staff's application on ``cjs.staff.listen``, client
    certificates required. ``--behind-proxy`` (``args.behind_proxy``): plain HTTP for nginx in
    front (docs/deployment.md); ``cjs.proxy.trusted`` must name the proxy's address.
    """
    setup_logging(args)
    staff = bool(getattr(args, "staff", False))
    behind_proxy = bool(getattr(args, "behind_proxy", False))
    if behind_proxy and not settings["cjs.proxy.trusted"]:
        raise ConfigurationError(
            "cjs.proxy.trusted: empty, but --behind-proxy needs the TLS proxy's address"
        )
    host, port = listen_address(args, settings)
    app = make_app(settings, kind="staff" if staff else "customer")
    max_body_bytes = settings["cjs.request.max_upload_bytes"]
    if behind_proxy:
        server = make_server(app, host, port, None, max_body_bytes=max_body_bytes)
        shown = f"[{host}]" if ":" in host else host
        description = "plain HTTP behind a TLS proxy trusted at " + " ".join(
            settings["cjs.proxy.trusted"]
        )
        address = f"http://{shown}:{port}/"
    else:
        certfile, keyfile = ensure_server_certificate(settings, get_signer(app.registry))
        server = make_server(
            app,
            host,
            port,
            certfile,
            keyfile,
            client_ca_path(settings),
            max_body_bytes=max_body_bytes,
            require_client_certificate=staff,
        )
        description = "TLS, client certificates " + ("required" if staff else "optional")
        address = url_for(host, port)
    if staff:
        description = "the staff application, " + description
    with stop_signals() as stop, running(server):
        mail.start_sender(app.registry)
        log.info("serving %s (%s)", address, description)
        name = stop.wait()
        log.info("%s received: stopping", name)
    close_app(app)
    log.info("stopped")
    return 0
