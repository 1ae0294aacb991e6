"""Messages written in Python, in the screen's language (SPEC 8, #15 item 3).

A message is marked with :func:`_`: ``_("${label}を入力してください。", label=_("ユーザーID"))``.
What it returns, a :class:`Message`, *is* the Japanese text (a ``str``, placeholders filled in), so
the Japanese screens, the staff console, the logs and the tests read it as before; it also keeps its
catalogue entry (the msgid with ``${name}`` placeholders) and the values, so that :func:`localize`
can give it in the request's language. Placeholder values that are messages themselves (a field's
label in a required-field message) are translated first.

Templates translate through ``_()`` as well (``{{ _(screen.title) }}``): the Jinja environment's
gettext is :class:`TemplateGettext`, which knows messages. Babel extracts the ``_("…")`` calls of
the Python modules named in babel.cfg into the ``cjs`` catalogue (``make messages``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyramid.i18n import Localizer, TranslationString, get_localizer
from pyramid.request import Request
from pyramid_jinja2.i18n import GetTextWrapper

#: The gettext domain of every message of the customer screens (core/locale/*/LC_MESSAGES/cjs.po).
DOMAIN = "cjs"


class Message(str):
    """A Japanese text that can be given in another language: ``msgid`` and its ``values``."""

    msgid: str
    values: Mapping[str, Any]

    def __new__(cls, msgid: str, values: Mapping[str, Any]) -> Message:
        text = TranslationString(msgid, mapping=dict(values)).interpolate() if values else msgid
        message = super().__new__(cls, text)
        message.msgid = msgid
        message.values = dict(values)
        return message

    def __reduce__(self) -> tuple[Any, ...]:
        return (Message, (self.msgid, self.values))


def _(msgid: str, /, **values: Any) -> Message:
    """Mark ``msgid`` (Japanese, ``${name}`` placeholders) for the catalogue, with its values."""
    return Message(msgid, values)


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
        return str(localizer.translate(TranslationString(text.msgid, DOMAIN, mapping=values)))
    return str(localizer.translate(text, domain=DOMAIN, mapping=mapping))


def localize(request: Request, text: Any) -> str:
    """``text`` in ``request``'s language (for what is stored, such as a flashed notice)."""
    return translate(get_localizer(request), text)


class TemplateGettext(GetTextWrapper):
    """The templates' ``_()`` and ``{% trans %}``: pyramid_jinja2's, knowing :class:`Message`."""

    def gettext(self, message: Any, mapping: Mapping[str, Any] | None = None) -> str:
        """``message`` in the request's language."""
        return translate(self.localizer, message, mapping)
