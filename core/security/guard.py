"""The request guard: hostile or malformed requests are refused before anything decodes them (#12).

ACC-8 and SPEC section 7: a malformed request is answered with a Japanese page and every security
header, never with a 500. :class:`RequestGuard` is WSGI middleware, the outermost layer of both
applications (``core.app.make_app``): it runs before pyramid_retry copies the body and before WebOb
decodes the path, the query or the form, and it refuses

- a ``Host`` header naming another host than the app's public base URL (``cjs.service_url``; the
  staff app's ``cjs.staff.service_url``) (400); a
  request that passes is rewritten to that URL (scheme, host, port), so every link and
  redirect the application builds points there, and forwarded host headers are dropped;
- a path or query string whose percent-decoded bytes are not UTF-8 (encoded surrogates included) or
  hold a control character (400);
- more than ``cjs.request.max_fields`` fields in the query string or a form body (400);
- a body larger than ``cjs.request.max_form_bytes``, or ``cjs.request.max_upload_bytes`` on a route
  with a view declared ``accepts_upload=True`` (413), checked on ``Content-Length`` before reading;
  a chunked body is read through a bounded reader;
- a form body (``application/x-www-form-urlencoded``, or no type) whose values are not UTF-8 or hold
  a control character other than tab, line feed and carriage return, which textareas send (400);
- a form charset other than UTF-8 (400), and a ``multipart/form-data`` body on a route that takes no
  file (400).

The view deriver :func:`upload_deriver` adds the view option ``accepts_upload``: a view that takes
files declares ``accepts_upload=True``; every other view refuses multipart and a body over the form
limit before the CSRF check (the first reader of the body) runs.
"""

from __future__ import annotations

import html
import io
import logging
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import unquote_to_bytes, urlsplit

from pyramid.config import Configurator
from pyramid.i18n import Localizer
from pyramid.interfaces import IRoutesMapper
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response
from pyramid.viewderivers import INGRESS

from core.i18n import _, headers_localizer, translate
from core.security.headers import request_id_of, security_headers

log = logging.getLogger(__name__)

FORM_URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
#: Headers that name another host or port than the one the request came to. WebOb and Pyramid do
#: not read them today; the guard drops them so that nothing added later can believe them.
FORWARDED_HOST_HEADERS = (
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_SERVER",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
    "HTTP_FORWARDED",
    "HTTP_X_ORIGINAL_HOST",
    "HTTP_X_HOST",
)
#: Control characters (Unicode category Cc): refused anywhere in a path or a query.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
#: Refused in a form value: the same except tab, line feed and carriage return (textareas).
_CONTROL_IN_FORM = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_UTF8_NAMES = {"utf-8", "utf8"}
_READ_CHUNK = 64 * 1024
_UPLOAD_ROUTES = "cjs.upload_routes"


@dataclass(frozen=True)
class RequestLimits:
    """The sizes a request may have (settings ``cjs.request.*``)."""

    max_form_bytes: int
    max_upload_bytes: int
    max_fields: int

    @classmethod
    def from_settings(cls, settings: MutableMapping[str, Any]) -> RequestLimits:
        """The limits of the validated settings."""
        return cls(
            settings["cjs.request.max_form_bytes"],
            settings["cjs.request.max_upload_bytes"],
            settings["cjs.request.max_fields"],
        )


@dataclass(frozen=True)
class PublicAddress:
    """The scheme, host and port of ``cjs.service_url``: the only address the service answers for."""

    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> PublicAddress:
        """From a base URL as ``core.settings.public_url`` normalised it."""
        parts = urlsplit(url)
        default = 443 if parts.scheme == "https" else 80
        return cls(parts.scheme, (parts.hostname or "").lower(), parts.port or default)

    @property
    def host_header(self) -> str:
        """The ``Host`` value of a request for this address (the port only when not the default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    def names(self, host_header: str) -> bool:
        """Whether a request's ``Host`` header names this host (case-insensitive).

        A port in the header is not compared, only checked to be a number: the request reached the
        server, and OpenSSL's OCSP client sends none; every URL is built with this address's port.
        """
        try:
            parts = urlsplit(f"{self.scheme}://{host_header.strip()}/")
            parts.port  # noqa: B018 (raises on a port that is no number)
        except ValueError:
            return False
        if parts.username is not None or parts.password is not None or parts.path != "/":
            return False
        return (parts.hostname or "") == self.host


# --- Refusals ------------------------------------------------------------------------------------

_TITLES = {
    400: _("リクエストを処理できません"),
    413: _("送信された内容が大きすぎます"),
}


def refusal_page(status: int, message: str, request_id: str, localizer: Localizer) -> bytes:
    """A plain page (no template: the request may be undecodable) with the request id, in the
    language of ``localizer``."""

    def text(message: str) -> str:
        return html.escape(translate(localizer, message))

    title = text(_TITLES[status])
    return (
        f'<!DOCTYPE html>\n<html lang="{html.escape(localizer.locale_name)}">\n<head>\n'
        f'<meta charset="utf-8">\n<title>{title}</title>\n'
        '<link rel="stylesheet" href="/static/cjs.css">\n</head>\n<body>\n<main>\n'
        f"<h1>{title}</h1>\n"
        f'<p class="message error" role="alert">{text(message)}</p>\n'
        f'<p class="request-id">{text(_("お問い合わせ番号：${id}", id=request_id))}</p>\n'
        f'<div class="buttons"><a class="button" href="/">{text(_("トップページへ"))}</a></div>\n'
        "</main>\n</body>\n</html>\n"
    ).encode()


_STATUS_LINES = {400: "400 Bad Request", 413: "413 Payload Too Large"}

#: What the visitor reads for each kind of refusal (the log gets the technical reason).
UNREADABLE = _(
    "送信された内容に、このサービスで扱えない文字または形式が含まれています。"
    "お手数ですが、トップページからもう一度操作してください。"
)
WRONG_HOST = _("このアドレスではご利用いただけません。正しいアドレスから操作してください。")
NO_FILES = _("この画面ではファイルを送信できません。画面から操作してください。")


def too_large(limit: int) -> str:
    """The 413 message, naming the limit in KB."""
    return _(
        "送信された内容が大きすぎます（上限 ${limit} KB）。内容を減らして、もう一度操作してください。",
        limit=f"{limit // 1024:,}",
    )


class Refusal(Exception):
    """A request the guard refuses: the status, what the visitor reads, and why (for the log)."""

    def __init__(self, status: int, message: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.message = message
        self.reason = reason


def send_refusal(
    start_response: Callable[..., Any],
    status: int,
    message: str,
    request_id: str,
    localizer: Localizer,
) -> list[bytes]:
    """Answer a refused request from WSGI middleware: the page, the security headers, no cache.

    The connection is closed: the body the client may still be sending is never read.
    """
    body = refusal_page(status, message, request_id, localizer)
    start_response(
        _STATUS_LINES[status],
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
            *security_headers(request_id),
        ],
    )
    return [body]


# --- Checks --------------------------------------------------------------------------------------


def _text(raw: bytes, what: str, control: re.Pattern[str]) -> str:
    """``raw`` as UTF-8 text without the ``control`` characters, or a :class:`Refusal`."""
    try:
        text = raw.decode("utf-8")  # strict: overlong forms and encoded surrogates are errors
    except UnicodeDecodeError:
        raise Refusal(400, UNREADABLE, f"{what} is not UTF-8") from None
    if control.search(text):
        raise Refusal(400, UNREADABLE, f"{what} holds a control character")
    return text


def _wsgi_bytes(value: str, what: str) -> bytes:
    """A WSGI "bytes as latin-1" string back to its bytes."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        raise Refusal(400, UNREADABLE, f"{what} is not a WSGI byte string") from None


def check_fields(encoded: bytes, what: str, limit: int, control: re.Pattern[str]) -> None:
    """A ``name=value&…`` string: at most ``limit`` fields, names and values UTF-8 without
    ``control`` characters once percent-decoded."""
    if not encoded:
        return
    fields = [field for field in encoded.split(b"&") if field]
    if len(fields) > limit:
        raise Refusal(400, UNREADABLE, f"{what} has {len(fields)} fields, more than {limit}")
    for field in fields:
        _text(unquote_to_bytes(field.replace(b"+", b" ")), what, control)


def _media_type(environ: MutableMapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The request's media type (lower case, "" when absent) and its parameters."""
    media, *params = environ.get("CONTENT_TYPE", "").split(";")
    parameters = {}
    for param in params:
        name, _, value = param.partition("=")
        parameters[name.strip().lower()] = value.strip().strip('"').lower()
    return media.strip().lower(), parameters


def _drain(stream: IO[bytes], most: int) -> None:
    """Read and drop what is left of a refused body, at most ``most`` bytes (the server's own
    limit), so that a client still sending gets the 413 page instead of a reset connection (a
    lingering close, as nginx does)."""
    left = most
    while left > 0:
        try:
            chunk = stream.read(min(_DRAIN_CHUNK, left))
        except Exception:  # the client went away, or a bad or oversized chunked body: stop here
            return
        if not chunk:
            return
        left -= len(chunk)


_DRAIN_CHUNK = 64 * 1024


def _read_bounded(stream: IO[bytes], length: int | None, limit: int) -> IO[bytes]:
    """Read the body (``length`` bytes, or a chunked body to its end) into a seekable file; a body
    over ``limit`` is refused with 413 after at most ``limit`` + 1 bytes were read."""
    buffer: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_READ_CHUNK * 16)  # noqa: SIM115
    remaining = limit + 1 if length is None else length
    size = 0
    while remaining > 0:
        try:
            chunk = stream.read(min(_READ_CHUNK, remaining))
        except Exception as exc:  # the server's own limit (cheroot's MaxSizeExceeded), a reset
            buffer.close()
            if type(exc).__name__ == "MaxSizeExceeded":
                raise Refusal(413, too_large(limit), "body over the server's limit") from None
            raise Refusal(400, UNREADABLE, f"body unreadable: {type(exc).__name__}") from None
        if not chunk:
            break
        buffer.write(chunk)
        size += len(chunk)
        remaining -= len(chunk)
        if size > limit:
            buffer.close()
            raise Refusal(413, too_large(limit), f"chunked body over {limit} bytes")
    buffer.seek(0)
    return buffer


class _ClosingResult:
    """A WSGI response iterable that also closes the body the guard buffered."""

    def __init__(self, result: Iterable[bytes], buffered: IO[bytes]) -> None:
        self.result = result
        self.buffered = buffered

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.result)

    def close(self) -> None:
        """Close the application's iterable, then the buffered body."""
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            self.buffered.close()


def upload_routes(registry: Registry) -> set[str]:
    """The names of the routes with a view declared ``accepts_upload=True``."""
    routes: set[str] = registry.setdefault(_UPLOAD_ROUTES, set())
    return routes


class RequestGuard:
    """WSGI middleware refusing hostile requests before the application decodes them (see above).

    ``app`` is the Pyramid router, possibly wrapped (its ``registry`` is kept); ``public_url`` the
    normalised ``cjs.service_url``.
    """

    def __init__(
        self, app: Callable[..., Any], registry: Registry, public_url: str, limits: RequestLimits
    ) -> None:
        self.app = app
        #: The wrapped router's registry (tests and tools reach the app's state through it).
        self.registry = registry
        self.address = PublicAddress.parse(public_url)
        self.limits = limits

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request_id = request_id_of(environ)
        received = environ.get("wsgi.input")
        try:
            self.check(environ)
        except Refusal as refusal:
            if environ.get("wsgi.input") is not received:
                environ["wsgi.input"].close()  # the body the guard had read
            if refusal.status == 413 and received is not None:
                _drain(received, self.limits.max_upload_bytes)
            log.info("request %s refused (%d): %s", request_id, refusal.status, refusal.reason)
            localizer = headers_localizer(self.registry, environ)
            return send_refusal(
                start_response, refusal.status, refusal.message, request_id, localizer
            )
        if environ.get("wsgi.input") is received:
            return self.app(environ, start_response)
        buffered = environ["wsgi.input"]  # the body the guard read: closed with the response
        try:
            return _ClosingResult(self.app(environ, start_response), buffered)
        except BaseException:
            buffered.close()
            raise

    def check(self, environ: dict[str, Any]) -> None:
        """Refuse (:class:`Refusal`) or prepare ``environ`` for the application."""
        self._check_host(environ)
        path = _text(
            _wsgi_bytes(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), "the path"),
            "the path",
            _CONTROL,
        )
        query = _wsgi_bytes(environ.get("QUERY_STRING", ""), "the query")
        check_fields(query, "the query", self.limits.max_fields, _CONTROL)
        self._check_body(environ, path)

    def _check_host(self, environ: dict[str, Any]) -> None:
        host = environ.get("HTTP_HOST")
        if host is None or not self.address.names(host):
            raise Refusal(400, WRONG_HOST, f"Host {host!r} is not {self.address.host_header}")
        for name in FORWARDED_HOST_HEADERS:
            environ.pop(name, None)
        environ["wsgi.url_scheme"] = self.address.scheme
        environ["HTTP_HOST"] = self.address.host_header
        environ["SERVER_NAME"] = self.address.host
        environ["SERVER_PORT"] = str(self.address.port)

    def _accepts_upload(self, path: str) -> bool:
        names = upload_routes(self.registry)
        mapper = self.registry.queryUtility(IRoutesMapper)
        if not names or mapper is None:
            return False
        routes = (mapper.get_route(name) for name in names)
        return any(route is not None and route.match(path) is not None for route in routes)

    def _check_body(self, environ: dict[str, Any], path: str) -> None:
        raw_length = environ.get("CONTENT_LENGTH", "").strip()
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if raw_length and not raw_length.isdigit():
            raise Refusal(400, UNREADABLE, "Content-Length is not a number")
        length = int(raw_length) if raw_length else None
        if not chunked and not length:
            return
        uploads = self._accepts_upload(path)
        limit = self.limits.max_upload_bytes if uploads else self.limits.max_form_bytes
        if length is not None and length > limit:
            raise Refusal(413, too_large(limit), f"Content-Length {length} over {limit}")
        media, parameters = _media_type(environ)
        if media == MULTIPART and not uploads:
            raise Refusal(400, NO_FILES, "multipart body on a route that takes no file")
        is_form = media in {"", FORM_URLENCODED}
        charset = parameters.get("charset")
        if (is_form or media == MULTIPART) and charset is not None and charset not in _UTF8_NAMES:
            raise Refusal(400, UNREADABLE, f"form charset {charset!r}")
        if chunked or is_form or media == MULTIPART:  # read here, closed with the response
            body = _read_bounded(environ["wsgi.input"], None if chunked else length, limit)
            environ["wsgi.input"] = body
            environ["webob.is_body_seekable"] = True  # WebOb and pyramid_retry copy it no more
            environ["CONTENT_LENGTH"] = str(body.seek(0, io.SEEK_END))
            body.seek(0)
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            if is_form:
                check_fields(body.read(), "the form", self.limits.max_fields, _CONTROL_IN_FORM)
                body.seek(0)


# --- The view option ``accepts_upload`` -----------------------------------------------------------


def refusal_response(request: Request, status: int, message: str) -> Response:
    """The refusal page as a Pyramid response (the security headers are added on NewResponse)."""
    return Response(
        body=refusal_page(
            status,
            message,
            request.request_id,
            headers_localizer(request.registry, request.environ),
        ),
        status=status,
        content_type="text/html",
        charset="utf-8",
    )


def upload_deriver(view: Callable[..., Any], info: Any) -> Callable[..., Any]:
    """``accepts_upload=True``: the view takes files up to ``cjs.request.max_upload_bytes``.

    Every other view refuses a multipart body (400) and a body over ``cjs.request.max_form_bytes``
    (413) before the security policy and the CSRF check read it: a route may have a view that
    takes files (which raised the guard's limit) beside views that do not.
    """
    if info.exception_only:
        return view
    if info.options.get("accepts_upload"):
        route_name = info.options.get("route_name")
        if route_name is None:
            raise ValueError("accepts_upload=True needs a route_name (the guard matches routes)")
        upload_routes(info.registry).add(route_name)
        return view
    max_form_bytes = info.registry.settings["cjs.request.max_form_bytes"]

    def no_upload(context: Any, request: Request) -> Any:
        if _media_type(request.environ)[0] == MULTIPART:
            return refusal_response(request, 400, NO_FILES)
        if (request.content_length or 0) > max_form_bytes:
            return refusal_response(request, 413, too_large(max_form_bytes))
        return view(context, request)

    return no_upload


upload_deriver.options = ("accepts_upload",)  # type: ignore[attr-defined]


def wrap(
    app: Callable[..., Any], registry: Registry, url_setting: str = "cjs.service_url"
) -> RequestGuard:
    """The guard around ``app`` with the limits of ``registry``'s settings and the public URL of
    its ``url_setting`` (the staff app: ``cjs.staff.service_url``, its own host)."""
    settings = registry.settings
    return RequestGuard(app, registry, settings[url_setting], RequestLimits.from_settings(settings))


def includeme(config: Configurator) -> None:
    """The security headers on every response and the ``accepts_upload`` view option (both apps)."""
    config.include("core.security.headers")
    config.add_view_deriver(upload_deriver, under=INGRESS, over="secured_view")
