"""The service's own PKI (CERT-): client certificates, their revocation, the CRL and the OCSP responder."""

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    """Start the CRL publisher and the OCSP responder of this application."""
    config.include("core.pki.crl")
    config.include("core.pki.ocsp")
