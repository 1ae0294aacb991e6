"""What each PKCS#11 error means to the signer: reconnect, reinitialise, or give up (one line)."""

from __future__ import annotations

from pkcs11 import exceptions as p11e

from hsm.interfaces import SignerUnavailable

# Errors after which the session is reopened (the module stays initialised).
SESSION_ERRORS: tuple[type[Exception], ...] = (
    p11e.SessionHandleInvalid,
    p11e.SessionClosed,
    p11e.UserNotLoggedIn,
    p11e.ObjectHandleInvalid,
    p11e.KeyHandleInvalid,
    p11e.OperationActive,
)
# Errors after which the module is finalised and initialised again (token or device went away).
MODULE_ERRORS: tuple[type[Exception], ...] = (
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
PIN_ERRORS: tuple[type[Exception], ...] = (
    p11e.PinIncorrect,
    p11e.PinInvalid,
    p11e.PinLenRange,
    p11e.PinExpired,
    p11e.PinLocked,
    p11e.UserPinNotInitialized,
)
MECHANISM_ERRORS: tuple[type[Exception], ...] = (
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


def reason(exc: BaseException) -> str:
    """A short human reason for a PKCS#11 error: a phrase, or the CKR name as python-pkcs11 has it."""
    for kind, text in _REASONS.items():
        if isinstance(exc, kind):
            return text
    if type(exc) is p11e.PKCS11Error and "not initialized" in str(exc):
        return "CKR_CRYPTOKI_NOT_INITIALIZED"
    return type(exc).__name__


def module_level(exc: BaseException) -> bool:
    """Whether the module must be finalised and initialised again after ``exc``."""
    # CKR_CRYPTOKI_NOT_INITIALIZED has no class of its own in python-pkcs11: a bare PKCS11Error.
    return isinstance(exc, MODULE_ERRORS) or type(exc) is p11e.PKCS11Error


def reconnectable(exc: BaseException) -> bool:
    """Whether a new session (or module) may cure ``exc``."""
    return isinstance(exc, SESSION_ERRORS) or module_level(exc)


class MechanismNotSupported(SignerUnavailable):
    """The token refuses the mechanism the key needs."""
