"""The PKCS#11 signer: the CA key on an HSM (or SoftHSM2), used through python-pkcs11 (CERT-1).

Chosen with ``cjs.ca.signer = pkcs11``; its settings (all under ``cjs.signer.pkcs11.``):

``module``       path of the PKCS#11 module, e.g. ``/usr/lib/softhsm/libsofthsm2.so``
``token_label``  label of the token that holds the CA key
``key_label``    label (CKA_LABEL) of the CA's private key on that token
``pin``          the token's user PIN: ``env:NAME`` or ``file:/path`` (a literal only in development)
``rsa_padding``  ``pkcs1v15`` (default) or ``pss``: the signature scheme of an RSA CA key
``idle_seconds`` a session unused this long is reopened before its next use (default 300)

Certificates and CRLs are built with ``cryptography``: its builders are given an object implementing
``rsa.RSAPrivateKey`` / ``ec.EllipticCurvePrivateKey`` whose ``sign()`` sends the to-be-signed bytes
to the token (the approach the cryptography maintainers recommend, pyca/cryptography#11616). RSA
signs with ``CKM_SHA256_RSA_PKCS`` or ``CKM_SHA256_RSA_PKCS_PSS`` (the token hashes); ECDSA is hashed
here and signed with raw ``CKM_ECDSA`` (SoftHSM2 and many HSMs offer no ``CKM_ECDSA_SHA384``), the
token's r‖s answer converted to DER.

python-pkcs11 initialises the module without OS locking and releases the GIL in every call, so every
call into a module goes through that module's one lock (:class:`TokenSession.run`). The process keeps
one logged-in session per token, shared by every signer on it (PKCS#11 login state is per
application anyway). The session is reopened after ``CKR_SESSION_HANDLE_INVALID``,
``CKR_SESSION_CLOSED``, ``CKR_USER_NOT_LOGGED_IN`` or a stale object handle, and after
``idle_seconds`` without use; the module is finalised and initialised again after an error saying the
token or the device went away; ``CKR_USER_ALREADY_LOGGED_IN`` counts as a successful login. One
reconnection is tried per call, then the call fails with :class:`SignerUnavailable` (one line).
A wrong PIN is never retried (HSMs lock the PIN after a few failures).

At start every problem is a :class:`~core.settings.ConfigurationError` naming the setting: module
missing, token missing, PIN refused, key missing or ambiguous, mechanism not offered, key not matching
the CA certificate (checked with a signature verified against ``ca.pem``).

Logged: the module, token and key label, the key's algorithm, reconnections and their CKR names.
Never logged: the PIN, to-be-signed data, digests, signatures.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar

import pkcs11
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from pkcs11 import MGF, Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11e
from zope.interface import implementer

from core.hookspecs import SignerFactory, hookimpl
from core.settings import ConfigurationError, resolve_secret
from hsm.ca import CA_CERT_FILE, build_ca_certificate, ca_dir
from hsm.interfaces import ISigner, SignerUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

PREFIX = "cjs.signer.pkcs11."
DEFAULT_IDLE_SECONDS = 300
RSA_PADDINGS = ("pkcs1v15", "pss")
_SETTINGS = ("module", "token_label", "key_label", "pin", "rsa_padding", "idle_seconds")

# Curves a CA key on the token may have.
_CURVES = ("secp256r1", "secp384r1")
_CURVE_NAMES = {"ec-p256": "secp256r1", "ec-p384": "secp384r1"}

# Hash → (PKCS#1 v1.5 mechanism, PSS mechanism, hash mechanism, MGF1 of that hash)
_RSA_MECHANISMS: dict[str, tuple[Mechanism, Mechanism, Mechanism, MGF]] = {
    "sha256": (
        Mechanism.SHA256_RSA_PKCS,
        Mechanism.SHA256_RSA_PKCS_PSS,
        Mechanism.SHA256,
        MGF.SHA256,
    ),
    "sha384": (
        Mechanism.SHA384_RSA_PKCS,
        Mechanism.SHA384_RSA_PKCS_PSS,
        Mechanism.SHA384,
        MGF.SHA384,
    ),
    "sha512": (
        Mechanism.SHA512_RSA_PKCS,
        Mechanism.SHA512_RSA_PKCS_PSS,
        Mechanism.SHA512,
        MGF.SHA512,
    ),
}
_MGFS = {"sha256": MGF.SHA256, "sha384": MGF.SHA384, "sha512": MGF.SHA512}

# Errors after which the session is reopened (the module stays initialised).
_SESSION_ERRORS: tuple[type[Exception], ...] = (
    p11e.SessionHandleInvalid,
    p11e.SessionClosed,
    p11e.UserNotLoggedIn,
    p11e.ObjectHandleInvalid,
    p11e.KeyHandleInvalid,
    p11e.OperationActive,
)
# Errors after which the module is finalised and initialised again (token or device went away).
_MODULE_ERRORS: tuple[type[Exception], ...] = (
    p11e.DeviceError,
    p11e.DeviceRemoved,
    p11e.DeviceMemory,
    p11e.TokenNotPresent,
    p11e.TokenNotRecognised,
    p11e.GeneralError,
    p11e.FunctionFailed,
    p11e.NoSuchToken,
    p11e.SlotIDInvalid,
)
_PIN_ERRORS: tuple[type[Exception], ...] = (
    p11e.PinIncorrect,
    p11e.PinInvalid,
    p11e.PinLenRange,
    p11e.PinExpired,
    p11e.PinLocked,
    p11e.UserPinNotInitialized,
)
_MECHANISM_ERRORS: tuple[type[Exception], ...] = (
    p11e.MechanismInvalid,
    p11e.MechanismParamInvalid,
    p11e.FunctionNotSupported,
    p11e.KeyTypeInconsistent,
)

_REASONS: dict[type[Exception], str] = {
    p11e.NoSuchToken: "the token is not present",
    p11e.TokenNotPresent: "the token is not present",
    p11e.DeviceRemoved: "the device was removed",
    p11e.DeviceError: "device error",
    p11e.PinIncorrect: "the token refused the PIN",
    p11e.PinLocked: "the token's PIN is locked",
    p11e.PinExpired: "the token's PIN has expired",
    p11e.NoSuchKey: "the key is not on the token",
}


def _reason(exc: BaseException) -> str:
    """A short human reason for a PKCS#11 error: a phrase, or the CKR name as python-pkcs11 has it."""
    for kind, text in _REASONS.items():
        if isinstance(exc, kind):
            return text
    if type(exc) is p11e.PKCS11Error and "not initialized" in str(exc):
        return "CKR_CRYPTOKI_NOT_INITIALIZED"
    return type(exc).__name__


def _module_level(exc: BaseException) -> bool:
    # CKR_CRYPTOKI_NOT_INITIALIZED has no class of its own in python-pkcs11: a bare PKCS11Error.
    return isinstance(exc, _MODULE_ERRORS) or type(exc) is p11e.PKCS11Error


def _reconnectable(exc: BaseException) -> bool:
    return isinstance(exc, _SESSION_ERRORS) or _module_level(exc)


class MechanismNotSupported(SignerUnavailable):
    """The token refuses the mechanism the key needs."""


# --- Settings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pkcs11Config:
    """The ``cjs.signer.pkcs11.*`` settings, read and checked."""

    module: str
    token_label: str
    key_label: str
    pin: str = field(repr=False)
    rsa_padding: str = "pkcs1v15"
    idle_seconds: int = DEFAULT_IDLE_SECONDS


_DOCS = {
    "module": "path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so",
    "token_label": "label of the token holding the CA key",
    "key_label": "label of the CA key on the token",
    "pin": "the token's user PIN as env:NAME or file:/path",
}


def read_config(settings: Mapping[str, Any], *, key_label: str | None = None) -> Pkcs11Config:
    """Read the ``cjs.signer.pkcs11.*`` settings; one-line :class:`ConfigurationError` for each fault."""
    unknown = sorted(
        k for k in settings if k.startswith(PREFIX) and k[len(PREFIX) :] not in _SETTINGS
    )
    if unknown:
        raise ConfigurationError(f"{unknown[0]}: unknown setting (known: {', '.join(_SETTINGS)})")

    def required(name: str) -> str:
        value = str(settings.get(PREFIX + name, "") or "").strip()
        if not value:
            raise ConfigurationError(f"{PREFIX}{name}: missing ({_DOCS[name]})")
        return value

    module = required("module")
    if not Path(module).is_file():
        raise ConfigurationError(f"{PREFIX}module: {module} does not exist")
    token_label = required("token_label")
    label = key_label or required("key_label")
    pin = resolve_secret(
        PREFIX + "pin",
        required("pin"),
        environment=str(settings.get("cjs.environment", "production")),
    )
    rsa_padding = str(settings.get(PREFIX + "rsa_padding", "pkcs1v15")).strip()
    if rsa_padding not in RSA_PADDINGS:
        raise ConfigurationError(
            f"{PREFIX}rsa_padding: expected one of {', '.join(RSA_PADDINGS)}, got {rsa_padding!r}"
        )
    raw_idle = str(settings.get(PREFIX + "idle_seconds", DEFAULT_IDLE_SECONDS)).strip()
    try:
        idle_seconds = int(raw_idle)
        if idle_seconds <= 0:
            raise ValueError
    except ValueError:
        raise ConfigurationError(
            f"{PREFIX}idle_seconds: expected a positive whole number, got {raw_idle!r}"
        ) from None
    return Pkcs11Config(module, token_label, label, pin, rsa_padding, idle_seconds)


# --- The module and the token session ------------------------------------------------------------


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
                log.debug("PKCS#11 module %s: C_Finalize: %s", self.path, _reason(exc))
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
            except _PIN_ERRORS:
                if current is not None:
                    try:
                        self._open(current, rw=False)
                    except p11e.PKCS11Error as exc:
                        log.warning(
                            "PKCS#11 token %r: login not restored: %s",
                            self.token_label,
                            _reason(exc),
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
                log.debug("PKCS#11 token %r: C_CloseSession: %s", self.token_label, _reason(exc))
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
                except _PIN_ERRORS as exc:
                    self._close()
                    raise SignerUnavailable(
                        f"PKCS#11 token {self.token_label!r}: {what}: {_reason(exc)}"
                    ) from None
                except _MECHANISM_ERRORS as exc:
                    raise MechanismNotSupported(
                        f"PKCS#11 token {self.token_label!r}: {what}: mechanism not supported "
                        f"({type(exc).__name__})"
                    ) from None
                except p11e.PKCS11Error as exc:
                    if not _reconnectable(exc):
                        raise SignerUnavailable(
                            f"PKCS#11 token {self.token_label!r}: {what} failed: {_reason(exc)}"
                        ) from None
                    last = exc
                    log.warning(
                        "PKCS#11 token %r: %s during %s; reconnecting",
                        self.token_label,
                        _reason(exc),
                        what,
                    )
                    module_level = _module_level(exc) or attempt > 0
                    self._close(
                        forget=module_level
                        or isinstance(exc, p11e.SessionHandleInvalid | p11e.SessionClosed)
                    )
                    if module_level:
                        self.module.reset()
                    continue
                self._last_used = time.monotonic()
                return result
            raise SignerUnavailable(
                f"PKCS#11 token {self.token_label!r}: {what} failed after reconnecting: "
                f"{_reason(last) if last else 'unknown'}"
            )

    def invalidate_for_tests(self) -> None:
        """Close the session handle behind the session's back (tests of reconnection)."""
        with self.lock:
            if self._session is not None:
                self._session.close()

    def age_for_tests(self, seconds: float) -> None:
        """Pretend the session has been idle ``seconds`` longer (tests of the idle timeout)."""
        with self.lock:
            self._last_used -= seconds


# --- Keys on the token -----------------------------------------------------------------------------


def _find_private_keys(session: Any, label: str) -> list[Any]:
    return list(
        session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label})
    )


class KeyRef:
    """A private key on the token by label; its handle is looked up again in every new session."""

    def __init__(self, token: TokenSession, label: str) -> None:
        self.token = token
        self.label = label
        self._handle: Any = None
        self._session_id = -1

    def get(self, session: Any) -> Any:
        """The key object in ``session`` (call inside :meth:`TokenSession.run`)."""
        if self._handle is None or self._session_id != self.token.session_id:
            keys = _find_private_keys(session, self.label)
            if not keys:
                raise p11e.NoSuchKey(self.label)
            if len(keys) > 1:
                raise p11e.MultipleObjectsReturned(self.label)
            self._handle, self._session_id = keys[0], self.token.session_id
        return self._handle

    def sign(self, data: bytes, mechanism: Mechanism, param: Any = None) -> bytes:
        """Sign ``data`` on the token: the only thing that reaches it."""

        def work(session: Any) -> bytes:
            return bytes(self.get(session).sign(data, mechanism=mechanism, mechanism_param=param))

        return self.token.run(work, f"signing with key {self.label!r}")


def _hash_name(algorithm: hashes.HashAlgorithm) -> str:
    return algorithm.name.replace("-", "").lower()


class _StaysOnToken:
    """What a token key refuses, for both kinds: it is never serialised and never copied."""

    def private_bytes(
        self,
        encoding: serialization.Encoding,
        format: serialization.PrivateFormat,
        encryption_algorithm: serialization.KeySerializationEncryption,
    ) -> bytes:
        raise TypeError("the CA key never leaves the token")

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        return self


class TokenRSAKey(_StaysOnToken, rsa.RSAPrivateKey):
    """An RSA private key on the token, as cryptography's builders expect; only signs."""

    def __init__(self, ref: KeyRef, public: rsa.RSAPublicKey) -> None:
        self.ref = ref
        self._public = public

    def mechanism(
        self, pad: padding.AsymmetricPadding, algorithm: hashes.HashAlgorithm
    ) -> tuple[Mechanism, Any]:
        """The PKCS#11 mechanism and parameter for ``pad`` with ``algorithm``."""
        name = _hash_name(algorithm)
        if name not in _RSA_MECHANISMS:
            raise UnsupportedAlgorithm(
                f"hash {algorithm.name} is not offered for the token's RSA key"
            )
        pkcs1, pss, hash_mech, _mgf = _RSA_MECHANISMS[name]
        if isinstance(pad, padding.PKCS1v15):
            return pkcs1, None
        if isinstance(pad, padding.PSS):
            mgf_algorithm = getattr(pad.mgf, "_algorithm", algorithm)
            mgf = _MGFS.get(_hash_name(mgf_algorithm))
            if mgf is None:
                raise UnsupportedAlgorithm(f"MGF1 with {mgf_algorithm.name} is not offered")
            salt = pad._salt_length
            if salt is padding.PSS.DIGEST_LENGTH:
                salt = algorithm.digest_size
            elif salt is padding.PSS.MAX_LENGTH:
                salt = (self.key_size + 7) // 8 - algorithm.digest_size - 2
            elif not isinstance(salt, int):
                raise UnsupportedAlgorithm("PSS salt length AUTO is for verification only")
            return pss, (hash_mech, mgf, salt)
        raise UnsupportedAlgorithm(f"padding {pad.name} is not offered for the token's RSA key")

    def sign(
        self,
        data: bytes,
        padding: padding.AsymmetricPadding,
        algorithm: utils.Prehashed | hashes.HashAlgorithm | utils.NoDigestInfo,
    ) -> bytes:
        if not isinstance(algorithm, hashes.HashAlgorithm):
            raise UnsupportedAlgorithm("the token's RSA key signs whole messages, not digests")
        mechanism, param = self.mechanism(padding, algorithm)
        return self.ref.sign(bytes(data), mechanism, param)

    def decrypt(self, ciphertext: bytes, padding: padding.AsymmetricPadding) -> bytes:
        raise TypeError("the CA key on the token only signs")

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public

    def private_numbers(self) -> rsa.RSAPrivateNumbers:
        raise TypeError("the CA key never leaves the token")


class TokenECKey(_StaysOnToken, ec.EllipticCurvePrivateKey):
    """An EC private key on the token, as cryptography's builders expect; only signs (ECDSA)."""

    def __init__(self, ref: KeyRef, public: ec.EllipticCurvePublicKey) -> None:
        self.ref = ref
        self._public = public

    def sign(
        self,
        data: bytes | bytearray | memoryview,
        signature_algorithm: ec.EllipticCurveSignatureAlgorithm,
    ) -> bytes:
        if not isinstance(signature_algorithm, ec.ECDSA):
            raise UnsupportedAlgorithm("the token's EC key signs with ECDSA only")
        algorithm = signature_algorithm.algorithm
        if isinstance(algorithm, utils.Prehashed):
            digest = bytes(data)
        else:
            hasher = hashes.Hash(algorithm)
            hasher.update(bytes(data))
            digest = hasher.finalize()
        raw = self.ref.sign(digest, Mechanism.ECDSA)  # r ‖ s, each the size of the order
        half = len(raw) // 2
        return utils.encode_dss_signature(
            int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        )

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        raise TypeError("the CA key on the token only signs")

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        raise TypeError("the CA key never leaves the token")


TokenKey = TokenRSAKey | TokenECKey


def signature_hash(
    key: TokenKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
) -> hashes.SHA256 | hashes.SHA384:
    """The hash of the CA's signatures: SHA-384 for P-384 (as the software signer), else SHA-256."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def rsa_padding_for(name: str) -> padding.PSS | padding.PKCS1v15:
    """The RSA signature padding of setting value ``name``."""
    if name == "pss":
        return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    return padding.PKCS1v15()


def _required_mechanism(key: TokenKey, rsa_padding: str) -> Mechanism:
    if isinstance(key, TokenECKey):
        return Mechanism.ECDSA
    return Mechanism.SHA256_RSA_PKCS_PSS if rsa_padding == "pss" else Mechanism.SHA256_RSA_PKCS


def _public_key_on_token(
    session: Any, private: Any
) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """The public key of ``private``: RSA from its modulus, EC from the public key object beside it."""
    key_type = private[Attribute.KEY_TYPE]
    if key_type == KeyType.RSA:
        n = int.from_bytes(private[Attribute.MODULUS], "big")
        e = int.from_bytes(private[Attribute.PUBLIC_EXPONENT], "big")
        return rsa.RSAPublicNumbers(e, n).public_key()
    if key_type == KeyType.EC:
        from pkcs11.util.ec import encode_ec_public_key

        template: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.PUBLIC_KEY}
        key_id = private[Attribute.ID]
        if key_id:
            template[Attribute.ID] = key_id
        else:
            template[Attribute.LABEL] = private[Attribute.LABEL]
        publics = list(session.get_objects(template))
        if len(publics) != 1:
            raise LookupError("no single EC public key object beside it (same CKA_ID or label)")
        public = serialization.load_der_public_key(encode_ec_public_key(publics[0]))
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise LookupError("its public key object is not EC")
        if public.curve.name not in _CURVES:
            raise LookupError(f"curve {public.curve.name} is not P-256 or P-384")
        return public
    raise LookupError(f"it is a {getattr(key_type, 'name', key_type)} key (RSA or EC expected)")


def make_key(ref: KeyRef, public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> TokenKey:
    """The cryptography-facing key object for ``ref`` with public key ``public``."""
    if isinstance(public, rsa.RSAPublicKey):
        return TokenRSAKey(ref, public)
    return TokenECKey(ref, public)


# --- Start: one-line configuration errors --------------------------------------------------------


def _start_error(
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
    if isinstance(exc, _PIN_ERRORS):
        return ConfigurationError(f"{PREFIX}pin: the token refused the PIN ({_reason(exc)})")
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
        f"{PREFIX}module: token {config.token_label!r} of {config.module}: {_reason(exc)}"
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
            raise _start_error(config, token, exc) from None
    return token


def open_key(
    config: Pkcs11Config,
    token: TokenSession,
    public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | None = None,
    cert_path: Path | None = None,
) -> TokenKey:
    """The key labelled ``config.key_label``: with ``public`` (of the CA certificate at
    ``cert_path``) its type, and an RSA modulus, must match; else its public key is read."""
    ref = KeyRef(token, config.key_label)

    def find(session: Any) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
        private = ref.get(session)
        if public is None:
            return _public_key_on_token(session, private)
        key_type = private[Attribute.KEY_TYPE]
        if isinstance(public, rsa.RSAPublicKey):
            modulus = int.from_bytes(private[Attribute.MODULUS], "big")
            same = key_type == KeyType.RSA and modulus == public.public_numbers().n
        else:
            same = key_type == KeyType.EC
        if not same:
            raise LookupError(f"does not match the CA certificate {cert_path or ''}".rstrip())
        return public

    try:
        found = token.run(find, f"finding key {config.key_label!r}")
    except SignerUnavailable as exc:
        cause = exc.__context__
        if isinstance(cause, p11e.NoSuchKey | p11e.MultipleObjectsReturned):
            raise _start_error(config, token, cause) from None
        raise ConfigurationError(f"{PREFIX}key_label: {exc}") from None
    except (p11e.NoSuchKey, p11e.MultipleObjectsReturned) as exc:
        raise _start_error(config, token, exc) from None
    except LookupError as exc:
        raise ConfigurationError(
            f"{PREFIX}key_label: key {config.key_label!r} on token {config.token_label!r}: {exc}"
        ) from None
    return make_key(ref, found)


def _check_mechanism(config: Pkcs11Config, token: TokenSession, key: TokenKey) -> None:
    mechanism = _required_mechanism(key, config.rsa_padding)

    def offered(session: Any) -> bool:
        mechanisms = token.token().slot.get_mechanisms()
        return mechanism in mechanisms

    try:
        ok = token.run(offered, "listing mechanisms")
    except SignerUnavailable as exc:
        raise ConfigurationError(f"{PREFIX}module: {exc}") from None
    if not ok:
        raise ConfigurationError(
            f"{PREFIX}key_label: token {config.token_label!r} does not offer CKM_{mechanism.name} "
            f"for key {config.key_label!r}"
        )


# --- The signer ------------------------------------------------------------------------------------


@implementer(ISigner)
class Pkcs11Signer:
    """Signs certificates and CRLs with the CA key on a PKCS#11 token."""

    name = "pkcs11"

    def __init__(
        self,
        ca_certificate: x509.Certificate,
        key: TokenKey,
        *,
        config: Pkcs11Config,
    ) -> None:
        if key.public_key() != ca_certificate.public_key():
            raise ConfigurationError(
                f"{PREFIX}key_label: key {config.key_label!r} does not match the CA certificate"
            )
        self.ca_certificate = ca_certificate
        self.key = key
        self.config = config
        self._hash = signature_hash(key)
        self._padding = (
            rsa_padding_for(config.rsa_padding) if isinstance(key, TokenRSAKey) else None
        )

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Pkcs11Signer:
        """Connect, find the key, check it against ``ca.pem`` with a signature; one-line errors."""
        config = read_config(settings)
        cert_path = ca_dir(settings) / CA_CERT_FILE
        if not cert_path.exists():
            raise ConfigurationError(f"cjs.ca.dir: no CA in {cert_path.parent} (run 'cjs ca init')")
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        public = certificate.public_key()
        if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise ConfigurationError(f"cjs.ca.dir: the CA key of {cert_path} is neither RSA nor EC")
        return cls.for_certificate(config, certificate, cert_path)

    @classmethod
    def for_certificate(
        cls, config: Pkcs11Config, certificate: x509.Certificate, cert_path: Path
    ) -> Pkcs11Signer:
        """The signer of ``certificate`` with key ``config.key_label``, checked by a signature."""
        token = connect(config)
        public = certificate.public_key()
        assert isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
        key = open_key(config, token, public, cert_path)
        _check_mechanism(config, token, key)
        signer = cls(certificate, key, config=config)
        signer.self_test(cert_path)
        log.info(
            "CA signer pkcs11: module %s, token %r, key %r (%s), CA key id %s",
            config.module,
            config.token_label,
            config.key_label,
            signer.algorithm,
            signer.key_id,
        )
        return signer

    def self_test(self, cert_path: Path) -> None:
        """Sign a fixed message on the token and verify it with the CA certificate's public key."""
        message = b"CJS PKCS#11 signer self-test"
        try:
            if isinstance(self.key, TokenRSAKey):
                assert self._padding is not None
                signature = self.key.sign(message, self._padding, self._hash)
                public_rsa = self.ca_certificate.public_key()
                assert isinstance(public_rsa, rsa.RSAPublicKey)
                public_rsa.verify(signature, message, self._padding, self._hash)
            else:
                signature = self.key.sign(message, ec.ECDSA(self._hash))
                public_ec = self.ca_certificate.public_key()
                assert isinstance(public_ec, ec.EllipticCurvePublicKey)
                public_ec.verify(signature, message, ec.ECDSA(self._hash))
        except MechanismNotSupported as exc:
            raise ConfigurationError(f"{PREFIX}key_label: {exc}") from None
        except SignerUnavailable as exc:
            cause = exc.__context__
            if isinstance(cause, p11e.PKCS11Error):
                raise _start_error(self.config, self.key.ref.token, cause) from None
            raise ConfigurationError(f"{PREFIX}key_label: {exc}") from None
        except InvalidSignature:
            raise ConfigurationError(
                f"{PREFIX}key_label: key {self.config.key_label!r} on token "
                f"{self.config.token_label!r} does not match the CA certificate {cert_path}"
            ) from None

    @property
    def key_id(self) -> str:
        """The CA certificate's subject key identifier, hex (also CKA_ID of keys made by CJS)."""
        try:
            ski = self.ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            return ski.value.digest.hex()
        except x509.ExtensionNotFound:
            return x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()).digest.hex()

    @property
    def algorithm(self) -> str:
        """``EC secp384r1`` or ``RSA-3072``, as the software signer says it."""
        if isinstance(self.key, TokenECKey):
            return f"EC {self.key.curve.name}"
        return f"RSA-{self.key.key_size}"

    @property
    def signature_algorithm(self) -> str:
        """The scheme of the CA's signatures, e.g. ``ECDSA with SHA-384``."""
        if isinstance(self.key, TokenECKey):
            return f"ECDSA with SHA-{self._hash.digest_size * 8}"
        scheme = "RSASSA-PSS" if isinstance(self._padding, padding.PSS) else "PKCS#1 v1.5"
        return f"{scheme} with SHA-{self._hash.digest_size * 8}"

    def sign_certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        """Sign a certificate builder on the token (only the to-be-signed bytes go to it)."""
        return builder.sign(self.key, self._hash, rsa_padding=self._padding)

    def sign_crl(
        self, builder: x509.CertificateRevocationListBuilder
    ) -> x509.CertificateRevocationList:
        """Sign a CRL builder on the token."""
        return builder.sign(self.key, self._hash, rsa_padding=self._padding)

    def describe(self) -> dict[str, str]:
        """Signer, key id, algorithm, CA validity, and where the key is."""
        return {
            "signer": self.name,
            "key id": self.key_id,
            "algorithm": self.algorithm,
            "signature": self.signature_algorithm,
            "module": self.config.module,
            "token": self.config.token_label,
            "key label": self.config.key_label,
            "subject": self.ca_certificate.subject.rfc4514_string(),
            "not before": self.ca_certificate.not_valid_before_utc.isoformat(),
            "not after": self.ca_certificate.not_valid_after_utc.isoformat(),
        }


# --- Key generation and the CA certificate (``cjs ca init`` / ``cjs ca rotate``) ------------------


def _generate(session: Any, key_type: str, label: str) -> Any:
    """Generate the CA key pair on the token: private key sensitive, never extractable, sign only."""
    private_template = {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.SIGN: True,
        Attribute.DECRYPT: False,
        Attribute.UNWRAP: False,
        Attribute.DERIVE: False,
    }
    public_template = {
        Attribute.TOKEN: True,
        Attribute.VERIFY: True,
        Attribute.ENCRYPT: False,
        Attribute.WRAP: False,
    }
    capabilities = MechanismFlag.SIGN | MechanismFlag.VERIFY
    temporary_id = os.urandom(20)
    if key_type in _CURVE_NAMES:
        from pkcs11.util.ec import encode_named_curve_parameters

        parameters = session.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: encode_named_curve_parameters(_CURVE_NAMES[key_type])},
            local=True,
        )
        public, private = parameters.generate_keypair(
            store=True,
            label=label,
            id=temporary_id,
            capabilities=capabilities,
            public_template=public_template,
            private_template=private_template,
        )
    elif key_type in {"rsa-2048", "rsa-3072", "rsa-4096"}:
        public, private = session.generate_keypair(
            KeyType.RSA,
            int(key_type[4:]),
            store=True,
            label=label,
            id=temporary_id,
            capabilities=capabilities,
            public_template=public_template,
            private_template=private_template,
        )
    else:
        raise ConfigurationError(f"cjs.ca.key_type: cannot generate {key_type!r} on a token")
    key = _public_key_on_token(session, private)
    # CKA_ID = the subject key identifier of the CA certificate to come, so the key is found by it.
    ski = x509.SubjectKeyIdentifier.from_public_key(key).digest
    try:
        private[Attribute.ID] = ski
        public[Attribute.ID] = ski
    except p11e.PKCS11Error as exc:  # some HSMs fix CKA_ID at creation: keep the random one
        log.info("PKCS#11: CKA_ID not changed (%s); key %r keeps a random id", _reason(exc), label)
    return private


@dataclass(frozen=True)
class TokenCA:
    """The outcome of :func:`ensure_key`: the key object and whether it was generated now."""

    key: TokenKey
    generated: bool


def ensure_key(
    settings: Mapping[str, Any], key_label: str | None = None
) -> tuple[Pkcs11Config, TokenCA]:
    """Use the key labelled ``key_label`` (default: the setting) or generate it per cjs.ca.key_type."""
    config = read_config(settings, key_label=key_label)
    token = connect(config)

    def lookup(session: Any) -> list[Any]:
        return _find_private_keys(session, config.key_label)

    try:
        existing = token.run(lookup, f"looking for key {config.key_label!r}")
        if len(existing) > 1:
            raise _start_error(config, token, p11e.MultipleObjectsReturned())
        generated = False
        if not existing:
            key_type = str(settings.get("cjs.ca.key_type", "ec-p384"))
            log.info(
                "PKCS#11: generating the CA key %r (%s) on token %r",
                config.key_label,
                key_type,
                config.token_label,
            )
            token.run(
                lambda session: _generate(session, key_type, config.key_label),
                f"generating key {config.key_label!r}",
                rw=True,
            )
            generated = True
    except SignerUnavailable as exc:
        raise ConfigurationError(f"{PREFIX}key_label: {exc}") from None
    key = open_key(config, token)
    _check_mechanism(config, token, key)
    return config, TokenCA(key, generated)


def self_signed_ca(
    settings: Mapping[str, Any], config: Pkcs11Config, key: TokenKey, now: dt.datetime | None = None
) -> x509.Certificate:
    """The CA certificate of ``key``, self-signed on the token."""
    builder = build_ca_certificate(settings, key.public_key(), now)
    pad = rsa_padding_for(config.rsa_padding) if isinstance(key, TokenRSAKey) else None
    try:
        return builder.sign(key, signature_hash(key), rsa_padding=pad)
    except SignerUnavailable as exc:
        raise ConfigurationError(f"{PREFIX}key_label: {exc}") from None


def key_attributes(settings: Mapping[str, Any], key_label: str | None = None) -> dict[str, Any]:
    """Security attributes of the private key on the token (CKA_EXTRACTABLE, CKA_SENSITIVE, …)."""
    config = read_config(settings, key_label=key_label)
    token = connect(config)
    ref = KeyRef(token, config.key_label)
    names = (
        Attribute.EXTRACTABLE,
        Attribute.SENSITIVE,
        Attribute.NEVER_EXTRACTABLE,
        Attribute.ALWAYS_SENSITIVE,
        Attribute.SIGN,
        Attribute.DECRYPT,
        Attribute.PRIVATE,
        Attribute.TOKEN,
        Attribute.ID,
        Attribute.LABEL,
    )

    def read(session: Any) -> dict[str, Any]:
        key = ref.get(session)
        values: dict[str, Any] = {}
        for name in names:
            try:
                values[name.name] = key[name]
            except p11e.PKCS11Error:
                values[name.name] = None
        return values

    return token.run(read, f"reading key {config.key_label!r}")


@hookimpl
def cjs_signer_factories() -> Mapping[str, SignerFactory]:
    """The PKCS#11 signer, registered under the name ``pkcs11``."""
    return {"pkcs11": Pkcs11Signer.from_settings}
