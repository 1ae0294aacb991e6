"""The screens' language (SPEC 8): Japanese by default, English on request.

The locale negotiator picks, in this order: the visitor's explicit choice, kept in the ``cjs_lang``
cookie by the header's switch (:func:`switch_language`); else the best of ``ja``/``en`` in the
browser's Accept-Language (quality order); else Japanese. Only the customer app negotiates: the
staff console stays Japanese.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from pyramid.config import Configurator
from pyramid.events import BeforeRender
from pyramid.httpexceptions import HTTPBadRequest, HTTPFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

#: The languages the screens are written in, each named in itself; the first is the default.
LANGUAGE_NAMES = {"ja": "日本語", "en": "English"}
LANGUAGES = tuple(LANGUAGE_NAMES)
DEFAULT_LANGUAGE = LANGUAGES[0]
#: The cookie that keeps the visitor's explicit choice.
LANGUAGE_COOKIE = "cjs_lang"
#: How long the choice is kept (a year, in seconds).
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600
#: The longest return path the switch accepts (a screen's path and query string).
MAX_RETURN_PATH = 2000


def negotiate_locale(request: Request) -> str:
    """The locale of ``request``: the cookie's choice, else Accept-Language, else Japanese."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    best: str = request.accept_language.lookup(LANGUAGES, default=DEFAULT_LANGUAGE)
    return best


@dataclass(frozen=True)
class LanguageSwitch:
    """The header's link to the other language: its code, its own name, where it goes."""

    language: str
    name: str
    href: str


def language_switch(request: Request) -> LanguageSwitch:
    """The switch to the other language, coming back to the screen shown (a GET of its path)."""
    other = next(code for code in LANGUAGES if code != request.locale_name)
    href = request.route_path("language", _query={"lang": other, "next": request.path_qs})
    return LanguageSwitch(other, LANGUAGE_NAMES[other], href)


def _template_globals(event: BeforeRender) -> None:
    request = event.get("request")
    if request is not None:
        event["language_switch"] = lambda: language_switch(request)


def is_local_path(target: str) -> bool:
    """Whether ``target`` is a path of this site: one leading "/", no scheme, host or backslash.

    "//evil.example/", "/\\evil.example", "https://evil.example/" and control characters are
    refused, since a browser may read each of them as another site.
    """
    if not target.startswith("/") or target.startswith("//") or len(target) > MAX_RETURN_PATH:
        return False
    if "\\" in target or any(
        ord(character) < 0x20 or ord(character) == 0x7F for character in target
    ):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


@view_config(
    route_name="language",
    request_method="GET",
    permission=NO_PERMISSION_REQUIRED,
    service_hours_exempt=True,
)
def switch_language(request: Request) -> Response:
    """The header's switch: keep ``lang`` in the cookie and go back to ``next``, a local path only.

    An unknown language is a bad request; a ``next`` that is not a path of this site (another
    site, a scheme-relative URL) is not followed: the visitor lands on the top page instead.
    """
    language = request.GET.get("lang", "")
    if language not in LANGUAGES:
        raise HTTPBadRequest()
    target = request.GET.get("next", "")
    if not is_local_path(target):
        target = request.route_path("top")
    response = HTTPFound(location=target)
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=LANGUAGE_COOKIE_MAX_AGE,
        path="/",
        secure=True,
        samesite="Lax",
    )
    return response


def includeme(config: Configurator) -> None:
    """Negotiate each request's locale and add the switch's route (customer app only)."""
    config.set_locale_negotiator(negotiate_locale)
    config.add_subscriber(_template_globals, BeforeRender)
    config.add_route("language", "/language")
    config.scan("core.web.language")
