"""The TLS client certificate (AUTH-5): it names the user who logs in. A missing, foreign, expired
or revoked certificate, or a blocked user, never reaches the password screen."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request

from core import audit, clock
from core.auth.flows import OK, Flow, StepResult
from core.hookspecs import AuthStep, Screen, hookimpl
from core.security.policy import certificate_for, certificate_problem

MESSAGES = {
    "none": "電子証明書が確認できませんでした。電子証明書を取得したパソコンのブラウザから、"
    "ご自身のユーザーIDが含まれる電子証明書を選択してアクセスしてください。"
    "電子証明書をお持ちでない場合は「電子証明書発行」から発行してください。",
    "unknown": "この電子証明書はご利用いただけません。当サービスが発行した電子証明書を選択してください。",
    "revoked": "この電子証明書は失効しています。「電子証明書発行」から新しい電子証明書を発行してください。",
    "expired": "この電子証明書は有効期限が切れています。「電子証明書発行」から電子証明書を更新してください。",
    "blocked": "パスワードの誤入力が規定回数に達したため、閉塞されています。"
    "一般ユーザーの方はマスターユーザーに、マスターユーザーの方はお取引の労働金庫にお問い合わせください。",
}


class ClientCertificateStep:
    """Reads the presented certificate; no screen of its own."""

    name = "client_cert"
    slug: str | None = None

    def screen(self, flow: Flow) -> Screen:
        raise LookupError("the client certificate step has no screen")

    def enter(self, request: Request, flow: Flow) -> StepResult | None:
        if request.client_certificate.certificate is None:
            problem = "none"
            certificate = None
        else:
            certificate = certificate_for(request)
            problem = certificate_problem(certificate, clock.now(request.registry)) or ""
        if problem:
            audit.record(
                request.dbsession,
                "login.certificate",
                contract_no=(
                    certificate.user.contract.contract_no if certificate is not None else None
                ),
                actor=(certificate.user.user_id if certificate is not None else "anonymous"),
                actor_kind="user" if certificate is not None else "anonymous",
                result="refused",
                request=request,
                details={"problem": problem},
            )
            return StepResult(leave=True, message=MESSAGES[problem])
        assert certificate is not None
        flow.set(user_pk=certificate.user_pk, certificate_id=certificate.id)
        return OK

    def make_form(self, request: Request, flow: Flow) -> Any:
        raise LookupError("the client certificate step has no form")

    def check(self, request: Request, flow: Flow, form: Any) -> StepResult:
        raise LookupError("the client certificate step has no form")


@hookimpl
def cjs_auth_steps() -> list[AuthStep]:
    """Provide the ``client_cert`` step."""
    return [ClientCertificateStep()]
