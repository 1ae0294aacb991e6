"""Emails to users (SPEC section 7), written to the outbox in the current transaction."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request

from core import mail
from core.db.models import User


def notify_user(request: Request, user: User, template: str, **context: Any) -> None:
    """Queue the mail ``template`` to ``user``'s registered address; it leaves after commit."""
    mail.enqueue_for(
        request,
        to=user.email,
        template=template,
        context={"user_id": user.user_id, "user_name": user.name, **context},
    )
