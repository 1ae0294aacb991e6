"""The service's date/time formats: one module, Japan time, the same text on screens and in mails."""

from __future__ import annotations

import datetime as dt

import jinja2

from core import timefmt
from core.timefmt import JST

# 2026-01-05 00:05:00 UTC is 09:05 in Japan: every format must show the Japan date and time.
MOMENT = dt.datetime(2026, 1, 5, 0, 5, tzinfo=dt.UTC)
LATE = dt.datetime(2026, 11, 24, 15, 30, 45, tzinfo=dt.UTC)  # 2026-11-25 00:30:45 in Japan


def test_jst_is_utc_plus_nine_without_daylight_saving() -> None:
    assert JST.utcoffset(None) == dt.timedelta(hours=9)
    assert timefmt.to_jst(LATE) == dt.datetime(2026, 11, 25, 0, 30, 45, tzinfo=JST)


def test_each_format_shows_japan_time() -> None:
    assert timefmt.slashed(MOMENT) == "2026/01/05 09:05:00"
    assert timefmt.slashed(None) == ""
    assert timefmt.slashed(LATE, seconds=False) == "2026/11/25 00:30"  # 前回ログイン日時 (001 p.20)
    assert timefmt.kanji(MOMENT) == "2026年01月05日 09:05"
    assert timefmt.kanji(MOMENT, seconds=True) == "2026年01月05日 09:05:00"
    assert timefmt.kanji_short(MOMENT) == "2026年1月5日 09:05"
    assert timefmt.kanji_date(LATE) == "2026年11月25日"  # the Japan date, not UTC's
    assert timefmt.kanji_date(dt.date(2026, 1, 5)) == "2026年1月5日"
    assert timefmt.kanji_day(dt.date(2012, 10, 9)) == "2012年10月09日"  # 001 p.20's schedule
    assert timefmt.kanji_month(dt.date(2012, 9, 1)) == "2012年09月"
    assert timefmt.dashed(LATE) == "2026-11-25 00:30:45"
    assert timefmt.compact(LATE) == "20261125003045"
    assert timefmt.hours_minutes(dt.time(8, 0)) == "8:00"
    assert timefmt.hours_minutes(dt.time(20, 5)) == "20:05"


def test_filters_render_in_a_template() -> None:
    env = jinja2.Environment(autoescape=True)
    timefmt.register_filters(env.filters)
    text = env.from_string("{{ t | jst }}|{{ t | jdate }}|{{ o | hm }}").render(
        t=LATE, o=dt.time(8, 0)
    )
    assert text == "2026年11月25日 00:30|2026年11月25日|8:00"
