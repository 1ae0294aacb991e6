"""The contract's initial password (DC583101), with its own lockout per contract (AUTH-1, FLOW-1)."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from sqlalchemy import select

from auth_backends import messages
from core import audit, clock, rules
from core.auth import lockout
from core.auth.flows import OK, Flow, StepResult
from core.db.models import Contract
from core.hookspecs import AuthStep, Screen, hookimpl
from core.i18n import _
from core.web.forms import (
    MASTER_ALREADY_REGISTERED,
    Form,
    PasswordField,
    StringField,
    formdata,
    required,
    rule,
)

WRONG = _("契約番号または初期パスワードが正しくありません。")


class InitialPasswordForm(Form):
    contract_no = StringField(
        _("契約番号"), [required(_("契約番号")), rule(rules.check_contract_no)]
    )
    initial_password = PasswordField(_("初期パスワード"), [required(_("初期パスワード"))])


class InitialPasswordStep:
    """契約番号 + 初期パスワード; success identifies the contract."""

    name = "initial_password"
    slug: str | None = ""

    def screen(self, flow: Flow) -> Screen:
        return Screen(
            "DC583101", _("マスターユーザー初期登録ログイン"), "auth/flow_initial_password.html"
        )

    def enter(self, request: Request, flow: Flow) -> StepResult | None:
        return None

    def make_form(self, request: Request, flow: Flow) -> Any:
        return InitialPasswordForm(formdata(request))

    def check(self, request: Request, flow: Flow, form: Any) -> StepResult:
        number = form.contract_no.data
        contract = request.dbsession.scalars(
            select(Contract).where(Contract.contract_no == number)
        ).one_or_none()
        if contract is None:
            lockout.check_unknown(form.initial_password.data)
            audit.record(
                request.dbsession,
                "register.initial_password",
                actor=audit.pseudonym(request.registry.settings, number),
                actor_kind="anonymous",
                result="failure",
                contract_no=None,
                request=request,
                details={"reason": "unknown contract"},
            )
            return StepResult(message=WRONG)
        row = lockout.lock_row(request.dbsession, Contract, contract.id)
        outcome = lockout.check(
            row, lockout.INITIAL_PASSWORD, form.initial_password.data, clock.now(request.registry)
        )
        audit.record(
            request.dbsession,
            f"register.initial_password.{outcome}",
            actor=number,
            actor_kind="anonymous",
            result="success" if outcome == lockout.Outcome.OK else "failure",
            target=number,
            contract_no=number,
            request=request,
        )
        if outcome in {lockout.Outcome.LOCKED, lockout.Outcome.LOCKED_NOW}:
            return StepResult(message=messages.LOCKED)
        if outcome in {lockout.Outcome.BLOCKED, lockout.Outcome.BLOCKED_NOW}:
            return StepResult(message=messages.BLOCKED_INITIAL)
        if outcome == lockout.Outcome.WRONG:
            return StepResult(message=WRONG)
        if any(user.is_live_master for user in row.users):  # a deleted master does not count
            return StepResult(message=MASTER_ALREADY_REGISTERED)
        flow.set(contract_pk=row.id)
        return OK


@hookimpl
def cjs_auth_steps() -> list[AuthStep]:
    """Provide the ``initial_password`` step."""
    return [InitialPasswordStep()]
