"""core.i18n (#15 item 3, SPEC 8): a message written in Python is the Japanese text, and can be
given in English with its values, those that are messages translated first."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

from pyramid.i18n import make_localizer

from core.i18n import Message, _, pgettext, translate
from core.plugins import listed
from core.timefmt import kanji_day

LOCALES = str(Path(__file__).resolve().parents[2] / "core" / "locale")


def test_a_message_is_its_japanese_text():
    message = _("${label}を入力してください。", label=_("ユーザーID"))
    assert message == "ユーザーIDを入力してください。"
    assert isinstance(message, str) and message.msgid == "${label}を入力してください。"
    assert f"「{message}」" == "「ユーザーIDを入力してください。」"


def test_a_copied_message_keeps_its_values():
    message = copy.deepcopy(_("一般ユーザー（${user_id}）を登録しました。", user_id="u1"))
    assert isinstance(message, Message) and message.values == {"user_id": "u1"}


def test_english_translates_the_values_that_are_messages_first():
    english = make_localizer("en", [LOCALES])
    message = _("${label}を入力してください。", label=_("ユーザーID"))
    assert translate(english, message) == "User ID is required."
    data = _("${label}を入力してください。", label="ユーザーID")  # data is not translated
    assert translate(english, data) == "ユーザーID is required."
    assert translate(make_localizer("ja", [LOCALES]), message) == "ユーザーIDを入力してください。"


def test_a_string_outside_the_catalogue_comes_back_unchanged():
    english = make_localizer("en", [LOCALES])
    assert translate(english, "労金　太郎") == "労金　太郎"
    assert translate(english, "ログイン") == "Log in"


def test_a_word_with_a_context_has_its_own_english():
    """表示 is "Show" as a restriction level of ACC-7 and "View" as the manuals' button."""
    english = make_localizer("en", [LOCALES])
    level = pgettext("restriction level", "表示")
    assert level == "表示" and level.context == "restriction level"
    assert translate(english, level) == "Show"
    assert translate(english, _("表示")) == "View"
    assert copy.deepcopy(level).context == "restriction level"


def test_a_date_and_a_list_of_messages_in_english():
    english = make_localizer("en", [LOCALES])
    date = kanji_day(dt.date(2026, 1, 5))
    assert date == "2026年01月05日" and translate(english, date) == "2026-01-05"
    summary = listed(
        [_("${module}(${options})", module=_("労金控除"), options=_("明細更新")), _("一斉積立")]
    )
    assert summary == "労金控除(明細更新)・一斉積立"
    assert translate(english, summary) == "Rokin deduction (Detail updates), Collective savings"
