"""Service hours (AUTH-7): Monday–Friday 08:00–20:00 Japan time, closed on national holidays,
on the bank's extra closed days and in maintenance windows; all of it settings.

Outside hours every customer screen answers with the hours notice (HTTP 503), and a logged-in
session still open at closing time ends with it. A view may declare ``service_hours_exempt=True``
(static files and error screens are exempt too).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jpholiday
from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.response import Response
from pyramid.static import static_view

from core import clock
from core.i18n import Message, _
from core.timefmt import JST, MONTHS

#: The weekdays as the hours notice names them (「月」…, "Mon"… in English), Monday first.
WEEKDAY_NAMES = (_("月"), _("火"), _("水"), _("木"), _("金"), _("土"), _("日"))
#: What the service is closed on besides weekdays: national holidays; the year-end holidays.
NATIONAL_HOLIDAYS = _("祝休日")
YEAR_END = _("年末年始")


def joined(parts: list[Message]) -> Message | str:
    """``parts`` as one list: 「土・日・祝休日」, "Sat, Sun, national holidays"; "" for none."""
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return _("${first}・${rest}", first=parts[0], rest=joined(parts[1:]))


@dataclass(frozen=True)
class ServiceHours:
    """The service-hours rules, read from the ``cjs.hours.*`` settings."""

    always_open: bool
    open_days: frozenset[int]
    open_from: dt.time
    open_until: dt.time
    national_holidays_closed: bool
    closed_days: frozenset[tuple[int, int]]
    maintenance: tuple[tuple[dt.datetime, dt.datetime], ...]

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ServiceHours:
        """Build the rules from validated settings."""
        open_from, open_until = settings["cjs.hours.open_hours"]
        return cls(
            always_open=settings["cjs.hours.always_open"],
            open_days=settings["cjs.hours.open_days"],
            open_from=open_from,
            open_until=open_until,
            national_holidays_closed=settings["cjs.hours.national_holidays_closed"],
            closed_days=settings["cjs.hours.closed_days"],
            maintenance=tuple(
                (start.replace(tzinfo=start.tzinfo or JST), end.replace(tzinfo=end.tzinfo or JST))
                for start, end in settings["cjs.hours.maintenance"]
            ),
        )

    def closed_reason(self, now: dt.datetime) -> str | None:
        """Why the service is closed at ``now`` (aware), or None when it is open."""
        if self.always_open:
            return None
        local = now.astimezone(JST)
        for start, end in self.maintenance:
            if start <= local < end:
                return "maintenance"
        if local.weekday() not in self.open_days:
            return "weekday"
        if self.national_holidays_closed and jpholiday.is_holiday(local.date()):
            return "holiday"
        if (local.month, local.day) in self.closed_days:
            return "closed_day"
        if not self.open_from <= local.time() < self.open_until:
            return "hours"
        return None

    def is_open(self, now: dt.datetime) -> bool:
        """Whether customer screens are served at ``now``."""
        return self.closed_reason(now) is None

    def closed_days_label(self) -> Message | str:
        """The weekdays and holidays the service is closed on, for the notice, e.g. 土・日・祝休日."""
        parts = [WEEKDAY_NAMES[d] for d in range(7) if d not in self.open_days]
        if self.national_holidays_closed:
            parts.append(NATIONAL_HOLIDAYS)
        return joined(parts)

    def closed_month_days_label(self) -> Message | str:
        """The bank's extra closed days of every year, e.g. 12月31日・1月1日 (empty when none)."""
        return joined(self._closed_month_days())

    def _closed_month_days(self) -> list[Message]:
        return [
            _("${month}${day}日", month=MONTHS[month - 1], day=str(day))
            for month, day in sorted(self.closed_days, key=_year_end_first)
        ]

    def excluded_days_label(self) -> Message | str:
        """What the footer's hours leave out, e.g. 祝休日・年末年始 (empty when nothing).

        The closed month-days read 年末年始 when they all fall between 12月29日 and 1月3日, as the
        manuals write it; other days are named.
        """
        parts: list[Message] = [NATIONAL_HOLIDAYS] if self.national_holidays_closed else []
        if self.closed_days and self.closed_days <= _YEAR_END:
            parts.append(YEAR_END)
        elif self.closed_days:
            parts += self._closed_month_days()
        return joined(parts)

    def open_days_label(self) -> Message:
        """The open weekdays for the notice, e.g. 月～金曜日."""
        days = sorted(self.open_days)
        if days and days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
            return _(
                "${first}～${last}曜日", first=WEEKDAY_NAMES[days[0]], last=WEEKDAY_NAMES[days[-1]]
            )
        return _("${days}曜日", days=joined([WEEKDAY_NAMES[d] for d in days]))


_YEAR_END = frozenset({(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)})


def _year_end_first(month_day: tuple[int, int]) -> tuple[bool, int, int]:
    """Order closed days as the year-end holidays read: 12月31日 before 1月1日."""
    month, day = month_day
    return (month < 7, month, day)


_SERVICE_HOURS = "cjs.hours"


def set_service_hours(registry: Registry, hours: ServiceHours) -> None:
    """Make ``hours`` the application's service-hours rules."""
    registry[_SERVICE_HOURS] = hours


def get_service_hours(registry: Registry) -> ServiceHours:
    """The application's service-hours rules (read from the settings by :func:`includeme`)."""
    hours: ServiceHours = registry[_SERVICE_HOURS]
    return hours


def closed_response(request: Request, reason: str) -> Response:
    """The hours notice, served with 503 instead of the screen asked for."""
    hours = get_service_hours(request.registry)
    response = render_to_response(
        "closed.html",
        {"hours": hours, "reason": reason},
        request=request,
    )
    response.status = 503
    return response


def service_hours_deriver(view: Callable[..., Any], info: Any) -> Callable[..., Any]:
    """Wrap every customer view: outside service hours it answers with the hours notice."""
    if (
        info.options.get("service_hours_exempt")
        or info.exception_only  # error screens answer as themselves
        or isinstance(info.original_view, static_view)
    ):
        return view

    def guarded(context: Any, request: Request) -> Any:
        reason = get_service_hours(request.registry).closed_reason(clock.now(request.registry))
        if reason is not None:
            if "auth" in request.session:  # a session still open at closing time ends now
                request.session.invalidate()
            return closed_response(request, reason)
        return view(context, request)

    return guarded


service_hours_deriver.options = ("service_hours_exempt",)  # type: ignore[attr-defined]


def includeme(config: Configurator) -> None:
    """Install the service-hours rules (``request.service_hours`` for templates) and the view
    deriver that enforces them."""
    set_service_hours(config.registry, ServiceHours.from_settings(config.get_settings()))
    config.add_request_method(
        lambda request: get_service_hours(request.registry), "service_hours", reify=True
    )
    config.add_view_deriver(service_hours_deriver)
