"""The CA's public revocation endpoints (CERT-6): the CRL and the OCSP responder.

- ``GET /crl/<issuer>.crl``: the DER CRL (``application/pkix-crl``) of the CA named ``<issuer>``
  (:func:`core.pki.crl.issuer_slug`, e.g. ``rokin-kw-ca-3f2a9c1b``), published first if out of date.
  Cacheable until its nextUpdate (``Cache-Control: public, max-age=…``, ``Expires``), with
  ``Last-Modified`` (thisUpdate) and an ``ETag`` (the CRL number) for conditional requests.
- ``POST /ocsp`` (body: a DER ``application/ocsp-request``) and ``GET /ocsp/<base64 request>``
  (RFC 6960 appendix A): the DER ``application/ocsp-response``, never cached.

Both are open to anyone (front proxies, relying parties), need no client certificate, no session and
no CSRF token, and are served outside service hours (``service_hours_exempt``). Nothing here reads or
writes the customer's session.
"""

from __future__ import annotations

import logging
from typing import Any

from cryptography import x509
from cryptography.x509 import ocsp
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPNotFound, HTTPServiceUnavailable
from pyramid.request import Request
from pyramid.response import Response

from core import clock
from core.pki.crl import crl_number, get_publisher
from core.pki.ocsp import (
    CONTENT_TYPE_RESPONSE,
    MAX_REQUEST_BYTES,
    decode_get_path,
    error_response,
    get_responder,
)

log = logging.getLogger(__name__)

CONTENT_TYPE_CRL = "application/pkix-crl"
OCSP_GET_PREFIX = "/ocsp/"


def crl_view(request: Request) -> Response:
    """The DER CRL of the CA in the URL, cacheable until its nextUpdate."""
    publisher = get_publisher(request.registry)
    slug = request.matchdict["issuer"]
    path = publisher.path_of(slug)
    if path is None:
        raise HTTPNotFound()
    try:
        publisher.refresh()
    except Exception:  # e.g. the database is away: the file on disk is still valid until nextUpdate
        log.exception("CRL refresh failed; serving the file as it is")
    try:
        data = path.read_bytes()
    except OSError:
        raise HTTPServiceUnavailable() from None
    crl = x509.load_der_x509_crl(data)
    response = Response(body=data, content_type=CONTENT_TYPE_CRL, conditional_response=True)
    next_update = crl.next_update_utc
    if next_update is not None:
        max_age = max(0, int((next_update - clock.now(request.registry)).total_seconds()))
        response.cache_control.public = (
            True  # core.security.headers keeps a public response's caching
        )
        response.cache_control.max_age = max_age
        response.expires = next_update
    response.last_modified = crl.last_update_utc
    response.etag = str(crl_number(crl))
    return response


def _ocsp_response(request: Request, der: bytes | None) -> Response:
    if der is None or len(der) > MAX_REQUEST_BYTES:
        body = error_response(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    else:
        body = get_responder(request.registry).respond(request.dbsession, der)
    return Response(body=body, content_type=CONTENT_TYPE_RESPONSE)


def ocsp_post(request: Request) -> Response:
    """RFC 6960 over POST: the DER request is the body."""
    length = request.content_length
    if length is not None and length > MAX_REQUEST_BYTES:
        return _ocsp_response(request, None)
    return _ocsp_response(request, request.body)


def ocsp_get(request: Request) -> Response:
    """RFC 6960 appendix A over GET: the base64 DER request is the rest of the path."""
    path = request.path_info
    encoded = path[len(OCSP_GET_PREFIX) :] if path.startswith(OCSP_GET_PREFIX) else ""
    return _ocsp_response(request, decode_get_path(encoded) if encoded else None)


def includeme(config: Configurator) -> None:
    """The CRL publisher and OCSP responder, their routes and views."""
    config.include("core.pki")
    config.add_route("crl", "/crl/{issuer}.crl")
    config.add_route("ocsp", "/ocsp")
    config.add_route("ocsp_get", "/ocsp/*encoded")
    exempt: dict[str, Any] = {"service_hours_exempt": True}
    config.add_view(crl_view, route_name="crl", request_method=("GET", "HEAD"), **exempt)
    config.add_view(
        ocsp_post, route_name="ocsp", request_method="POST", require_csrf=False, **exempt
    )
    config.add_view(ocsp_get, route_name="ocsp_get", request_method="GET", **exempt)
