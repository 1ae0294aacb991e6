"""The audit log: one function records a security-relevant event in the current transaction.

The event commits or rolls back with the change it describes. Nothing secret may be recorded: a detail
whose name suggests a password, code, key, PIN, passphrase or token is refused (fail closed). Nor is
what an anonymous visitor typed as an ID that matched nothing (users type their password into the ID
field): :func:`pseudonym` records it as a keyed hash (#12).

The table is append-only (database triggers refuse UPDATE and DELETE) and tamper-evident: every event
is chained to the one before it by a SHA-256 as it is flushed (:mod:`core.audit.chain`), and
``cjs audit verify`` walks the chain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.audit import chain
from core.db.models import AuditEvent
from core.secrets import keys_for

if TYPE_CHECKING:
    from pyramid.request import Request
    from sqlalchemy.orm import Session

_SECRET_WORDS = frozenset(
    {"password", "passwd", "pwd", "passphrase", "secret", "pin", "token", "otp", "p12", "pkcs12"}
)
_SECRET_NAMES = frozenset({"code", "auth_code", "email_code", "key", "private_key", "cookie"})


def _may_hold_secret(name: str) -> bool:
    lowered = name.lower()
    words = set(re.split(r"[_\-.]", lowered))
    return lowered in _SECRET_NAMES or bool(words & _SECRET_WORDS)


RESULTS = ("success", "failure", "refused")

chain.install()


@dataclass(frozen=True)
class Origin:
    """Where a change came from, as the audit log keeps it: a request's id and client address.

    A job or a loader records without one (both None); a service built for a request gets
    :meth:`of` that request.
    """

    request_id: str | None = None
    client_addr: str | None = None

    @classmethod
    def of(cls, request: Request) -> Origin:
        """The origin of ``request``."""
        return cls(getattr(request, "request_id", None), request.client_addr)


def pseudonym(settings: Mapping[str, Any], typed: str) -> str:
    """What was typed as a user ID or contract number that matched nothing, as the audit keeps it:
    ``hmac:`` and 16 hex digits of HMAC-SHA256 under the audit subkey of ``settings``' key for data
    at rest (``core.secrets``). The same text gives the same pseudonym, so repeated tries stay
    correlatable; the text itself is never stored (#12 item 5)."""
    return keys_for(settings).pseudonym(typed)


class SecretInAuditError(ValueError):
    """A detail that may hold a secret was given to the audit log."""


def record(
    dbsession: Session,
    action: str,
    *,
    actor: str,
    actor_kind: str = "user",
    result: str = "success",
    target: str | None = None,
    contract_no: str | None = None,
    request: Request | Origin | None = None,
    details: Mapping[str, Any] | None = None,
    message: str | None = None,
) -> AuditEvent:
    """Add an audit event to ``dbsession`` (same transaction as the change) and return it.

    ``actor`` is a user ID, a bank staff ID or ``system``; ``actor_kind`` says which (user, bank,
    system, anonymous); ``result`` is success, failure or refused; ``request`` (a request or an
    :class:`Origin`) supplies the request id and client address. ``details`` must not hold secrets: names like password, code or key are
    refused.
    """
    if result not in RESULTS:
        raise ValueError(f"result must be one of {RESULTS}, got {result!r}")
    details = dict(details or {})
    secret_names = [name for name in details if _may_hold_secret(name)]
    if secret_names:
        raise SecretInAuditError(f"audit details may not hold {secret_names[0]!r}")
    event = AuditEvent(
        action=action,
        actor=actor,
        actor_kind=actor_kind,
        result=result,
        target=target,
        contract_no=contract_no,
        request_id=getattr(request, "request_id", None) if request is not None else None,
        client_addr=request.client_addr if request is not None else None,
        details=details,
        message=message,
    )
    dbsession.add(event)
    return event
