"""Emails to users from a screen (SPEC section 7): the plugin API's shortcut to the outbox service."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request

from core.db.models import User
from core.mail.interfaces import IOutbox


def notify_user(request: Request, user: User, template: str, **context: Any) -> None:
    """Queue the mail ``template`` to ``user``'s registered address through the request's
    :class:`~core.mail.interfaces.IOutbox` service; it leaves after commit.

    Code outside a request uses an outbox of its own (``core.mail.services.DatabaseOutbox``).
    """
    request.find_service(IOutbox).notify_user(user, template, **context)
