"""The outbox service (:class:`~core.mail.interfaces.IOutbox`) and its registration.

A request's outbox writes in ``request.dbsession`` and wakes the process's sender when the request's
transaction commits; a job's outbox, built with its own session, leaves the sending to the sender's
next pass (or to the job's own pass).

Each mail is written once, in one language (SPEC 8, docs/emails.md): the language of the request
that caused it when that request is the recipient's own (the customer logged in, or identified by
the flow before login: :meth:`DatabaseOutbox.notify_requester`); otherwise (a job, the master's or
the bank's action on another user, a failed password) the recipient's last-used language,
``users.language``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from zope.interface import implementer

from core.db.models import User
from core.hookspecs import MailTemplate
from core.i18n import DEFAULT_LOCALE
from core.mail import TEMPLATES, OutboxSender, all_templates, enqueue, sender_for, wake_after_commit
from core.mail.interfaces import IOutbox

if TYPE_CHECKING:
    import transaction.interfaces
    from pyramid.config import Configurator
    from pyramid.request import Request
    from sqlalchemy.orm import Session

    from core.db.models import OutboxMessage


@implementer(IOutbox)
class DatabaseOutbox:
    """Mail into the ``outbox`` table of ``dbsession``, rendered with the validated ``settings``
    from ``templates`` (default: the core's; pass ``core.mail.all_templates(registry)`` for the
    modules' too).

    With a ``sender`` and its ``transaction_manager``, the sender is woken after that transaction
    commits (nothing on abort). ``request`` is the request the outbox serves (None for a job or a
    loader): its language is the language of the mails its customer causes for themselves.
    """

    def __init__(
        self,
        dbsession: Session,
        settings: Mapping[str, Any],
        *,
        sender: OutboxSender | None = None,
        transaction_manager: transaction.interfaces.ITransactionManager | None = None,
        templates: Mapping[str, MailTemplate] = TEMPLATES,
        request: Request | None = None,
    ) -> None:
        self.dbsession = dbsession
        self.settings = settings
        self.templates = templates
        self.sender = sender
        self.transaction_manager = transaction_manager
        self.request = request

    def send(
        self,
        *,
        to: str,
        template: str,
        context: Mapping[str, Any],
        language: str = DEFAULT_LOCALE,
    ) -> OutboxMessage:
        """Queue the mail ``template`` to ``to`` in ``language`` (default: Japanese; the
        ``notify_*`` methods choose it for a user); it leaves only if the transaction commits."""
        message = enqueue(
            self.dbsession,
            to=to,
            template=template,
            context=context,
            settings=self.settings,
            templates=self.templates,
            locale=language,
        )
        if self.sender is not None:
            txn = self.transaction_manager.get() if self.transaction_manager is not None else None
            wake_after_commit(self.sender, txn)
        return message

    def notify_user(self, user: User, template: str, **context: Any) -> OutboxMessage:
        """Queue the mail ``template`` to ``user``'s registered address (SPEC section 7).

        In the request's language when ``user`` is the customer logged in on it (their own
        action), otherwise in ``user``'s last-used language.
        """
        if self._logged_in_as(user):
            return self.notify_requester(user, template, **context)
        return self._to(user, template, user.language or DEFAULT_LOCALE, context)

    def notify_requester(self, user: User, template: str, **context: Any) -> OutboxMessage:
        """Queue the mail ``template`` to ``user``, the customer whose own request this is, in the
        request's language, which becomes ``user``'s last-used one.

        For the flows before login that have proved who is asking (the certificate issuance's
        code and certificate, the master's own registration); outside a request, as
        :meth:`notify_user`.
        """
        if self.request is None:
            return self._to(user, template, user.language or DEFAULT_LOCALE, context)
        language = self.request.locale_name
        if user.language != language:
            user.language = language
        return self._to(user, template, language, context)

    def _to(
        self, user: User, template: str, language: str, context: Mapping[str, Any]
    ) -> OutboxMessage:
        return self.send(
            to=user.email,
            template=template,
            context={"user_id": user.user_id, "user_name": user.name, **context},
            language=language,
        )

    def _logged_in_as(self, user: User) -> bool:
        """Whether the request is the logged-in customer ``user``'s own (not the staff console's)."""
        if self.request is None:
            return False
        logged_in = getattr(self.request.identity, "user", None)
        return isinstance(logged_in, User) and logged_in.id == user.id


def outbox_for_request(_context: Any, request: Request) -> DatabaseOutbox:
    """The request's outbox: its database session, the app's settings, sender and mail templates."""
    return DatabaseOutbox(
        request.dbsession,
        request.registry.settings,
        sender=sender_for(request.registry),
        transaction_manager=request.tm,
        templates=all_templates(request.registry),
        request=request,
    )


def includeme(config: Configurator) -> None:
    """Register :class:`IOutbox` for requests (needs ``pyramid_services``)."""
    config.register_service_factory(outbox_for_request, IOutbox)
