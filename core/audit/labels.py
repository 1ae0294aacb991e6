"""What the audit log's screens share: the Japanese names of actions and results, the period filter's
dates, the select that refuses in Japanese, the page links.

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

from core.timefmt import JST

#: Page links shown on each side of the current page.
PAGE_WINDOW = 4

RESULT_LABELS = {"success": "成功", "failure": "失敗", "refused": "拒否"}
ACTOR_KIND_LABELS = {"bank": "ろうきん", "system": "システム", "anonymous": "（ログイン前）"}

#: The Japanese name of every audit action the core records (grep ``audit.record``); an action not
#: here shows its raw name. Dynamic names are built below from the flow and outcome tables. The
#: service modules add their own (``cjs_action_labels``; ``load.<kind>`` for their loaders).
ACTION_LABELS: dict[str, str] = {
    # Login, logout, passwords (FLOW-4, FLOW-6, FLOW-7, AUTH-1)
    "login.success": "ログイン",
    "login.certificate": "ログイン（電子証明書の確認）",
    "logout": "ログアウト",
    "password.change": "パスワード変更",
    "password.check": "パスワード変更（現在のパスワードの確認）",
    "user.lock": "ロック",
    "user.block": "閉塞",
    # Sign-up (FLOW-1)
    "register.master": "マスターユーザー登録",
    "register.initial_password": "初期パスワード認証",
    # Certificates (FLOW-2, CERT-*)
    "code.send": "認証コード送信",
    "code.accept": "認証コード認証",
    "code.wrong": "認証コード認証（誤り）",
    "code.expired": "認証コード認証（有効期限切れ）",
    "cert.issue": "電子証明書発行",
    "cert.revoke": "電子証明書失効",
    # User administration (FLOW-5)
    "user.create": "一般ユーザー登録",
    "user.update": "契約ユーザー情報変更",
    "user.delete": "一般ユーザー削除",
    # This screen
    "oplog.export": "操作ログCSV出力",
    # The bank (BANK-*)
    "bank.contract.create": "契約登録（ろうきん）",
    "bank.contract.update": "契約内容変更（ろうきん）",
    "bank.initial_password.change": "初期パスワード変更（ろうきん）",
    "bank.deposit_group.create": "入金グループ登録（ろうきん）",
    "bank.deposit_group.update": "入金グループ変更（ろうきん）",
    "bank.module.enable": "サービス利用開始（ろうきん）",
    "bank.module.options": "サービス内容変更（ろうきん）",
    "bank.module.disable": "サービス利用終了（ろうきん）",
    "bank.manual.register": "マニュアル登録（ろうきん）",
    "bank.manual.reorder": "マニュアル表示順変更（ろうきん）",
    "bank.manual.withdraw": "マニュアル掲載終了（ろうきん）",
    "bank.message.create": "お知らせ登録（ろうきん）",
    "bank.message.update": "お知らせ変更（ろうきん）",
    "bank.message.withdraw": "お知らせ掲載終了（ろうきん）",
    # The staff console (#14): staff accounts and their sign-in
    "staff.create": "職員登録",
    "staff.roles": "職員権限変更",
    "staff.lock": "職員ロック",
    "staff.block": "職員閉塞",
    "staff.unlock": "職員ロック解除",
    "staff.password_reset": "職員パスワード再設定",
    "staff.password.change": "職員パスワード変更",
    "staff.password.check": "職員パスワード変更（現在のパスワードの確認）",
    "staff.cert.issue": "職員電子証明書発行",
    "staff.login.success": "職員サインイン",
    "staff.logout": "職員サインアウト",
    # The staff console (#14): its screens
    "staff_request.file": "依頼受付（ろうきん）",
    "staff_request.approve": "依頼承認・検印（ろうきん）",
    "staff_request.reject": "依頼却下（ろうきん）",
    "staff_request.withdraw": "依頼取下げ（ろうきん）",
    "contract.initial_password.change": "初期パスワード変更（ろうきん）",
    "contract.initial_password.unblock": "初期パスワード閉塞解除（ろうきん）",
    "contract.notice.print": "ご利用開始（変更）のお知らせ印刷（ろうきん）",
    "user.change_id": "ユーザーID変更（ろうきん）",
    "staff.audit.export": "監査ログCSV出力（ろうきん）",
    # The core's bank data files (BANK-6, core.bank.loaders)
    "load.messages": "データ取込（お知らせ）",
    "load.schedules": "データ取込（スケジュール）",
}
#: ``<flow>.password`` and ``<flow>.password.unknown_user`` (auth_backends.password).
FLOW_LABELS = {
    "staff_login": "職員サインイン",
    "login": "ログイン",
    "issue": "電子証明書発行",
    "register_master": "マスターユーザー登録",
}
#: ``register.initial_password.<outcome>`` (auth_backends.initial_password; core.auth.lockout.Outcome).
OUTCOME_LABELS = {
    "ok": "",
    "wrong": "（誤り）",
    "locked_now": "（ロック）",
    "blocked_now": "（閉塞）",
    "locked": "（ロック中）",
    "blocked": "（閉塞中）",
}

BAD_DATE = "日付は「2026-04-01」の形式で入力してください。"
NO_SUCH_DATE = "存在しない日付です。"
TO_BEFORE_FROM = "終了日には開始日以降の日付を入力してください。"
NOT_A_CHOICE = "選択肢から選択してください。"


def action_label(action: str, module_labels: Mapping[str, str] = MappingProxyType({})) -> str:
    """The Japanese name of an audit action (the core's, else ``module_labels``); else its raw name."""
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    if action in module_labels:
        return module_labels[action]
    prefix = "register.initial_password."
    if action.startswith(prefix) and action[len(prefix) :] in OUTCOME_LABELS:
        return ACTION_LABELS["register.initial_password"] + OUTCOME_LABELS[action[len(prefix) :]]
    flow, _, rest = action.partition(".")
    if flow in FLOW_LABELS and rest == "password":
        return f"{FLOW_LABELS[flow]}（パスワード認証）"
    if flow in FLOW_LABELS and rest == "password.unknown_user":
        return f"{FLOW_LABELS[flow]}（パスワード認証・ユーザーIDなし）"
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
            raise ValidationError(str(exc)) from None


class ChoiceSelect(SelectField):
    """A select whose refusal of an unknown value is in Japanese."""

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
