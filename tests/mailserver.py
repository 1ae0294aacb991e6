"""Pytest plugin: a real SMTP server (aiosmtpd) on 127.0.0.1 for the mail tests.

Fixtures:

- ``smtp_server``: a :class:`SmtpServer` on a free port that records every message it accepts
  (parsed with ``email.policy.default``) in ``.messages``; ``.stop()`` and ``.start()`` (same port)
  simulate an outage, ``.fail_with = "451 …"`` makes it refuse messages, ``.wait_for(n)`` waits (bounded)
  until ``n`` messages have arrived.
- ``mail_settings``: the raw ``cjs.mail.*`` settings pointing at it, ``cjs.mail.sender = off`` (tests
  drive sending with ``send_due()``; set ``thread`` to test the background thread).

Without aiosmtpd the tests are skipped, or fail when ``CI=true``.
"""

from __future__ import annotations

import contextlib
import email
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from core.settings import validate

HOST = "127.0.0.1"


class _Recorder:
    """aiosmtpd handler: keeps each accepted message, or refuses it with ``fail_with``."""

    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        failure = self._server.fail_with
        if failure:
            return failure
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        message = email.message_from_bytes(content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self._server._record(message, list(envelope.rcpt_tos), envelope.mail_from)
        return "250 Message accepted for delivery"


class SmtpServer:
    """A recording SMTP server on ``HOST:port`` that can be stopped and restarted on the same port."""

    def __init__(self, port: int) -> None:
        self.host = HOST
        self.port = port
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.fail_with: str | None = None
        self._cond = threading.Condition()
        self._controller: Any = None

    def _record(self, message: EmailMessage, rcpt_tos: list[str], mail_from: str) -> None:
        with self._cond:
            self.messages.append(message)
            self.envelopes.append((mail_from, rcpt_tos))
            self._cond.notify_all()

    def start(self) -> None:
        """Listen on the (same) port; retries briefly while the old socket is released."""
        from aiosmtpd.controller import Controller

        deadline = time.monotonic() + 10
        while True:
            controller = Controller(
                _Recorder(self), hostname=self.host, port=self.port, server_hostname="localhost"
            )
            try:
                controller.start()
            except (OSError, RuntimeError):
                with contextlib.suppress(Exception):
                    controller.stop()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
                continue
            self._controller = controller
            return

    def stop(self) -> None:
        """Stop listening: connections are refused until :meth:`start`."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Wait until at least ``count`` messages arrived (at most ``timeout`` s); return them all."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(
                    f"expected {count} message(s) within {timeout} s, got {len(self.messages)}"
                )
            return list(self.messages)

    def message_ids(self) -> list[str]:
        """The Message-ID of every received message, in order of arrival."""
        with self._cond:
            return [str(m["Message-ID"]) for m in self.messages]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A recording SMTP server on 127.0.0.1 and a free port, stopped after the test."""
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        reason = "aiosmtpd is not installed (pip install -e '.[test]')"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    server = SmtpServer(_free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mail_settings(smtp_server: SmtpServer, tmp_path: Path) -> dict[str, str]:
    """Raw ``cjs.mail.*`` settings (strings, as an ini file gives them) pointing at ``smtp_server``,
    with a key for data at rest of this test's own (created at first use: development)."""
    return {
        "cjs.environment": "development",
        "cjs.secrets.key_file": str(tmp_path / "secrets.key"),
        "cjs.mail.smtp_host": smtp_server.host,
        "cjs.mail.smtp_port": str(smtp_server.port),
        "cjs.mail.from": "ろうきん賃金控除事務支援サービス <noreply@cjs.example.jp>",
        "cjs.mail.sender": "off",
        "cjs.mail.poll_seconds": "30",
        "cjs.mail.timeout_seconds": "5",
        "cjs.service_url": "https://cjs.example.jp/",
    }


def parsed(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` validated as the app and the CLI validate theirs (``core.settings.validate``), in
    development (the test CA's passphrase is in the settings); a database URL is added when none is
    given (the sender's tests bring their own session)."""
    return validate({"sqlalchemy.url": "sqlite://", "cjs.environment": "development", **settings})
