"""The outbox service (:class:`~core.mail.interfaces.IOutbox`) and its registration.

A request's outbox writes in ``request.dbsession`` and wakes the process's sender when the request's
transaction commits; a job's outbox, built with its own session, leaves the sending to the sender's
next pass (or to the job's own pass).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from zope.interface import implementer

from core.hookspecs import MailTemplate
from core.mail import TEMPLATES, OutboxSender, all_templates, enqueue, sender_for, wake_after_commit
from core.mail.interfaces import IOutbox

if TYPE_CHECKING:
    import transaction.interfaces
    from pyramid.config import Configurator
    from pyramid.request import Request
    from sqlalchemy.orm import Session

    from core.db.models import OutboxMessage, User


@implementer(IOutbox)
class DatabaseOutbox:
    """Mail into the ``outbox`` table of ``dbsession``, rendered with the validated ``settings``
    from ``templates`` (default: the core's; pass ``core.mail.all_templates(registry)`` for the
    modules' too).

    With a ``sender`` and its ``transaction_manager``, the sender is woken after that transaction
    commits (nothing on abort).
    """

    def __init__(
        self,
        dbsession: Session,
        settings: Mapping[str, Any],
        *,
        sender: OutboxSender | None = None,
        transaction_manager: transaction.interfaces.ITransactionManager | None = None,
        templates: Mapping[str, MailTemplate] = TEMPLATES,
    ) -> None:
        self.dbsession = dbsession
        self.settings = settings
        self.templates = templates
        self.sender = sender
        self.transaction_manager = transaction_manager

    def send(self, *, to: str, template: str, context: Mapping[str, Any]) -> OutboxMessage:
        """Queue the mail ``template`` to ``to``; it leaves only if the transaction commits."""
        message = enqueue(
            self.dbsession,
            to=to,
            template=template,
            context=context,
            settings=self.settings,
            templates=self.templates,
        )
        if self.sender is not None:
            txn = self.transaction_manager.get() if self.transaction_manager is not None else None
            wake_after_commit(self.sender, txn)
        return message

    def notify_user(self, user: User, template: str, **context: Any) -> OutboxMessage:
        """Queue the mail ``template`` to ``user``'s registered address (SPEC section 7)."""
        return self.send(
            to=user.email,
            template=template,
            context={"user_id": user.user_id, "user_name": user.name, **context},
        )


def outbox_for_request(_context: Any, request: Request) -> DatabaseOutbox:
    """The request's outbox: its database session, the app's settings, sender and mail templates."""
    return DatabaseOutbox(
        request.dbsession,
        request.registry.settings,
        sender=sender_for(request.registry),
        transaction_manager=request.tm,
        templates=all_templates(request.registry),
    )


def includeme(config: Configurator) -> None:
    """Register :class:`IOutbox` for requests (needs ``pyramid_services``)."""
    config.register_service_factory(outbox_for_request, IOutbox)
