"""Forms with WTForms: Japanese messages next to each field (ACC-8), rules from ``core.rules``.

Passwords are never written back into a form; every other input is kept when a screen is shown
again with its errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyramid.request import Request
from wtforms import Form, PasswordField, StringField
from wtforms.validators import InputRequired, ValidationError

from core import rules
from core.auth.lockout import OwnPasswordChange
from core.i18n import _

__all__ = [
    "MASTER_ALREADY_REGISTERED",
    "Form",
    "PasswordChangeForm",
    "PasswordField",
    "StringField",
    "UserRegistrationForm",
    "formdata",
    "required",
    "rule",
    "same_as",
]


#: FLOW-1: the contract has its master (DC583101 before registering, DC584101 when another browser
#: registered one meanwhile); the bank deletes it on request (BANK-4) before a new one registers.
MASTER_ALREADY_REGISTERED = _(
    "このご契約のマスターユーザーは登録済みです。マスターユーザーの再登録が必要な場合は、"
    "お取引の労働金庫にマスターユーザーの削除をご依頼ください。"
)


def formdata(request: Request) -> Any:
    """The POST data to bind a form to, or None for a GET (an empty, unvalidated form)."""
    return request.POST if request.method == "POST" else None


def required(label: str) -> InputRequired:
    """The field must be entered: 「<label>を入力してください。」"""
    return InputRequired(message=_("${label}を入力してください。", label=label))


def rule(check: Callable[[str], str | None]) -> Callable[[Form, Any], None]:
    """A validator from a rule of ``core.rules`` (None: acceptable, else the message)."""

    def validate(form: Form, field: Any) -> None:
        message = check(field.data or "")
        if message:
            raise ValidationError(message)

    return validate


def same_as(other: str, message: str) -> Callable[[Form, Any], None]:
    """The re-entry field must match ``other`` (ACC-2, ACC-5)."""

    def validate(form: Form, field: Any) -> None:
        if field.data != form[other].data:
            raise ValidationError(message)

    return validate


class UserRegistrationForm(Form):
    """ユーザーID, パスワード (+再入力), ユーザー名, メールアドレス (+再入力): ACC-1, 2, 4, 5."""

    user_id = StringField(_("ユーザーID"), [required(_("ユーザーID")), rule(rules.check_user_id)])
    password = PasswordField(
        _("パスワード"), [required(_("パスワード")), rule(rules.check_password)]
    )
    password_confirm = PasswordField(
        _("パスワード再入力"),
        [
            required(_("パスワード再入力")),
            same_as("password", _("パスワードと再入力したパスワードが一致しません。")),
        ],
    )
    user_name = StringField(
        _("ユーザー名"), [required(_("ユーザー名")), rule(rules.check_user_name)]
    )
    email = StringField(_("メールアドレス"), [required(_("メールアドレス"))])
    email_confirm = StringField(
        _("メールアドレス再入力"),
        [
            required(_("メールアドレス再入力")),
            same_as("email", _("メールアドレスと再入力したメールアドレスが一致しません。")),
        ],
    )

    def __init__(
        self, formdata: Any = None, *, denied_domains: frozenset[str] = frozenset()
    ) -> None:
        super().__init__(formdata)
        self.denied_domains = denied_domains

    def validate_email(self, field: Any) -> None:
        """ACC-5, with the bank's deny list of mobile-carrier domains."""
        message = rules.check_email(field.data or "", self.denied_domains)
        if message:
            raise ValidationError(message)


#: The messages of a password change refused after the form's own checks: (field, message).
PASSWORD_CHANGE_REFUSALS: dict[OwnPasswordChange, tuple[str, str]] = {
    OwnPasswordChange.WRONG_CURRENT: (
        "current_password",
        _("現在のパスワードが正しくありません。"),
    ),
    OwnPasswordChange.SAME_AS_CURRENT: (
        "new_password",
        _("現在のパスワードと異なるパスワードを入力してください。"),
    ),
}


class PasswordChangeForm(Form):
    """現在のパスワード / 新しいパスワード / 新しいパスワード再入力 (FLOW-3, FLOW-6; the staff's
    own too). :meth:`refused` puts a refused change's message at its field."""

    current_password = PasswordField(_("現在のパスワード"), [required(_("現在のパスワード"))])
    new_password = PasswordField(
        _("新しいパスワード"), [required(_("新しいパスワード")), rule(rules.check_password)]
    )
    new_password_confirm = PasswordField(
        _("新しいパスワード再入力"),
        [
            required(_("新しいパスワード再入力")),
            same_as("new_password", _("新しいパスワードと再入力したパスワードが一致しません。")),
        ],
    )

    def refused(self, result: OwnPasswordChange) -> bool:
        """Whether ``result`` refuses the change at a field (its message put there)."""
        if result not in PASSWORD_CHANGE_REFUSALS:
            return False
        name, message = PASSWORD_CHANGE_REFUSALS[result]
        self[name].errors = [*self[name].errors, message]
        return True
