"""The PKCS#11 module of this process and its one logged-in session per token, every call serialised
by the module's lock; reconnection after session and module errors."""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pkcs11
from pkcs11 import exceptions as p11e

from core.settings import ConfigurationError
from hsm.interfaces import SignerUnavailable
from hsm.pkcs11.config import DEFAULT_IDLE_SECONDS, PREFIX, Pkcs11Config
from hsm.pkcs11.errors import (
    MECHANISM_ERRORS,
    PIN_ERRORS,
    MechanismNotSupported,
    module_level,
    reason,
    reconnectable,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


class _Module:
    """One PKCS#11 module of this process; its lock serialises every call into it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.RLock()
        #: Increases each time the module is finalised and initialised again.
        self.generation = 0
        self._lib: Any = None

    def lib(self) -> Any:
        """The loaded, initialised module (hold the lock)."""
        if self._lib is None:
            self._lib = pkcs11.lib(self.path)
        elif not self._lib.initialized:
            self._lib.initialize()
        return self._lib

    def reset(self) -> None:
        """C_Finalize (errors ignored); the next :meth:`lib` calls C_Initialize. Hold the lock."""
        if self._lib is not None:
            try:
                self._lib.finalize()
            except p11e.PKCS11Error as exc:
                log.debug("PKCS#11 module %s: C_Finalize: %s", self.path, reason(exc))
        self.generation += 1


_modules: dict[str, _Module] = {}
_sessions: dict[tuple[str, str], TokenSession] = {}
_registry_lock = threading.Lock()


def _load_module(path: str) -> _Module:
    real = os.path.realpath(path)
    with _registry_lock:
        module = _modules.get(real)
        if module is None:
            module = _modules[real] = _Module(real)
    return module


def token_session(module_path: str, token_label: str) -> TokenSession:
    """The process's one session on token ``token_label`` of ``module_path`` (created on first use)."""
    module = _load_module(module_path)
    with _registry_lock:
        key = (module.path, token_label)
        session = _sessions.get(key)
        if session is None:
            session = _sessions[key] = TokenSession(module, token_label)
    return session


class TokenSession:
    """The logged-in session of this process on one token; every use goes through :meth:`run`."""

    def __init__(self, module: _Module, token_label: str) -> None:
        self.module = module
        self.token_label = token_label
        self.idle_seconds: float = DEFAULT_IDLE_SECONDS
        #: Increases with every session opened: object handles are looked up again after it changes.
        self.session_id = 0
        #: Sessions opened so far (tests and logs).
        self.opened = 0
        self._pin: str | None = None
        self._session: Any = None
        self._rw = False
        self._generation = -1
        self._last_used = 0.0

    @property
    def lock(self) -> threading.RLock:
        """The module's lock."""
        return self.module.lock

    def token(self) -> Any:
        """The python-pkcs11 ``Token`` (hold the lock). Raises NoSuchToken / MultipleTokensReturned."""
        return self.module.lib().get_token(token_label=self.token_label)

    def token_labels(self) -> list[str]:
        """Labels of the tokens the module offers (hold the lock)."""
        try:
            return sorted(t.label for t in self.module.lib().get_tokens() if t.label)
        except p11e.PKCS11Error:
            return []

    def login(self, pin: str) -> None:
        """Log in with ``pin``, or check it when this process is already logged in (at start).

        PKCS#11 cannot check a PIN while the application is logged in (C_Login answers
        CKR_USER_ALREADY_LOGGED_IN first), so a different PIN than the current one is tried with a
        fresh login, and the current login restored if the token refuses it. Raises the PKCS#11 error.
        """
        with self.lock:
            current = self._pin
            if current is not None and hmac.compare_digest(current, pin) and self._usable():
                return
            self._close()
            try:
                self._open(pin, rw=False)
            except PIN_ERRORS:
                if current is not None:
                    try:
                        self._open(current, rw=False)
                    except p11e.PKCS11Error as exc:
                        log.warning(
                            "PKCS#11 token %r: login not restored: %s",
                            self.token_label,
                            reason(exc),
                        )
                raise

    def _usable(self) -> bool:
        return (
            self._session is not None
            and self._generation == self.module.generation
            and time.monotonic() - self._last_used <= self.idle_seconds
        )

    def _open(self, pin: str, *, rw: bool) -> None:
        token = self.token()
        try:
            session = token.open(rw=rw, user_pin=pin)
        except p11e.UserAlreadyLoggedIn:
            # PKCS#11 login is per application: another session of this process is logged in, so
            # ours is too. (python-pkcs11 leaves the session of the refused C_Login open; it ends
            # at C_Finalize.)
            session = token.open(rw=rw)
        self._session, self._rw, self._pin = session, rw, pin
        self._generation = self.module.generation
        self._last_used = time.monotonic()
        self.session_id += 1
        self.opened += 1
        log.debug("PKCS#11 token %r: session %d opened", self.token_label, self.session_id)

    def _close(self, *, forget: bool = False) -> None:
        """Close our session; ``forget`` (or a module initialised since) only drops the handle:
        the number may already belong to another session, which C_CloseSession would end."""
        if self._session is not None and not forget and self._generation == self.module.generation:
            try:
                self._session.close()
            except p11e.PKCS11Error as exc:  # already invalid: nothing to close
                log.debug("PKCS#11 token %r: C_CloseSession: %s", self.token_label, reason(exc))
        self._session = None

    def _ensure(self, rw: bool) -> Any:
        if self._pin is None:
            raise SignerUnavailable(f"PKCS#11 token {self.token_label!r}: not logged in")
        if self._session is not None and (not self._usable() or (rw and not self._rw)):
            self._close()
        if self._session is None:
            self._open(self._pin, rw=rw)
        return self._session

    def run(self, work: Callable[[Any], T], what: str, *, rw: bool = False) -> T:
        """Run ``work(session)`` under the module's lock; :class:`SignerUnavailable` (one line)
        when it cannot be done.

        After a session error the session is reopened; after a module error, or a second error, the
        module is finalised and initialised again; three attempts in all.
        """
        with self.lock:
            last: BaseException | None = None
            for attempt in range(3):
                try:
                    result = work(self._ensure(rw))
                except PIN_ERRORS as exc:
                    self._close()
                    raise SignerUnavailable(
                        f"PKCS#11 token {self.token_label!r}: {what}: {reason(exc)}"
                    ) from None
                except MECHANISM_ERRORS as exc:
                    raise MechanismNotSupported(
                        f"PKCS#11 token {self.token_label!r}: {what}: mechanism not supported "
                        f"({type(exc).__name__})"
                    ) from None
                except p11e.PKCS11Error as exc:
                    if not reconnectable(exc):
                        raise SignerUnavailable(
                            f"PKCS#11 token {self.token_label!r}: {what} failed: {reason(exc)}"
                        ) from None
                    last = exc
                    log.warning(
                        "PKCS#11 token %r: %s during %s; reconnecting",
                        self.token_label,
                        reason(exc),
                        what,
                    )
                    reset = module_level(exc) or attempt > 0
                    self._close(
                        forget=reset
                        or isinstance(exc, p11e.SessionHandleInvalid | p11e.SessionClosed)
                    )
                    if reset:
                        self.module.reset()
                    continue
                self._last_used = time.monotonic()
                return result
            raise SignerUnavailable(
                f"PKCS#11 token {self.token_label!r}: {what} failed after reconnecting: "
                f"{reason(last) if last else 'unknown'}"
            )


def start_error(
    config: Pkcs11Config, token: TokenSession, exc: BaseException
) -> ConfigurationError:
    """The one-line configuration error for a PKCS#11 failure at start."""
    if isinstance(exc, p11e.NoSuchToken):
        labels = ", ".join(repr(label) for label in token.token_labels()) or "none"
        return ConfigurationError(
            f"{PREFIX}token_label: no token labelled {config.token_label!r} in {config.module} "
            f"(tokens: {labels})"
        )
    if isinstance(exc, p11e.MultipleTokensReturned):
        return ConfigurationError(
            f"{PREFIX}token_label: several tokens are labelled {config.token_label!r}"
        )
    if isinstance(exc, p11e.PinIncorrect):
        return ConfigurationError(f"{PREFIX}pin: the token refused the PIN")
    if isinstance(exc, PIN_ERRORS):
        return ConfigurationError(f"{PREFIX}pin: the token refused the PIN ({reason(exc)})")
    if isinstance(exc, p11e.NoSuchKey):
        return ConfigurationError(
            f"{PREFIX}key_label: no private key labelled {config.key_label!r} on token "
            f"{config.token_label!r}"
        )
    if isinstance(exc, p11e.MultipleObjectsReturned):
        return ConfigurationError(
            f"{PREFIX}key_label: several private keys are labelled {config.key_label!r} on token "
            f"{config.token_label!r} (labels must be unique)"
        )
    return ConfigurationError(
        f"{PREFIX}module: token {config.token_label!r} of {config.module}: {reason(exc)}"
    )


def connect(config: Pkcs11Config) -> TokenSession:
    """Load the module, find the token and log in; :class:`ConfigurationError` on any failure."""
    try:
        module = _load_module(config.module)
        with module.lock:
            module.lib()
    except p11e.PKCS11Error as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigurationError(f"{PREFIX}module: cannot load {config.module}: {detail}") from None
    token = token_session(config.module, config.token_label)
    with token.lock:
        token.idle_seconds = config.idle_seconds
        try:
            token.login(config.pin)
        except p11e.PKCS11Error as exc:
            raise start_error(config, token, exc) from None
    return token
