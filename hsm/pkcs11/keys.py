"""The CA key on the token as ``cryptography`` sees it: a private key object whose ``sign()`` sends
the to-be-signed bytes to the token and that refuses to be serialised."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from pkcs11 import MGF, Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e
from pkcs11.util.ec import encode_ec_public_key

from core.settings import ConfigurationError
from hsm.interfaces import SignerUnavailable
from hsm.pkcs11.config import PREFIX, Pkcs11Config
from hsm.pkcs11.session import TokenSession, start_error

#: Curves a CA key on the token may have.
CURVES = ("secp256r1", "secp384r1")
CURVE_NAMES = {"ec-p256": "secp256r1", "ec-p384": "secp384r1"}

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


def find_private_keys(session: Any, label: str) -> list[Any]:
    """The private keys labelled ``label`` in ``session`` (labels should be unique)."""
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
            keys = find_private_keys(session, self.label)
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


def rsa_padding_for(name: str) -> padding.PSS | padding.PKCS1v15:
    """The RSA signature padding of setting value ``name``."""
    if name == "pss":
        return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    return padding.PKCS1v15()


def required_mechanism(key: TokenKey, rsa_padding: str) -> Mechanism:
    """The mechanism the CA's signatures with ``key`` need (the hash is SHA-256 or done here)."""
    if isinstance(key, TokenECKey):
        return Mechanism.ECDSA
    return Mechanism.SHA256_RSA_PKCS_PSS if rsa_padding == "pss" else Mechanism.SHA256_RSA_PKCS


def public_key_on_token(session: Any, private: Any) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """The public key of ``private``: RSA from its modulus, EC from the public key object beside it."""
    key_type = private[Attribute.KEY_TYPE]
    if key_type == KeyType.RSA:
        n = int.from_bytes(private[Attribute.MODULUS], "big")
        e = int.from_bytes(private[Attribute.PUBLIC_EXPONENT], "big")
        return rsa.RSAPublicNumbers(e, n).public_key()
    if key_type == KeyType.EC:
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
        if public.curve.name not in CURVES:
            raise LookupError(f"curve {public.curve.name} is not P-256 or P-384")
        return public
    raise LookupError(f"it is a {getattr(key_type, 'name', key_type)} key (RSA or EC expected)")


def make_key(ref: KeyRef, public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> TokenKey:
    """The cryptography-facing key object for ``ref`` with public key ``public``."""
    if isinstance(public, rsa.RSAPublicKey):
        return TokenRSAKey(ref, public)
    return TokenECKey(ref, public)


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
            return public_key_on_token(session, private)
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
            raise start_error(config, token, cause) from None
        raise ConfigurationError(f"{PREFIX}key_label: {exc}") from None
    except (p11e.NoSuchKey, p11e.MultipleObjectsReturned) as exc:
        raise start_error(config, token, exc) from None
    except LookupError as exc:
        raise ConfigurationError(
            f"{PREFIX}key_label: key {config.key_label!r} on token {config.token_label!r}: {exc}"
        ) from None
    return make_key(ref, found)


def check_mechanism(config: Pkcs11Config, token: TokenSession, key: TokenKey) -> None:
    """Refuse, with one line, a token that does not offer the mechanism ``key`` signs with."""
    mechanism = required_mechanism(key, config.rsa_padding)

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
