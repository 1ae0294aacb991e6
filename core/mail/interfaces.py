"""The mail service's interface: what a view, a job, a loader or a staff screen asks for."""

from __future__ import annotations

from zope.interface import Interface


class IOutbox(Interface):
    """Mail written to the outbox in the caller's database transaction; it leaves after commit.

    In a request: ``request.find_service(IOutbox)``. Elsewhere (a job, a loader):
    ``core.mail.services.DatabaseOutbox(dbsession, settings)``. Each mail is written once, in one
    language (docs/emails.md, "The mail's language").
    """

    def send(*, to, template, context, language="ja"):
        """Queue the mail ``template`` to the address ``to`` in ``language`` (default: Japanese);
        return the outbox row."""

    def notify_user(user, template, **context):
        """Queue the mail ``template`` to ``user``'s registered address, with its ID and name: in
        the request's language when ``user`` is the customer logged in, else in ``user``'s
        last-used language."""

    def notify_requester(user, template, **context):
        """Queue the mail ``template`` to ``user``, the customer whose own request this is (a flow
        before login that proved it), in the request's language."""
