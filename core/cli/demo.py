"""``cjs demo``: everything a demonstration needs, from an empty ``var/`` to a served site.

In order: migrate the (SQLite) database, create the software CA if missing, issue the TLS server
certificate, apply the demo bank file ``demo/bank.toml`` (idempotent), start an SMTP server on
127.0.0.1 that stores every message in the Maildir ``cjs.demo.maildir`` (shown at ``/demo/mail``),
and serve HTTPS asking browsers for an optional client certificate. SIGINT or SIGTERM stops it all.
"""

from __future__ import annotations

import argparse
import logging
import mailbox
import os
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core import mail
from core.app import close_app, make_app
from core.bank import config as bank
from core.bank import loaders, manuals
from core.cli.demo_information import seed_demo_information
from core.cli.demo_staff import DEMO_STAFF_PASSWORD, demo_staff, seed_demo_staff
from core.cli.server import (
    client_ca_path,
    ensure_server_certificate,
    make_server,
    running,
    setup_logging,
    stop_signals,
    url_for,
)
from core.clock import utcnow
from core.db import migrate as dbmigrate
from core.pki import ca
from core.pki.signers import get_signer
from core.pki.x509 import CA_CERT_FILE, ca_dir
from core.settings import ConfigurationError

log = logging.getLogger(__name__)

DEMO_BANK_FILE = Path(__file__).resolve().parents[2] / "demo" / "bank.toml"
SMTP_HOST = "127.0.0.1"
KIND_NAMES = {"member": "会員", "employer": "事業主"}


class MaildirHandler:
    """aiosmtpd handler: each message goes, as received, into a Maildir (nothing only in memory)."""

    def __init__(self, folder: Path) -> None:
        for sub in ("tmp", "new", "cur"):  # Maildir(create=True) skips an existing empty folder
            (folder / sub).mkdir(parents=True, exist_ok=True)
        self.maildir = mailbox.Maildir(folder, factory=None, create=False)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Store the message with its envelope as headers; answer 250 once it is on disk."""
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        recipients = ", ".join(envelope.rcpt_tos)
        envelope_headers = (
            f"Return-Path: <{envelope.mail_from or ''}>\r\nX-Envelope-To: {recipients}\r\n"
        ).encode("utf-8", "replace")
        self.maildir.add((envelope_headers + content).replace(b"\r\n", b"\n"))
        log.info("demo mail stored: from %s to %s", envelope.mail_from, recipients)
        return "250 Message accepted for delivery"


def start_smtp(folder: Path, port: int, host: str = SMTP_HOST) -> Any:
    """Start the demo SMTP server in its own thread; return its aiosmtpd controller (``stop()``)."""
    from aiosmtpd.controller import Controller

    controller = Controller(
        MaildirHandler(folder), hostname=host, port=port, server_hostname="localhost"
    )
    try:
        controller.start()
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ConfigurationError(f"--smtp-port: cannot listen on {host}:{port}: {reason}") from None
    return controller


def _prepare_sqlite_folder(url: str) -> None:
    """SQLite does not create folders: make the database file's folder."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)


def demo_contracts(path: Path = DEMO_BANK_FILE) -> list[dict[str, Any]]:
    """The ``[[contracts]]`` tables of the demo bank file."""
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    return [c for c in data.get("contracts", []) if isinstance(c, dict)]


def prepare(settings: Mapping[str, Any], bank_file: Path = DEMO_BANK_FILE) -> list[str]:
    """Database, CA and demo bank data; returns the bank file's report lines."""
    url = settings["sqlalchemy.url"]
    _prepare_sqlite_folder(url)
    dbmigrate.upgrade(url, settings=settings)
    if settings["cjs.ca.signer"] == "software":
        ca.init_ca(settings)
    if not bank_file.exists():
        raise ConfigurationError(f"{bank_file}: demo bank file not found")
    lines = list(bank.apply_file_with_settings(settings, str(bank_file)))
    lines += manuals.seed_demo_manuals_with_settings(settings)
    lines += seed_demo_information(settings, demo_contracts(bank_file), utcnow())
    lines += loaders.load_demo_files_with_settings(settings)
    lines += seed_demo_staff(settings)
    return lines


def banner(
    settings: Mapping[str, Any],
    url: str,
    staff_url: str,
    smtp_port: int,
    seconds: float,
    bank_file: Path,
) -> str:
    """What the person running the demo needs: URLs, CA to trust, mailbox, contracts, staff."""
    lines = [
        "",
        f"CJS demo ready in {seconds:.1f} s. Stop it with Ctrl+C.",
        f"  URL:            {url}",
        f"  CA certificate: {ca_dir(settings) / CA_CERT_FILE}",
        "                  import it into the browser (or OS) as a trusted root CA for websites",
        "                  and client certificates; certificates issued by the site chain to it.",
        f"  Demo mailbox:   {url}demo/mail",
        f"                  (SMTP 127.0.0.1:{smtp_port}, stored in {settings['cjs.demo.maildir']})",
        f"  Demo contracts ({bank_file}):",
    ]
    for contract in demo_contracts(bank_file):
        kind = str(contract.get("kind", "?"))
        lines.append(
            f"    契約番号 {contract.get('contract_no', '?')}  "
            f"{KIND_NAMES.get(kind, kind)}  "
            f"初期パスワード {contract.get('initial_password', '?')}  "
            f"{contract.get('organisation_name', '')}".rstrip()
        )
    lines += [
        f"  Staff console:  {staff_url}staff/  (a staff certificate is required: import one below)",
        f"  Demo staff (password {DEMO_STAFF_PASSWORD}, which also opens each .p12):",
    ]
    for member in demo_staff(settings):
        lines.append(f"    {member.staff_id:<11} {member.role.label:<4} {member.pkcs12}")
    lines.append("")
    return "\n".join(lines)


def demo_command(args: argparse.Namespace, settings: Mapping[str, Any]) -> int:
    """``cjs demo``: prepare everything, then serve HTTPS and the demo SMTP server until stopped."""
    started = time.monotonic()
    setup_logging(args)
    if settings["cjs.demo"] is not True:
        raise ConfigurationError("cjs.demo: 'cjs demo' needs cjs.demo = true (demo mailbox page)")
    # The app's mail goes to the demo SMTP server, wherever --smtp-port puts it; the demo's public
    # address is where it listens, wherever --host and --port put it.
    smtp_port = args.smtp_port or settings["cjs.mail.smtp_port"]
    url = url_for(args.host, args.port)
    staff_host, staff_port = settings["cjs.staff.listen"]
    staff_port = args.staff_port or staff_port
    staff_url = url_for(staff_host, staff_port)
    settings = {
        **settings,
        "cjs.mail.smtp_port": smtp_port,
        "cjs.service_url": url,
        "cjs.staff.service_url": staff_url,
    }
    with stop_signals() as stop:
        for line in prepare(settings):
            log.info("bank: %s", line)
        if stop:
            return 0
        app = make_app(settings)
        staff_app = make_app(settings, kind="staff")
        certfile, keyfile = ensure_server_certificate(settings, get_signer(app.registry))
        servers = [
            make_server(
                application,
                host,
                port,
                certfile,
                keyfile,
                client_ca_path(settings),
                max_body_bytes=settings["cjs.request.max_upload_bytes"],
                require_client_certificate=application is staff_app,
            )
            for application, host, port in (
                (app, args.host, args.port),
                (staff_app, staff_host, staff_port),
            )
        ]
        controller = start_smtp(Path(settings["cjs.demo.maildir"]), smtp_port)
        try:
            with running(servers[0]), running(servers[1]):
                mail.start_sender(app.registry)
                seconds = time.monotonic() - started
                print(
                    banner(settings, url, staff_url, smtp_port, seconds, DEMO_BANK_FILE), flush=True
                )
                log.info("serving %s and the staff console %s (demo)", url, staff_url)
                log.info("%s received: stopping", stop.wait())
        finally:
            close_app(staff_app)
            close_app(app)
            controller.stop()
    log.info("demo stopped")
    return 0
