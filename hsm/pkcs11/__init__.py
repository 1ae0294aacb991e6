"""The PKCS#11 signer: the CA key on an HSM (or SoftHSM2), used through python-pkcs11 (CERT-1).

The package: ``config`` (the settings), ``errors`` (what each PKCS#11 error means), ``session`` (the
module and the logged-in token session), ``keys`` (the key on the token as cryptography sees it),
``ca_keys`` (making and inspecting CA keys), ``signer`` (the ``ISigner``) and ``plugin`` (its hooks,
the ``cjs.signers`` entry point ``pkcs11``).

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
