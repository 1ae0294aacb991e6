"""#12 item 5: an ID typed by an anonymous visitor that matches nothing is audited as a pseudonym.

Users type their password into the user-ID field at DC586101 by mistake; the audit trail must not keep
it. It keeps ``hmac:`` and 16 hex digits (a keyed hash, ``core.audit.pseudonym``): the same text gives
the same pseudonym, so an operator still sees repeated tries of one text; nothing typed is stored.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core import audit
from core.db.models import AuditEvent

MASTER_PASSWORD = "Passw0rd!"


def _events(dbsession: Any, action: str) -> list[AuditEvent]:
    dbsession.rollback()
    return list(
        dbsession.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def _columns(event: AuditEvent) -> str:
    return " ".join(
        str(getattr(event, column))
        for column in ("actor", "target", "contract_no", "details", "message")
    )


def test_a_password_typed_as_user_id_at_dc586101_is_audited_as_a_pseudonym(
    customer: Any, dbsession: Any, app_settings: dict[str, str]
) -> None:
    """#12, DC586101: twice a password in the ID field, once another unknown ID: two pseudonyms,
    the same for the two equal tries; the known master's own events keep its user ID."""
    customer.register_master()
    customer.app.reset()
    for typed in (MASTER_PASSWORD, MASTER_PASSWORD, "nobody99"):
        page = customer.start_issue(typed, MASTER_PASSWORD)
        assert "ユーザーIDまたはパスワードが正しくありません。" in page.text

    events = _events(dbsession, "issue.password.unknown_user")

    assert [e.actor for e in events] == [
        audit.pseudonym(app_settings, MASTER_PASSWORD),
        audit.pseudonym(app_settings, MASTER_PASSWORD),
        audit.pseudonym(app_settings, "nobody99"),
    ]
    assert events[0].actor != events[2].actor
    assert all(e.actor.startswith("hmac:") and e.actor_kind == "anonymous" for e in events)
    for event in events:
        assert MASTER_PASSWORD.lower() not in _columns(event).lower()
        assert "nobody99" not in _columns(event)
    registered = _events(dbsession, "register.master")
    assert registered and registered[0].actor == "master01"


def test_an_unknown_contract_number_at_dc583101_is_audited_as_a_pseudonym(
    customer: Any, dbsession: Any, app_settings: dict[str, str]
) -> None:
    """#12, DC583101: a contract number that names no contract is typed text too."""
    page = customer.app.get("/register/master").maybe_follow()
    form = page.forms[0]
    form["contract_no"] = "99999999"
    form["initial_password"] = "Demo#001"
    page = form.submit().maybe_follow()
    assert "契約番号または初期パスワードが正しくありません。" in page.text

    [event] = _events(dbsession, "register.initial_password")

    assert event.actor == audit.pseudonym(app_settings, "99999999")
    assert "99999999" not in _columns(event)
