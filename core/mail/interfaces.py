"""The mail service's interface: what a view, a job, a loader or a staff screen asks for."""

from __future__ import annotations

from zope.interface import Interface


class IOutbox(Interface):
    """Mail written to the outbox in the caller's database transaction; it leaves after commit.

    In a request: ``request.find_service(IOutbox)``. Elsewhere (a job, a loader):
    ``core.mail.services.DatabaseOutbox(dbsession, settings)``.
    """

    def send(*, to, template, context):
        """Queue the mail ``template`` to the address ``to``; return the outbox row."""

    def notify_user(user, template, **context):
        """Queue the mail ``template`` to ``user``'s registered address, with its ID and name."""
