"""The demo mailbox (demo only): the mail the demo SMTP server received, newest first.

``cjs demo`` runs an SMTP server that stores every message in the Maildir ``cjs.demo.maildir``; this
page shows that folder, so a demo needs no mail account to read authentication codes. The route
exists only when ``cjs.demo`` is true.
"""

from __future__ import annotations

import datetime as dt
import email
import mailbox
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request

from core import timefmt

MAX_MESSAGES = 200


@dataclass(frozen=True)
class ShownMessage:
    """One received message as the page shows it."""

    received: dt.datetime
    date: str
    sender: str
    to: str
    subject: str
    body: str


def _body_text(message: EmailMessage) -> str:
    """The decoded text of the plain part (else the HTML part as its source, else nothing)."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        return str(part.get_content())
    except (LookupError, ValueError):  # unknown charset, broken transfer encoding
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):  # a header the parser cannot decode
        return ""
    return "" if value is None else str(value)


def _date(message: EmailMessage, received: dt.datetime) -> str:
    """The Date header in Japan time, else the time the demo SMTP server stored the message."""
    when = received
    header = message.get("date")
    parsed = getattr(header, "datetime", None)
    if isinstance(parsed, dt.datetime) and parsed.tzinfo is not None:
        when = parsed
    return timefmt.dashed(when)


def read_messages(folder: Path, limit: int = MAX_MESSAGES) -> list[ShownMessage]:
    """Parse the messages of the Maildir ``folder``, newest delivery first (at most ``limit``)."""
    if not (folder / "cur").is_dir() and not (folder / "new").is_dir():
        return []
    maildir = mailbox.Maildir(folder, factory=None, create=False)
    found: list[ShownMessage] = []
    for key in maildir.iterkeys():
        try:
            delivered = maildir.get_message(key).get_date()
            data = maildir.get_bytes(key)
        except (KeyError, OSError):  # removed meanwhile
            continue
        message = email.message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        received = dt.datetime.fromtimestamp(delivered, dt.UTC)
        found.append(
            ShownMessage(
                received=received,
                date=_date(message, received),
                sender=_header(message, "from"),
                to=_header(message, "to"),
                subject=_header(message, "subject"),
                body=_body_text(message),
            )
        )
    found.sort(key=lambda m: m.received, reverse=True)
    return found[:limit]


def demo_mail(request: Request) -> dict[str, Any]:
    """デモ用メールボックス: every message the demo SMTP server stored, newest first."""
    folder = Path(request.registry.settings["cjs.demo.maildir"])
    return {"messages": read_messages(folder), "maildir": str(folder)}


def includeme(config: Configurator) -> None:
    """Add the ``demo_mail`` route at ``/demo/mail``, only in demo mode (``cjs.demo``)."""
    if config.get_settings().get("cjs.demo") is not True:
        return
    config.add_route("demo_mail", "/demo/mail")
    config.add_view(
        demo_mail,
        route_name="demo_mail",
        renderer="demo_mail.html",
        request_method="GET",
        service_hours_exempt=True,  # a tool of the demonstrator, not a customer screen (AUTH-7)
    )
