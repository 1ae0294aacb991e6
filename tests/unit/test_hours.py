"""AUTH-7 service hours: weekdays 08:00–20:00 Japan time, closed on holidays, closed days and
maintenance windows; every rule a setting."""

from __future__ import annotations

import datetime as dt

import pytest

from core.hours import ServiceHours
from core.settings import validate
from core.timefmt import JST


def hours(**overrides: str) -> ServiceHours:
    return ServiceHours.from_settings(validate({"sqlalchemy.url": "sqlite://", **overrides}))


def jst(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=JST)


@pytest.mark.parametrize(
    ("moment", "reason"),
    [
        (jst(2026, 11, 24, 8, 0), None),  # Tuesday, opening minute
        (jst(2026, 11, 24, 7, 59), "hours"),
        (jst(2026, 11, 24, 19, 59), None),
        (jst(2026, 11, 24, 20, 0), "hours"),  # closing time itself is closed
        (jst(2026, 11, 28, 10, 0), "weekday"),  # Saturday
        (jst(2026, 11, 29, 10, 0), "weekday"),  # Sunday
        (jst(2026, 11, 23, 10, 0), "holiday"),  # 勤労感謝の日 (Monday)
        (jst(2027, 1, 11, 10, 0), "holiday"),  # 成人の日
        (jst(2026, 12, 31, 10, 0), "closed_day"),  # Thursday, year-end
        (jst(2027, 1, 4, 10, 0), None),  # first business day
    ],
)
def test_default_rules(moment, reason):
    assert hours().closed_reason(moment) == reason


def test_times_are_judged_in_japan_time_whatever_the_server_clock():
    # 23:30 UTC on Monday is 08:30 JST on Tuesday: open.
    assert hours().is_open(dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC))
    # 11:30 UTC on Tuesday is 20:30 JST: closed.
    assert not hours().is_open(dt.datetime(2026, 11, 24, 11, 30, tzinfo=dt.UTC))


def test_maintenance_window_closes_within_hours():
    rules = hours(**{"cjs.hours.maintenance": "2026-11-24T12:00/2026-11-24T13:00"})
    assert rules.closed_reason(jst(2026, 11, 24, 12, 30)) == "maintenance"
    assert rules.is_open(jst(2026, 11, 24, 13, 0))


def test_hours_and_days_are_settings():
    rules = hours(
        **{
            "cjs.hours.open_days": "mon tue wed thu fri sat",
            "cjs.hours.open_hours": "09:00-17:00",
            "cjs.hours.national_holidays_closed": "false",
            "cjs.hours.closed_days": "",
        }
    )
    assert rules.is_open(jst(2026, 11, 28, 9, 0))  # Saturday now open
    assert rules.is_open(jst(2026, 11, 23, 9, 0))  # holiday now open
    assert not rules.is_open(jst(2026, 11, 24, 8, 30))
    assert rules.open_days_label() == "月～土曜日"


def test_always_open_for_the_demo():
    assert hours(**{"cjs.hours.always_open": "true"}).is_open(jst(2026, 12, 31, 3, 0))


def test_the_closed_days_are_named_from_the_settings():
    """AUTH-7: the hours notice names what the settings close, not a fixed 「土・日・祝休日」."""
    assert hours().closed_days_label() == "土・日・祝休日"
    assert hours().closed_month_days_label() == "12月31日・1月1日・1月2日・1月3日"
    assert hours(**{"cjs.hours.open_days": "mon tue wed thu fri sat"}).closed_days_label() == (
        "日・祝休日"
    )
    no_holidays = hours(**{"cjs.hours.national_holidays_closed": "false"})
    assert no_holidays.closed_days_label() == "土・日"
    assert hours(**{"cjs.hours.closed_days": ""}).closed_month_days_label() == ""


def test_the_footer_leaves_out_what_the_settings_close():
    """AUTH-7: the footer's 「（祝休日・年末年始を除く）」 follows the settings too."""
    assert hours().excluded_days_label() == "祝休日・年末年始"
    assert hours(**{"cjs.hours.closed_days": ""}).excluded_days_label() == "祝休日"
    no_holidays = {"cjs.hours.national_holidays_closed": "false"}
    assert hours(**no_holidays, **{"cjs.hours.closed_days": ""}).excluded_days_label() == ""
    assert hours(**{"cjs.hours.closed_days": "05-01"}).excluded_days_label() == "祝休日・5月1日"


def test_the_labels_in_english():
    """SPEC 8, #15: the English screens name the days in English, from the same settings."""
    from pathlib import Path

    from pyramid.i18n import make_localizer

    from core.i18n import translate

    locale = Path(__file__).resolve().parents[2] / "core" / "locale"
    english = make_localizer("en", [str(locale)])

    def en(label: object) -> str:
        return translate(english, label)

    assert en(hours().open_days_label()) == "Mon–Fri"
    assert en(hours().closed_days_label()) == "Sat, Sun, national holidays"
    assert en(hours().closed_month_days_label()) == "31 December, 1 January, 2 January, 3 January"
    assert en(hours().excluded_days_label()) == "national holidays, the New Year holidays"
    assert en(hours(**{"cjs.hours.closed_days": "05-01"}).excluded_days_label()) == (
        "national holidays, 1 May"
    )
    assert en(hours(**{"cjs.hours.open_days": "mon wed fri"}).open_days_label()) == (
        "Mon, Wed, Fri"
    )
    assert hours(**{"cjs.hours.open_days": "mon wed fri"}).open_days_label() == "月・水・金曜日"
