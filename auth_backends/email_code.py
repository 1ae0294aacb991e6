"""The emailed authentication code (AUTH-3): 6 digits, valid 30 minutes, single use, bound to the
user and the flow; a new code voids the previous ones; 5 wrong entries restart the flow. The code is
stored only as a salted hash and never logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from pyramid.request import Request
from sqlalchemy import select, update
from wtforms.validators import Regexp

from core import audit, clock
from core.auth.flows import OK, Flow, StepResult
from core.db.models import EmailCode, User
from core.hookspecs import AuthStep, Screen, hookimpl
from core.i18n import _
from core.mail.interfaces import IOutbox
from core.web.forms import Form, StringField, formdata, required

MAX_FAILURES = 5
EXPIRED = _("認証コードの有効期限が切れました。お手数ですが、もう一度はじめから操作してください。")
TOO_MANY = _(
    "認証コードの誤入力が規定回数に達しました。お手数ですが、もう一度はじめから操作してください。"
)
WRONG = _("認証コードが正しくありません。")


def _hash(flow_id: str, code: str, salt: str) -> str:
    digest = hashlib.sha256(f"{salt}:{flow_id}:{code}".encode()).hexdigest()
    return f"{salt}${digest}"


def _matches(stored: str, flow_id: str, code: str) -> bool:
    salt, _, _ = stored.partition("$")
    return hmac.compare_digest(stored, _hash(flow_id, code, salt))


class CodeForm(Form):
    code = StringField(
        _("認証コード"),
        [
            required(_("認証コード")),
            Regexp(r"^[0-9]{6}$", message=_("認証コードは半角数字6桁で入力してください。")),
        ],
    )


class EmailCodeStep:
    """Sends a code to the flow's user when the flow reaches it; checks the code entered."""

    name = "email_code"
    slug: str | None = "code"

    def screen(self, flow: Flow) -> Screen:
        return Screen("", _("認証コード入力"), "auth/flow_email_code.html")

    def enter(self, request: Request, flow: Flow) -> StepResult | None:
        db = request.dbsession
        user = db.get(User, flow.get("user_pk"))
        if user is None:
            return StepResult(restart=True)
        now = clock.now(request.registry)
        db.execute(
            update(EmailCode)
            .where(
                EmailCode.user_pk == user.id,
                EmailCode.used_at.is_(None),
                EmailCode.voided_at.is_(None),
            )
            .values(voided_at=now)
        )
        code = f"{secrets.randbelow(1_000_000):06d}"
        minutes = request.registry.settings["cjs.code.valid_minutes"]
        db.add(
            EmailCode(
                user_pk=user.id,
                flow_id=flow.id,
                code_hash=_hash(flow.id, code, secrets.token_hex(8)),
                created_at=now,
                expires_at=now + dt.timedelta(minutes=minutes),
            )
        )
        request.find_service(IOutbox).notify_requester(
            user, "email_code", code=code, valid_minutes=minutes
        )
        audit.record(
            db,
            "code.send",
            actor=user.user_id,
            target=user.user_id,
            contract_no=user.contract.contract_no,
            request=request,
            details={"flow": flow.spec.name},
        )
        return None

    def make_form(self, request: Request, flow: Flow) -> Any:
        return CodeForm(formdata(request))

    def check(self, request: Request, flow: Flow, form: Any) -> StepResult:
        db = request.dbsession
        now = clock.now(request.registry)
        record = db.scalars(
            select(EmailCode)
            .where(
                EmailCode.user_pk == flow.get("user_pk"),
                EmailCode.flow_id == flow.id,
                EmailCode.used_at.is_(None),
                EmailCode.voided_at.is_(None),
            )
            .order_by(EmailCode.id.desc())
            .with_for_update()
        ).first()
        user = db.get(User, flow.get("user_pk"))
        actor = user.user_id if user is not None else "unknown"
        contract_no = user.contract.contract_no if user is not None else None
        if record is None or now >= record.expires_at:
            audit.record(
                db,
                "code.expired",
                actor=actor,
                result="failure",
                request=request,
                contract_no=contract_no,
            )
            return StepResult(restart=True, message=EXPIRED)
        if not _matches(record.code_hash, flow.id, form.code.data):
            record.failed_count += 1
            audit.record(
                db,
                "code.wrong",
                actor=actor,
                contract_no=contract_no,
                result="failure",
                request=request,
                details={"failures": record.failed_count},
            )
            if record.failed_count >= MAX_FAILURES:
                record.voided_at = now
                return StepResult(restart=True, message=TOO_MANY)
            return StepResult(errors={"code": WRONG})
        record.used_at = now
        audit.record(db, "code.accept", actor=actor, request=request, contract_no=contract_no)
        return OK


@hookimpl
def cjs_auth_steps() -> list[AuthStep]:
    """Provide the ``email_code`` step."""
    return [EmailCodeStep()]
