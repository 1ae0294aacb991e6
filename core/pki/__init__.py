"""The service's own PKI (CERT-): client certificates, their revocation, the CRL and the OCSP responder.

``x509`` is the X.509 profile every other module and the signers (``hsm``) share, a leaf; ``signers``
picks the signer plugin named by ``cjs.ca.signer``; ``ca`` keeps the CA folder (``cjs ca …``) through
the signer hooks; ``certificates`` issues and revokes, ``crl`` and ``ocsp`` publish the revocations.
"""

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    """Start the CRL publisher and the OCSP responder of this application."""
    config.include("core.pki.crl")
    config.include("core.pki.ocsp")
