"""Japan time and the date/time formats of the service: the one place that defines them.

Every screen, mail, PDF and job shows times in Japan time (JST, UTC+9, no daylight saving); the
database keeps UTC. The formats, each used where the SPEC's screens and mails show it:

======================  ==========================  ================================================
function                example                     where
======================  ==========================  ================================================
:func:`slashed`         ``2026/01/05 09:05:00``     lists: ユーザー一覧, 操作ログ; without seconds
                                                    (``2026/01/05 09:05``): 前回ログイン日時
:func:`kanji`           ``2026年01月05日 09:05``     screens and PDFs (``seconds=True`` adds ``:00``)
:func:`kanji_short`     ``2026年1月5日 09:05``       mails (filter ``jst``)
:func:`kanji_date`      ``2026年1月5日``             mails (filter ``jdate``)
:func:`kanji_day`       ``2026年01月05日``           dates on the information screens (``jday``)
:func:`kanji_month`     ``2026年01月``               控除年月 (filter ``jmonth``)
:func:`dashed`          ``2026-01-05 09:05:00``     the demo mailbox
:func:`hours_minutes`   ``9:05``                    service hours (filter ``hm``)
:func:`compact`         ``20260105090500``          file names
======================  ==========================  ================================================

The ``kanji`` formats are messages of the catalogue (:mod:`core.i18n`): the Japanese above is the
text itself, and an English screen or mail shows them in English (SPEC 8): the screens' and PDFs'
as ``2026-01-05 09:05``, ``2026-01-05``, ``2026-01``; the mails' with the month's name,
``5 January 2026 09:05 JST`` and ``5 January 2026``.

:data:`FILTERS` are the Jinja2 filters, given once to the page templates (:func:`includeme`) and to
the mail templates (``core.mail``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from core.i18n import Message, _

if TYPE_CHECKING:
    from pyramid.config import Configurator

JST = dt.timezone(dt.timedelta(hours=9), "JST")

#: The months as the mails name them: 「1月」 … 「12月」, "January" … "December" in English.
MONTHS = (
    _("1月"),
    _("2月"),
    _("3月"),
    _("4月"),
    _("5月"),
    _("6月"),
    _("7月"),
    _("8月"),
    _("9月"),
    _("10月"),
    _("11月"),
    _("12月"),
)


def to_jst(value: dt.datetime) -> dt.datetime:
    """``value`` (aware) in Japan time."""
    return value.astimezone(JST)


def slashed(value: dt.datetime | None, *, seconds: bool = True) -> str:
    """``2026/01/05 09:05:00`` (``2026/01/05 09:05`` without ``seconds``) in Japan time; the empty
    string for None."""
    if value is None:
        return ""
    return to_jst(value).strftime("%Y/%m/%d %H:%M:%S" if seconds else "%Y/%m/%d %H:%M")


def kanji(value: dt.datetime, *, seconds: bool = False) -> Message:
    """``2026年01月05日 09:05`` (``:00`` added with ``seconds``) in Japan time."""
    local = to_jst(value)
    return _(
        "${year}年${month}月${day}日 ${time}",
        year=str(local.year),
        month=format(local.month, "02d"),
        day=format(local.day, "02d"),
        time=local.strftime("%H:%M:%S" if seconds else "%H:%M"),
    )


def kanji_short(value: dt.datetime) -> Message:
    """``2026年1月5日 09:05`` in Japan time: month and day without a leading zero (mails)."""
    local = to_jst(value)
    return _(
        "${year}年${month}${day}日 ${time}",
        year=str(local.year),
        month=MONTHS[local.month - 1],
        day=str(local.day),
        time=local.strftime("%H:%M"),
    )


def kanji_date(value: dt.datetime | dt.date) -> Message:
    """``2026年1月5日``; a datetime is taken in Japan time."""
    if isinstance(value, dt.datetime):
        value = to_jst(value).date()
    return _(
        "${year}年${month}${day}日",
        year=str(value.year),
        month=MONTHS[value.month - 1],
        day=str(value.day),
    )


def kanji_day(value: dt.date) -> Message:
    """``2026年01月05日``: a calendar date (the bank's dates on the information screens)."""
    return _(
        "${year}年${month}月${day}日",
        year=str(value.year),
        month=format(value.month, "02d"),
        day=format(value.day, "02d"),
    )


def kanji_month(value: dt.date) -> Message:
    """``2026年01月``: the month of a date (控除年月)."""
    return _("${year}年${month}月", year=str(value.year), month=format(value.month, "02d"))


def dashed(value: dt.datetime) -> str:
    """``2026-01-05 09:05:00`` in Japan time."""
    return to_jst(value).strftime("%Y-%m-%d %H:%M:%S")


def compact(value: dt.datetime) -> str:
    """``20260105090500`` in Japan time (file names)."""
    return to_jst(value).strftime("%Y%m%d%H%M%S")


def hours_minutes(value: dt.time) -> str:
    """``9:05``: a time of day without a leading zero on the hour (service hours)."""
    return f"{value.hour}:{value.minute:02d}"


#: The Jinja2 filters of the formats, for page and mail templates alike.
FILTERS: Mapping[str, Callable[..., str]] = {
    "jst": kanji_short,
    "jdate": kanji_date,
    "jst_slashed": slashed,
    "jst_kanji": kanji,
    "jday": kanji_day,
    "jmonth": kanji_month,
    "hm": hours_minutes,
}


def register_filters(filters: dict[str, Any]) -> None:
    """Add :data:`FILTERS` to a Jinja2 environment's ``filters``."""
    filters.update(FILTERS)


def includeme(config: Configurator) -> None:
    """Give the page templates (``.html``, pyramid_jinja2) the format filters."""

    def register() -> None:
        register_filters(config.get_jinja2_environment(".html").filters)

    # pyramid_jinja2 creates the environment in an action: run after it, as its docs show.
    config.action(None, register, order=999)
