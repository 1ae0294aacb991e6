"""Server-side sessions in the database (AUTH-6): survive restarts, shared by every app process.

The browser holds only a random token in a ``__Host-`` cookie (Secure, HttpOnly, SameSite=Strict);
the database holds its SHA-256, the session data and the times. A session expires after the idle
limit (60 minutes by default, reset by every request: see :data:`TOUCH_GRANULARITY`) and after an
absolute limit (12 hours). Its row is written in the request's transaction, and only when something
changed: a request that changes nothing writes nothing. Values that must never rest in clear (the
PKCS#12 password of an issuance flow, the issued file) are *sealed*: encrypted under a key derived
from the cookie token, which the server does not store.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pyramid.config import Configurator
from pyramid.interfaces import ISession
from pyramid.request import Request
from pyramid.response import Response
from sqlalchemy import delete, inspect, select
from zope.interface import implementer

from core import clock
from core.clock import utcnow
from core.db import get_session_factory
from core.db.models import WebSession

COOKIE_NAME = "__Host-cjs_session"
#: The staff application's session cookie (its own name, its own rows: ``web_sessions.app``).
STAFF_COOKIE_NAME = "__Host-cjs_staff_session"
_SEALED = "_sealed"
_FLASH = "_f_"
_CSRF = "_csrft_"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _seal_key(token: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"cjs session seal").derive(
        token.encode()
    )


@implementer(ISession)
class DatabaseSession(dict[str, Any]):
    """A Pyramid session whose data lives in the ``web_sessions`` table.

    A session with nothing in it writes nothing: the row and the cookie are created on the first
    change. ``expired`` is true when the browser presented a session that had timed out.
    """

    def __init__(
        self,
        request: Request,
        row: WebSession | None,
        token: str | None,
        *,
        app: str = "customer",
        cookie_name: str = COOKIE_NAME,
    ) -> None:
        super().__init__(row.data if row is not None else {})
        self._request = request
        self._row = row
        self._token = token
        self._app = app
        self._cookie_name = cookie_name
        self._cookie_callback = False
        self.expired = False
        self.new = row is None
        self.created = row.created_at.timestamp() if row is not None else time.time()
        self._seal_keys: dict[str, bytes] = {}  # token → derived key, for this request only

    # -- persistence --------------------------------------------------------------------------

    def changed(self) -> None:
        """Write the data to the session row (created on first change), in this transaction."""
        if self._row is None:
            self._token = secrets.token_urlsafe(32)
            now = clock.now(self._request.registry)
            self._row = WebSession(
                token_hash=_token_hash(self._token),
                app=self._app,
                data={},
                created_at=now,
                last_seen_at=now,
            )
            self._request.dbsession.add(self._row)
            self._set_cookie_later()
        self._row.data = dict(self)

    def _set_cookie_later(self) -> None:
        if not self._cookie_callback:
            self._cookie_callback = True
            self._request.add_response_callback(self._set_cookie)

    def _set_cookie(self, request: Request, response: Response) -> None:
        token = self._token if self._row is not None else None
        response.set_cookie(
            self._cookie_name, token, path="/", secure=True, httponly=True, samesite="Strict"
        )

    def invalidate(self) -> None:
        """End the session at once: its row is deleted and the browser's cookie cleared.

        The row is deleted in the request's transaction and, should that transaction abort (the
        forbidden view after a failed identity check does), again in a transaction of its own once
        the request is over.
        """
        if self._row is not None:
            self._request.dbsession.delete(self._row)
            token_hash = self._row.token_hash
            self._request.add_finished_callback(lambda request: _delete_row(request, token_hash))
        self._row = None
        self._token = None
        dict.clear(self)
        self._set_cookie_later()

    def rotate(self) -> None:
        """Give the session a new token (at login), keeping its data and re-sealing sealed values."""
        if self._row is None:
            self.changed()
            return
        sealed = {name: self.unseal(name) for name in dict.get(self, _SEALED, {})}
        self._token = secrets.token_urlsafe(32)
        self._row.token_hash = _token_hash(self._token)
        dict.pop(self, _SEALED, None)
        for name, value in sealed.items():
            if value is not None:
                self.seal(name, value)
        self.changed()
        self._set_cookie_later()

    def bind_user(self, user_pk: int | None) -> None:
        """Record whose session this is, so that deleting or revoking the user can end it."""
        self.changed()
        assert self._row is not None
        self._row.user_pk = user_pk

    def bind_staff(self, staff_pk: int) -> None:
        """Record which staff member's session this is, so that locking or revoking ends it."""
        self.changed()
        assert self._row is not None
        self._row.staff_pk = staff_pk

    # -- sealed values ------------------------------------------------------------------------

    def seal(self, name: str, value: str) -> None:
        """Keep ``value`` encrypted under the cookie token's key (never in clear at rest)."""
        if self._token is None:
            self.changed()
        assert self._token is not None
        nonce = secrets.token_bytes(12)
        box = AESGCM(self._key()).encrypt(nonce, value.encode(), name.encode())
        sealed = dict(dict.get(self, _SEALED, {}))
        sealed[name] = base64.b64encode(nonce + box).decode()
        self[_SEALED] = sealed

    def unseal(self, name: str) -> str | None:
        """The sealed value ``name``, or None when absent or undecryptable."""
        blob = dict.get(self, _SEALED, {}).get(name)
        if blob is None or self._token is None:
            return None
        raw = base64.b64decode(blob)
        try:
            return AESGCM(self._key()).decrypt(raw[:12], raw[12:], name.encode()).decode()
        except InvalidTag:
            return None

    def _key(self) -> bytes:
        assert self._token is not None
        key = self._seal_keys.get(self._token)
        if key is None:
            key = self._seal_keys[self._token] = _seal_key(self._token)
        return key

    def discard_sealed(self, name: str) -> None:
        """Forget a sealed value (wipe it from the session row)."""
        sealed = dict(dict.get(self, _SEALED, {}))
        if sealed.pop(name, None) is not None:
            self[_SEALED] = sealed

    # -- dict mutations mark the session changed ----------------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.changed()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.changed()

    def pop(self, key: str, *default: Any) -> Any:
        present = key in self
        value = super().pop(key, *default)
        if present:
            self.changed()
        return value

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self.changed()

    def clear(self) -> None:
        super().clear()
        self.changed()

    def popitem(self) -> tuple[str, Any]:
        item = super().popitem()
        self.changed()
        return item

    # -- flash messages and CSRF token (ISession) ---------------------------------------------

    def flash(self, msg: Any, queue: str = "", allow_duplicate: bool = True) -> None:
        """Queue a message for the next screen."""
        messages = list(dict.get(self, _FLASH + queue, []))
        if allow_duplicate or msg not in messages:
            messages.append(msg)
            self[_FLASH + queue] = messages

    def pop_flash(self, queue: str = "") -> list[Any]:
        """Take the queued messages."""
        return list(self.pop(_FLASH + queue, []))

    def peek_flash(self, queue: str = "") -> list[Any]:
        """Look at the queued messages without taking them."""
        return list(dict.get(self, _FLASH + queue, []))

    def new_csrf_token(self) -> str:
        """A new CSRF token, kept in the session."""
        token = secrets.token_hex(32)
        self[_CSRF] = token
        return token

    def get_csrf_token(self) -> str:
        """The session's CSRF token, created when missing."""
        token = dict.get(self, _CSRF)
        return token if token is not None else self.new_csrf_token()


def _delete_row(request: Request, token_hash: str) -> None:
    """Delete a session row in a transaction of its own (after the request's has ended)."""
    session = get_session_factory(request.registry)()
    try:
        with session.begin():
            session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))
    finally:
        session.close()


#: A request this soon after the recorded last activity leaves it as it is: a page and its redirect
#: or download then cost no write. The idle limit is thus counted from at most this long before the
#: last request: a session may end up to 5 seconds early, never late (fail closed).
TOUCH_GRANULARITY = dt.timedelta(seconds=5)


def _touch(row: WebSession, now: dt.datetime) -> None:
    """Record the request's time as the session's last activity (unless the row was deleted).

    Skipped when the recorded time is less than :data:`TOUCH_GRANULARITY` old.
    """
    state = inspect(row)
    if state.session is None or row in state.session.deleted or state.was_deleted:
        return  # ended in this request (logout, timeout, refused identity)
    if now - row.last_seen_at >= TOUCH_GRANULARITY:
        row.last_seen_at = now


def session_factory_for(
    idle: dt.timedelta,
    absolute: dt.timedelta,
    clock: Callable[[], dt.datetime],
    *,
    app: str = "customer",
    cookie_name: str = COOKIE_NAME,
) -> Callable[[Request], DatabaseSession]:
    """A Pyramid session factory with the given idle and absolute limits, for the ``app``
    application's sessions (``customer`` or ``staff``) in the cookie ``cookie_name``.

    An application reads only its own rows: a customer's token sent to the staff application is
    unknown there, and the other way round.
    """

    def new_session(request: Request, row: WebSession | None, token: str | None) -> DatabaseSession:
        return DatabaseSession(request, row, token, app=app, cookie_name=cookie_name)

    def factory(request: Request) -> DatabaseSession:
        token = request.cookies.get(cookie_name)
        row = None
        if token:
            row = request.dbsession.scalars(
                select(WebSession).where(
                    WebSession.token_hash == _token_hash(token), WebSession.app == app
                )
            ).one_or_none()
        if row is None:
            session = new_session(request, None, None)
            if token:
                session._set_cookie_later()  # an unknown token: clear the stale cookie
            return session
        now = clock()
        if now - row.last_seen_at >= idle or now - row.created_at >= absolute:
            request.dbsession.delete(row)
            session = new_session(request, None, None)
            session.expired = True
            session._set_cookie_later()
            return session
        # AUTH-6: every request resets the idle time (to within TOUCH_GRANULARITY). Written when
        # the transaction commits, in the same UPDATE as any change to the data (set now, the first
        # query would flush it apart).
        request.tm.get().addBeforeCommitHook(_touch, (row, now))
        return new_session(request, row, token)

    return factory


def end_sessions_of(dbsession: Any, user_pk: int) -> None:
    """End every session of a user at once (logout elsewhere, deletion, revocation, block)."""
    dbsession.execute(delete(WebSession).where(WebSession.user_pk == user_pk))


def end_staff_sessions_of(dbsession: Any, staff_pk: int) -> None:
    """End every session of a staff member at once (lock, block, revocation, role change)."""
    dbsession.execute(delete(WebSession).where(WebSession.staff_pk == staff_pk))


def delete_expired(dbsession: Any, limits: Mapping[str, tuple[dt.timedelta, dt.timedelta]]) -> int:
    """Remove the sessions past either limit of their application (``limits``: the application,
    ``customer`` or ``staff``, → its idle and absolute limits); return how many (the daily job).
    A session of an application not named is kept."""
    now = utcnow()
    deleted = 0
    for app, (idle, absolute) in limits.items():
        result = dbsession.execute(
            delete(WebSession).where(
                WebSession.app == app,
                (WebSession.last_seen_at <= now - idle) | (WebSession.created_at <= now - absolute),
            )
        )
        deleted += int(result.rowcount or 0)
    return deleted


def includeme(config: Configurator) -> None:
    """Install the database session factory and Pyramid's CSRF check on every unsafe request."""
    settings = config.get_settings()
    config.set_session_factory(
        session_factory_for(
            dt.timedelta(minutes=settings["cjs.session.idle_minutes"]),
            dt.timedelta(hours=settings["cjs.session.absolute_hours"]),
            lambda: clock.now(config.registry),
        )
    )
    config.set_default_csrf_options(require_csrf=True)
