"""The CA signer interface (CERT-1): the software key and the PKCS#11 token both provide it."""

from __future__ import annotations

from zope.interface import Attribute, Interface


class ISigner(Interface):
    """Holds the CA's signing key and signs certificates and CRLs with it.

    Certificates and CRLs are built with ``cryptography``; only the to-be-signed bytes reach the key,
    so a key on a token never leaves it.
    """

    name = Attribute("the signer's name, as in the cjs.ca.signer setting")
    ca_certificate = Attribute("the CA certificate (cryptography x509.Certificate) of the key")

    def sign_certificate(builder):
        """Sign an ``x509.CertificateBuilder`` whose issuer is the CA; return the certificate."""

    def sign_crl(builder):
        """Sign an ``x509.CertificateRevocationListBuilder``; return the CRL."""

    def describe():
        """Return a mapping of printable facts: signer, key id, algorithm, CA validity."""


class SignerUnavailable(RuntimeError):
    """The signer cannot sign now (token gone, session lost beyond repair); one-line message.

    The request that needed a signature fails with a notice; the service runs on.
    """
