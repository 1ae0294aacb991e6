"""Response hardening and request identity for every response either application sends.

A strict Content-Security-Policy (no inline script or style), HSTS, frame-ancestors 'none',
nosniff, a same-origin Referrer-Policy and ``no-store`` caching of dynamic pages (banking screens must
not be kept by shared caches or the back-forward cache after logout); a response a view marked
``Cache-Control: public`` (the CRL) keeps its own caching.

The request guard (``core.security.guard``) gives every request its id before the router sees it
and sends its own refusals with the same headers (:func:`security_headers`), so a request refused
before Pyramid could decode it is answered like any other.
"""

from __future__ import annotations

import uuid
from collections.abc import MutableMapping
from typing import Any

from pyramid.config import Configurator
from pyramid.events import NewResponse
from pyramid.request import Request

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

#: The WSGI environ key of the request id the guard gives every request.
REQUEST_ID_ENVIRON_KEY = "cjs.request_id"


def request_id_of(environ: MutableMapping[str, Any]) -> str:
    """The request's id, made once per request (the guard's, or a new one without the guard)."""
    return str(environ.setdefault(REQUEST_ID_ENVIRON_KEY, uuid.uuid4().hex))


def security_headers(request_id: str) -> list[tuple[str, str]]:
    """Every security header, X-Request-ID and ``no-store``: for a response built outside Pyramid."""
    return [
        *SECURITY_HEADERS.items(),
        ("X-Request-ID", request_id),
        ("Cache-Control", "no-store"),
    ]


def _request_id(request: Request) -> str:
    """An id for this request, echoed in X-Request-ID and recorded with audit events."""
    return request_id_of(request.environ)


def add_security_headers(event: NewResponse) -> None:
    """Set the security headers on a response; dynamic pages are never stored by caches.

    Reads the raw ``PATH_INFO`` (never ``request.path_info``, which decodes and could raise).
    """
    response = event.response
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    response.headers["X-Request-ID"] = event.request.request_id
    is_static = event.request.environ.get("PATH_INFO", "").startswith("/static/")
    if not is_static and not response.cache_control.public:
        response.headers["Cache-Control"] = "no-store"  # only public documents (the CRL) are cached


def includeme(config: Configurator) -> None:
    """Register the request id and the security headers on every response."""
    config.add_request_method(_request_id, "request_id", reify=True)
    config.add_subscriber(add_security_headers, NewResponse)
