"""The account's password with lockout (AUTH-1, AUTH-2): DC582101 at login, DC586101 at issuance,
the staff sign-in.

At login the account is already known from the client certificate and only the password is asked;
at issuance the user ID is asked too. Both share the account's counters. The accounts are the
application's :class:`~core.auth.accounts.IAccountDirectory`: contract users or bank staff (AUTH-8).
"""

from __future__ import annotations

from typing import Any

from pyramid.request import Request

from auth_backends import messages
from core import audit
from core.auth import lockout
from core.auth.accounts import IAccountDirectory
from core.auth.flows import OK, SEALED_PASSWORD, Flow, StepResult
from core.hookspecs import AuthStep, Screen, hookimpl
from core.i18n import _
from core.web.forms import Form, PasswordField, StringField, formdata, required

WRONG_WITH_ID = _("ユーザーIDまたはパスワードが正しくありません。")
WRONG = _("パスワードが正しくありません。")


class PasswordForm(Form):
    password = PasswordField(_("パスワード"), [required(_("パスワード"))])


class UserIdPasswordForm(PasswordForm):
    user_id = StringField(_("ユーザーID"), [required(_("ユーザーID"))])


class PasswordStep:
    """Checks the password of the flow's user, or of the user ID entered with it."""

    name = "password"
    slug: str | None = ""

    def screen(self, flow: Flow) -> Screen:
        if self.name in flow.spec.screens:
            return flow.spec.screens[self.name]
        if flow.spec.name == "login":
            return Screen("DC582101", _("ログイン"), "auth/flow_password.html")
        return Screen("DC586101", _("電子証明書発行 ユーザー認証"), "auth/flow_password.html")

    def enter(self, request: Request, flow: Flow) -> StepResult | None:
        return None

    def make_form(self, request: Request, flow: Flow) -> Any:
        form_class = PasswordForm if flow.get("user_pk") else UserIdPasswordForm
        return form_class(formdata(request))

    def check(self, request: Request, flow: Flow, form: Any) -> StepResult:
        accounts = request.find_service(IAccountDirectory)
        known = flow.get("user_pk")
        wrong = WRONG if known else WRONG_WITH_ID
        user = accounts.account(known) if known else accounts.account_by_login(form.user_id.data)
        if user is None:
            lockout.check_unknown(form.password.data)
            audit.record(
                request.dbsession,
                f"{flow.spec.name}.password.unknown_user",
                actor=audit.pseudonym(request.registry.settings, form.user_id.data),
                actor_kind="anonymous",
                result="failure",
                request=request,
            )
            return StepResult(message=wrong)
        row, outcome = accounts.check_password(
            user, form.password.data, action=f"{flow.spec.name}.password"
        )
        if outcome in {lockout.Outcome.LOCKED, lockout.Outcome.LOCKED_NOW}:
            return StepResult(message=accounts.messages.get("locked", messages.LOCKED))
        if outcome in {lockout.Outcome.BLOCKED, lockout.Outcome.BLOCKED_NOW}:
            return StepResult(message=accounts.messages.get("blocked", messages.BLOCKED_USER))
        if outcome == lockout.Outcome.WRONG:
            return StepResult(message=wrong)
        if flow.spec.check_user is not None:
            refusal = flow.spec.check_user(request, row)
            if refusal:
                return StepResult(message=refusal)
        flow.set(user_pk=row.id)
        if flow.spec.keeps_password:
            request.session.seal(SEALED_PASSWORD, form.password.data)
        return OK


@hookimpl
def cjs_auth_steps() -> list[AuthStep]:
    """Provide the ``password`` step."""
    return [PasswordStep()]
