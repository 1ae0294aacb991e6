"""core.i18n (#15 item 3, SPEC 8): a message written in Python is the Japanese text, and can be
given in English with its values, those that are messages translated first."""

from __future__ import annotations

import copy
from pathlib import Path

from pyramid.i18n import make_localizer

from core.i18n import Message, _, translate

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
