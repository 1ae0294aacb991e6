"""The TLS client certificate a request came with, from either deployment (AUTH-5).

Direct TLS (cheroot): the server verified the certificate against our CA and put ``SSL_CLIENT_VERIFY``
and ``SSL_CLIENT_CERT`` in the WSGI environ. Behind nginx: nginx verified it and forwards
``X-SSL-Client-Verify`` and ``X-SSL-Client-Cert`` (the URL-escaped PEM), and ``X-Forwarded-Proto``.
Those headers are believed only from the addresses in ``cjs.proxy.trusted``; from anywhere else a
request carrying them is refused (400, the guard's page with the security headers). A ``FAILED``
verification is refused everywhere. The scheme, host and port of every URL the application builds
come from ``cjs.service_url`` (``core.security.guard``), never from ``X-Forwarded-Proto`` or
``X-Forwarded-Host``.
``X-Forwarded-For`` (the client address WebOb reports, and the audit log records) is likewise kept
only from a trusted proxy and dropped from anyone else.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.router import Router

from core.i18n import _, headers_localizer
from core.security.guard import send_refusal
from core.security.headers import request_id_of

log = logging.getLogger(__name__)

VERIFY_HEADER = "HTTP_X_SSL_CLIENT_VERIFY"
CERT_HEADER = "HTTP_X_SSL_CLIENT_CERT"
PROTO_HEADER = "HTTP_X_FORWARDED_PROTO"
PROXY_HEADERS = (VERIFY_HEADER, CERT_HEADER, PROTO_HEADER)
FORWARDED_FOR_HEADER = "HTTP_X_FORWARDED_FOR"

#: The certificate policy that marks a certificate of the CA's staff profile (``core.pki.staff``):
#: an OID of the UUID arc 2.25 (ITU-T X.667). The customer app refuses such a certificate, the staff
#: app accepts no other.
STAFF_POLICY_OID = x509.ObjectIdentifier("2.25.287430037976741757780028944697038604840")

ENVIRON_VERIFY = "cjs.client_verify"
ENVIRON_CERT = "cjs.client_cert_pem"


@dataclass(frozen=True)
class PresentedCertificate:
    """What the TLS layer said about the client certificate: ``SUCCESS`` with it, or ``NONE``."""

    verify: str
    certificate: x509.Certificate | None


NONE = PresentedCertificate("NONE", None)


def is_staff_profile(certificate: x509.Certificate) -> bool:
    """Whether ``certificate`` names the staff policy :data:`STAFF_POLICY_OID`."""
    try:
        policies = certificate.extensions.get_extension_for_class(x509.CertificatePolicies)
    except x509.ExtensionNotFound:
        return False
    return any(policy.policy_identifier == STAFF_POLICY_OID for policy in policies.value)


#: What a visitor refused here reads (the log gets the reason).
CERTIFICATE_REFUSED = _(
    "電子証明書を確認できませんでした。お手数ですが、トップページからもう一度操作してください。"
)


def _bad_request(
    registry: Registry, environ: dict[str, Any], start_response: Callable[..., Any], reason: str
) -> list[bytes]:
    request_id = request_id_of(environ)
    log.info("request %s refused (400): %s", request_id, reason)
    localizer = headers_localizer(registry, environ)
    return send_refusal(start_response, 400, CERTIFICATE_REFUSED, request_id, localizer)


class ClientCertificateMiddleware:
    """WSGI middleware that normalises the client certificate of both deployments into the environ.

    ``trusted_proxies`` are the networks whose requests may carry the proxy headers.
    """

    def __init__(self, app: Router, trusted_proxies: Iterable[str]) -> None:
        self.app = app
        #: The wrapped Pyramid router's registry (tests and tools reach the app's state through it).
        self.registry: Registry = app.registry
        self.trusted = [ipaddress.ip_network(net, strict=False) for net in trusted_proxies]

    def _from_trusted_proxy(self, environ: dict[str, Any]) -> bool:
        try:
            address = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        for key in (ENVIRON_VERIFY, ENVIRON_CERT):
            environ.pop(key, None)
        has_proxy_headers = any(key in environ for key in PROXY_HEADERS)
        from_trusted_proxy = self._from_trusted_proxy(environ)
        if has_proxy_headers and not from_trusted_proxy:
            return _bad_request(
                self.registry,
                environ,
                start_response,
                "client certificate headers from an untrusted peer",
            )
        if not from_trusted_proxy:
            # WebOb's request.client_addr (the audit log's address) believes X-Forwarded-For:
            # only a trusted proxy may set it (nginx overwrites it with the peer's address).
            environ.pop(FORWARDED_FOR_HEADER, None)
        if has_proxy_headers:
            verify = environ.get(VERIFY_HEADER, "NONE")
            pem = unquote(environ.get(CERT_HEADER, ""))
        else:
            verify = environ.get("SSL_CLIENT_VERIFY", "NONE")
            pem = environ.get("SSL_CLIENT_CERT", "")
        if verify != "NONE" and verify != "SUCCESS":
            return _bad_request(
                self.registry, environ, start_response, "client certificate verification failed"
            )
        if verify == "SUCCESS" and pem:
            environ[ENVIRON_VERIFY] = "SUCCESS"
            environ[ENVIRON_CERT] = pem
        else:
            environ[ENVIRON_VERIFY] = "NONE"
        return self.app(environ, start_response)


def _client_certificate(request: Request) -> PresentedCertificate:
    if request.environ.get(ENVIRON_VERIFY) != "SUCCESS":
        return NONE
    try:
        certificate = x509.load_pem_x509_certificate(request.environ[ENVIRON_CERT].encode())
    except ValueError:
        return NONE
    return PresentedCertificate("SUCCESS", certificate)


def includeme(config: Configurator) -> None:
    """Give requests ``request.client_certificate`` (the middleware is added by the app factory)."""
    config.add_request_method(_client_certificate, "client_certificate", reify=True)
