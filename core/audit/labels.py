"""What the audit log's screens share: the names of actions and results, the period filter's
dates, the select that refuses in the screen's language, the page links.

Names and messages are messages of the catalogue (:mod:`core.i18n`): the customer's screen shows
them in its language, the staff console in Japanese.

Used by the customer's 操作ログ照会 (:mod:`core.web.oplog`) and the staff's 監査ログ照会
(:mod:`core.staff.audit`).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from wtforms import Form, SelectField
from wtforms.validators import ValidationError

from core.i18n import _
from core.timefmt import JST

#: Page links shown on each side of the current page.
PAGE_WINDOW = 4

RESULT_LABELS = {"success": _("成功"), "failure": _("失敗"), "refused": _("拒否")}
ACTOR_KIND_LABELS = {
    "bank": _("ろうきん"),
    "system": _("システム"),
    "anonymous": _("（ログイン前）"),
}

#: The name of every audit action the core records (grep ``audit.record``); an action not
#: here shows its raw name. Dynamic names are built below from the flow and outcome tables. The
#: service modules add their own (``cjs_action_labels``; ``load.<kind>`` for their loaders).
ACTION_LABELS: dict[str, str] = {
    # Login, logout, passwords (FLOW-4, FLOW-6, FLOW-7, AUTH-1)
    "login.success": _("ログイン"),
    "login.certificate": _("ログイン（電子証明書の確認）"),
    "logout": _("ログアウト"),
    "password.change": _("パスワード変更"),
    "password.check": _("パスワード変更（現在のパスワードの確認）"),
    "user.lock": _("ロック"),
    "user.block": _("閉塞"),
    # Sign-up (FLOW-1)
    "register.master": _("マスターユーザー登録"),
    "register.initial_password": _("初期パスワード認証"),
    # Certificates (FLOW-2, CERT-*)
    "code.send": _("認証コード送信"),
    "code.accept": _("認証コード認証"),
    "code.wrong": _("認証コード認証（誤り）"),
    "code.expired": _("認証コード認証（有効期限切れ）"),
    "cert.issue": _("電子証明書発行"),
    "cert.revoke": _("電子証明書失効"),
    # User administration (FLOW-5)
    "user.create": _("一般ユーザー登録"),
    "user.update": _("契約ユーザー情報変更"),
    "user.delete": _("一般ユーザー削除"),
    # This screen
    "oplog.export": _("操作ログCSV出力"),
    # The bank (BANK-*)
    "bank.contract.create": _("契約登録（ろうきん）"),
    "bank.contract.update": _("契約内容変更（ろうきん）"),
    "bank.initial_password.change": _("初期パスワード変更（ろうきん）"),
    "bank.deposit_group.create": _("入金グループ登録（ろうきん）"),
    "bank.deposit_group.update": _("入金グループ変更（ろうきん）"),
    "bank.module.enable": _("サービス利用開始（ろうきん）"),
    "bank.module.options": _("サービス内容変更（ろうきん）"),
    "bank.module.disable": _("サービス利用終了（ろうきん）"),
    "bank.manual.register": _("マニュアル登録（ろうきん）"),
    "bank.manual.reorder": _("マニュアル表示順変更（ろうきん）"),
    "bank.manual.withdraw": _("マニュアル掲載終了（ろうきん）"),
    "bank.message.create": _("お知らせ登録（ろうきん）"),
    "bank.message.update": _("お知らせ変更（ろうきん）"),
    "bank.message.withdraw": _("お知らせ掲載終了（ろうきん）"),
    # The staff console (#14): staff accounts and their sign-in
    "staff.create": _("職員登録"),
    "staff.roles": _("職員権限変更"),
    "staff.lock": _("職員ロック"),
    "staff.block": _("職員閉塞"),
    "staff.unlock": _("職員ロック解除"),
    "staff.password_reset": _("職員パスワード再設定"),
    "staff.password.change": _("職員パスワード変更"),
    "staff.password.check": _("職員パスワード変更（現在のパスワードの確認）"),
    "staff.cert.issue": _("職員電子証明書発行"),
    "staff.login.success": _("職員サインイン"),
    "staff.logout": _("職員サインアウト"),
    # The staff console (#14): its screens
    "staff_request.file": _("依頼受付（ろうきん）"),
    "staff_request.approve": _("依頼承認・検印（ろうきん）"),
    "staff_request.reject": _("依頼却下（ろうきん）"),
    "staff_request.withdraw": _("依頼取下げ（ろうきん）"),
    "contract.initial_password.change": _("初期パスワード変更（ろうきん）"),
    "contract.initial_password.unblock": _("初期パスワード閉塞解除（ろうきん）"),
    "contract.notice.print": _("ご利用開始（変更）のお知らせ印刷（ろうきん）"),
    "user.change_id": _("ユーザーID変更（ろうきん）"),
    "staff.audit.export": _("監査ログCSV出力（ろうきん）"),
    # The core's bank data files (BANK-6, core.bank.loaders)
    "load.messages": _("データ取込（お知らせ）"),
    "load.schedules": _("データ取込（スケジュール）"),
}
#: ``<flow>.password`` and ``<flow>.password.unknown_user`` (auth_backends.password).
FLOW_LABELS = {
    "staff_login": _("職員サインイン"),
    "login": _("ログイン"),
    "issue": _("電子証明書発行"),
    "register_master": _("マスターユーザー登録"),
}
#: ``register.initial_password.<outcome>`` (auth_backends.initial_password; core.auth.lockout.Outcome).
OUTCOME_LABELS = {
    "ok": "",
    "wrong": _("（誤り）"),
    "locked_now": _("（ロック）"),
    "blocked_now": _("（閉塞）"),
    "locked": _("（ロック中）"),
    "blocked": _("（閉塞中）"),
}

BAD_DATE = _("日付は「2026-04-01」の形式で入力してください。")
NO_SUCH_DATE = _("存在しない日付です。")
TO_BEFORE_FROM = _("終了日には開始日以降の日付を入力してください。")
NOT_A_CHOICE = _("選択肢から選択してください。")


def action_label(action: str, module_labels: Mapping[str, str] = MappingProxyType({})) -> str:
    """The name of an audit action (the core's, else ``module_labels``); else its raw name."""
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    if action in module_labels:
        return module_labels[action]
    prefix = "register.initial_password."
    if action.startswith(prefix) and action[len(prefix) :] in OUTCOME_LABELS:
        outcome = OUTCOME_LABELS[action[len(prefix) :]]
        label = ACTION_LABELS["register.initial_password"]
        return _("${action}${outcome}", action=label, outcome=outcome) if outcome else label
    flow, _dot, rest = action.partition(".")
    if flow in FLOW_LABELS and rest == "password":
        return _("${flow}（パスワード認証）", flow=FLOW_LABELS[flow])
    if flow in FLOW_LABELS and rest == "password.unknown_user":
        return _("${flow}（パスワード認証・ユーザーIDなし）", flow=FLOW_LABELS[flow])
    return action


def parse_date(value: str) -> dt.date:
    """A date typed as 2026-04-01 or 2026/4/1 (full-width digits too); ValueError with the message."""
    text = unicodedata.normalize("NFKC", value).strip()
    match = re.fullmatch(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})", text)
    if match is None:
        raise ValueError(BAD_DATE)
    try:
        return dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        raise ValueError(NO_SUCH_DATE) from None


def date_check(form: Form, field: Any) -> None:
    """WTForms validator: the field's text as a date (``field.date``; None when empty)."""
    field.date = None
    if field.data and field.data.strip():
        try:
            field.date = parse_date(field.data)
        except ValueError as exc:
            raise ValidationError(exc.args[0]) from None  # the message itself, not str() of it


class ChoiceSelect(SelectField):
    """A select whose refusal of an unknown value is a message of the catalogue."""

    def pre_validate(self, form: Form) -> None:
        if self.data not in {value for value, _label in self.choices or []}:
            raise ValidationError(NOT_A_CHOICE)


def jst_midnight(day: dt.date) -> dt.datetime:
    """The start of ``day`` in Japan time (the screens' periods are Japan dates)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=JST)


def page_numbers(page: int, pages: int, window: int = PAGE_WINDOW) -> list[int | None]:
    """The page links to show: first, last and ``window`` around ``page``; None marks a gap."""
    shown = sorted({1, pages, *range(max(1, page - window), min(pages, page + window) + 1)})
    out: list[int | None] = []
    for number in shown:
        if out and out[-1] is not None and number > out[-1] + 1:
            out.append(None)
        out.append(number)
    return out
