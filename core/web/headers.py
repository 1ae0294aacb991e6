"""Response hardening and request identity for every response the service sends.

A strict Content-Security-Policy (no inline script or style), HSTS, frame-ancestors 'none',
nosniff, a same-origin Referrer-Policy and ``no-store`` caching of dynamic pages (banking screens must
not be kept by shared caches or the back-forward cache after logout); a response a view marked
``Cache-Control: public`` (the CRL) keeps its own caching.
"""

from __future__ import annotations

import uuid

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


def _request_id(request: Request) -> str:
    """An id for this request, echoed in X-Request-ID and recorded with audit events."""
    return uuid.uuid4().hex


def add_security_headers(event: NewResponse) -> None:
    """Set the security headers on a response; dynamic pages are never stored by caches."""
    response = event.response
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    response.headers["X-Request-ID"] = event.request.request_id
    if not event.request.path_info.startswith("/static/") and not response.cache_control.public:
        response.headers["Cache-Control"] = "no-store"  # only public documents (the CRL) are cached


def includeme(config: Configurator) -> None:
    """Register the request id and the security headers; serve static files."""
    config.add_request_method(_request_id, "request_id", reify=True)
    config.add_subscriber(add_security_headers, NewResponse)
    config.add_static_view("static", "templates:static", cache_max_age=3600)
