"""The TLS client certificate (AUTH-5): it names the account that signs in. A missing, foreign,
expired or revoked certificate, or a blocked account, never reaches the password screen.

The same step in both applications (AUTH-8): which certificates count, and whose they are, comes
from the application's :class:`~core.auth.accounts.IAccountDirectory` (a customer's certificate is
unknown on the staff app, a staff certificate on the customer app)."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request

from core import audit, clock
from core.auth.accounts import IAccountDirectory
from core.auth.flows import OK, Flow, StepResult
from core.hookspecs import AuthStep, Screen, hookimpl
from core.i18n import _

MESSAGES = {
    "none": _(
        "電子証明書が確認できませんでした。電子証明書を取得したパソコンのブラウザから、"
        "ご自身のユーザーIDが含まれる電子証明書を選択してアクセスしてください。"
        "電子証明書をお持ちでない場合は「電子証明書発行」から発行してください。"
    ),
    "unknown": _(
        "この電子証明書はご利用いただけません。当サービスが発行した電子証明書を選択してください。"
    ),
    "revoked": _(
        "この電子証明書は失効しています。「電子証明書発行」から新しい電子証明書を発行してください。"
    ),
    "expired": _(
        "この電子証明書は有効期限が切れています。「電子証明書発行」から電子証明書を更新してください。"
    ),
    "blocked": _(
        "パスワードの誤入力が規定回数に達したため、閉塞されています。"
        "一般ユーザーの方はマスターユーザーに、マスターユーザーの方はお取引の労働金庫にお問い合わせください。"
    ),
}


class ClientCertificateStep:
    """Reads the presented certificate; no screen of its own."""

    name = "client_cert"
    slug: str | None = None

    def screen(self, flow: Flow) -> Screen:
        raise LookupError("the client certificate step has no screen")

    def enter(self, request: Request, flow: Flow) -> StepResult | None:
        accounts = request.find_service(IAccountDirectory)
        if request.client_certificate.certificate is None:
            problem = "none"
            certificate = None
        else:
            certificate = accounts.certificate(request)
            problem = accounts.certificate_problem(certificate, clock.now(request.registry)) or ""
        if problem:
            audit.record(
                request.dbsession,
                f"{flow.spec.name}.certificate",
                contract_no=certificate.contract_no if certificate is not None else None,
                actor=certificate.holder_id if certificate is not None else "anonymous",
                actor_kind=accounts.actor_kind if certificate is not None else "anonymous",
                result="refused",
                request=request,
                details={"problem": problem},
            )
            return StepResult(leave=True, message=accounts.messages.get(problem, MESSAGES[problem]))
        assert certificate is not None
        flow.set(user_pk=accounts.holder_pk(certificate), certificate_id=certificate.id)
        return OK

    def make_form(self, request: Request, flow: Flow) -> Any:
        raise LookupError("the client certificate step has no form")

    def check(self, request: Request, flow: Flow, form: Any) -> StepResult:
        raise LookupError("the client certificate step has no form")


@hookimpl
def cjs_auth_steps() -> list[AuthStep]:
    """Provide the ``client_cert`` step."""
    return [ClientCertificateStep()]
