"""Messages written in Python, in the screen's language (SPEC 8, #15 item 3).

A message is marked with :func:`_`: ``_("${label}を入力してください。", label=_("ユーザーID"))``.
What it returns, a :class:`Message`, *is* the Japanese text (a ``str``, placeholders filled in), so
the Japanese screens, the staff console, the logs and the tests read it as before; it also keeps its
catalogue entry (the msgid with ``${name}`` placeholders) and the values, so that :func:`localize`
can give it in the request's language. Placeholder values that are messages themselves (a field's
label in a required-field message) are translated first. A Japanese word whose English depends on
where it is used is marked with :func:`pgettext` and a context (表示: "Show" as a restriction level
of ACC-7, "View" as the manuals' button).

A template writes a message in the request's language by itself (``{{ screen.title }}``): the Jinja
environment's ``finalize`` is :func:`finalize`. Its ``_()`` and ``{% trans %}`` go through
:class:`TemplateGettext`, which knows messages too. Babel extracts the ``_("…")`` calls of
the Python modules named in babel.cfg into the ``cjs`` catalogue (``make messages``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyramid.i18n import Localizer, TranslationString, get_localizer, make_localizer
from pyramid.interfaces import ILocaleNegotiator, ILocalizer, ITranslationDirectories
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.threadlocal import get_current_request
from pyramid_jinja2.i18n import GetTextWrapper

#: The gettext domain of every message of the customer screens (core/locale/*/LC_MESSAGES/cjs.po).
DOMAIN = "cjs"
#: The language of the screens unless a customer asks for another (the staff console's only one).
DEFAULT_LOCALE = "ja"
#: The compiled catalogues (``make install`` compiles each ``.po``); the app adds it as ``core:locale``.
LOCALE_DIR = Path(__file__).resolve().parent / "locale"


class Message(str):
    """A Japanese text that can be given in another language: ``msgid`` and its ``values``."""

    msgid: str
    values: Mapping[str, Any]
    #: The catalogue entry's msgctxt (:func:`pgettext`), None for most messages.
    context: str | None

    def __new__(cls, msgid: str, values: Mapping[str, Any], context: str | None = None) -> Message:
        text = TranslationString(msgid, mapping=dict(values)).interpolate() if values else msgid
        message = super().__new__(cls, text)
        message.msgid = msgid
        message.values = dict(values)
        message.context = context
        return message

    def __reduce__(self) -> tuple[Any, ...]:
        return (Message, (self.msgid, self.values, self.context))


def _(msgid: str, /, **values: Any) -> Message:
    """Mark ``msgid`` (Japanese, ``${name}`` placeholders) for the catalogue, with its values."""
    return Message(msgid, values)


def pgettext(context: str, msgid: str, /, **values: Any) -> Message:
    """:func:`_` for a ``msgid`` the catalogue holds more than once, told apart by ``context``
    (Babel extracts it with its msgctxt): ``pgettext("restriction level", "表示")``."""
    return Message(msgid, values, context)


def translate(localizer: Localizer, text: Any, mapping: Mapping[str, Any] | None = None) -> str:
    """``text`` in ``localizer``'s language.

    A :class:`Message` is looked up by its msgid, its values translated first; any other string
    is looked up as it is (a template's own text, or data: what the catalogue does not hold comes
    back unchanged). ``mapping`` fills ``${name}`` placeholders of a plain string.
    """
    if isinstance(text, Message):
        values = {
            name: translate(localizer, value) if isinstance(value, Message) else value
            for name, value in text.values.items()
        }
        message = TranslationString(text.msgid, DOMAIN, mapping=values, context=text.context)
        return str(localizer.translate(message))
    return str(localizer.translate(text, domain=DOMAIN, mapping=mapping))


def localize(request: Request, text: Any) -> str:
    """``text`` in ``request``'s language (for what is stored, such as a flashed notice)."""
    return translate(get_localizer(request), text)


@functools.cache
def localizer_for(locale: str) -> Localizer:
    """The catalogue of ``locale`` where no request is being answered (a mail, a job)."""
    return make_localizer(locale, [str(LOCALE_DIR)])


def headers_localizer(registry: Registry, environ: dict[str, Any]) -> Localizer:
    """The localizer of a request the app has not taken in (a refusal of the request guard).

    The app's locale negotiator (the customer app's reads the language cookie and Accept-Language
    only) decides from the headers; without one, or when the headers cannot be read, the default
    language (Japanese).
    """
    locale = DEFAULT_LOCALE
    negotiator = registry.queryUtility(ILocaleNegotiator)
    if negotiator is not None:
        with contextlib.suppress(Exception):  # headers it cannot read: the default language
            locale = negotiator(Request(environ)) or locale
    localizer: Localizer | None = registry.queryUtility(ILocalizer, name=locale)
    if localizer is None:
        localizer = make_localizer(
            locale, registry.queryUtility(ITranslationDirectories, default=[])
        )
        registry.registerUtility(localizer, ILocalizer, name=locale)
    return localizer


def finalize(value: Any) -> Any:
    """Jinja's ``finalize``: a :class:`Message` a template writes is written in the language of
    the request being answered; anything else is written as it is."""
    if isinstance(value, Message):
        request = get_current_request()
        if request is not None:
            return translate(get_localizer(request), value)
    return value


class TemplateGettext(GetTextWrapper):
    """The templates' ``_()`` and ``{% trans %}``: pyramid_jinja2's, knowing :class:`Message`."""

    def gettext(self, message: Any, mapping: Mapping[str, Any] | None = None) -> str:
        """``message`` in the request's language."""
        return translate(self.localizer, message, mapping)
