"""Staff sign-in, sign-out and password change (#14, AUTH-1, AUTH-2, AUTH-6, AUTH-8).

The sign-in is the flow ``staff_login`` (``/staff/login``): a pipeline of the same authentication
steps as the customers' login, named in ``cjs.pipeline.staff_login`` (default ``client_cert
password``: a certificate of the CA's staff profile, then the password with the customers' lockout).
Its completion binds a fresh staff session to the member and the certificate. A member signed in with
a temporary password (a new account, a reset) changes it first.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from core import audit, clock
from core.auth.flows import Flow, FlowSpec, end, still_the_flows_certificate
from core.auth.lockout import OwnPasswordChange, change_own_password
from core.auth.screens import register_flows
from core.db.models import StaffMember
from core.hookspecs import Screen
from core.staff.accounts import StaffAccounts, certificate_problem, presented_certificate
from core.staff.security import CHANGE_OWN_PASSWORD, STAFF_AUTH_KEY, SignedOutReason
from core.web.forms import PasswordChangeForm, formdata

SIGN_IN_AGAIN = "電子証明書が確認できませんでした。もう一度サインインしてください。"
CHANGED = "パスワードを変更しました。"
REASONS = {
    SignedOutReason.TIMEOUT: "一定時間操作がなかったため、サインアウトしました。",
    SignedOutReason.CERTIFICATE: "電子証明書が確認できなくなったため、サインアウトしました。",
    SignedOutReason.SIGNED_OUT: "サインアウトしました。",
}


def _sign_in(request: Request, flow: Flow) -> Response:
    """The last step passed: bind a fresh staff session to the member and its certificate."""
    db = request.dbsession
    now = clock.now(request.registry)
    member = db.get(StaffMember, flow.get("user_pk"))
    presented = presented_certificate(request)
    holds = still_the_flows_certificate(flow, presented, certificate_problem, now)
    end(request)
    if member is None or presented is None or not holds:
        request.session.flash(SIGN_IN_AGAIN, "error")
        return HTTPFound(request.route_url("staff_entrance"))
    request.session.rotate()  # AUTH-6: a new session id at sign-in
    request.session[STAFF_AUTH_KEY] = {"staff_pk": member.id, "certificate_id": presented.id}
    request.session.bind_staff(member.id)
    member.last_login_at = now
    if presented.first_used_at is None:
        presented.first_used_at = now
    audit.record(
        db,
        "staff.login.success",
        actor=member.staff_id,
        actor_kind="bank",
        target=member.staff_id,
        request=request,
        details={"serial": presented.serial},
    )
    if member.password_is_temporary:
        return HTTPFound(request.route_url("staff_password"))
    return HTTPFound(request.route_url("staff_home"))


FLOW = FlowSpec(
    name="staff_login",
    prefix="/staff/login",
    default_pipeline="client_cert password",
    required_steps=frozenset({"client_cert", "password"}),
    on_complete=_sign_in,
    screens={"password": Screen("", "サインイン", "staff/login.html")},
    exit_route="staff_entrance",
)


@view_config(route_name="staff_entrance", renderer="staff/entrance.html", request_method="GET")
def entrance(request: Request) -> dict[str, Any]:
    """The console's entrance: why one is not signed in (if known) and the way to sign in."""
    reason = request.GET.get("reason")
    notice = REASONS.get(SignedOutReason(reason)) if reason in set(SignedOutReason) else None
    return {"errors": request.session.pop_flash("error"), "notice": notice}


@view_config(route_name="staff_logout", request_method="POST")
def logout(request: Request) -> Response:
    """Sign out: the session ends on the server at once."""
    identity = request.identity
    if identity is not None:
        audit.record(
            request.dbsession,
            "staff.logout",
            actor=identity.staff_id,
            actor_kind="bank",
            request=request,
        )
    request.session.invalidate()
    return HTTPFound(
        request.route_url("staff_entrance", _query={"reason": str(SignedOutReason.SIGNED_OUT)})
    )


@view_config(
    route_name="staff_password",
    renderer="staff/password.html",
    permission=CHANGE_OWN_PASSWORD,
    request_method=("GET", "POST"),
)
def change_password(request: Request) -> Any:
    """パスワード変更: required at the first sign-in (temporary password), offered afterwards."""
    identity = request.identity
    form = PasswordChangeForm(formdata(request))
    values = {"form": form, "initial": identity.must_change_password, "message": None}
    if request.method != "POST" or not form.validate():
        return values
    accounts = StaffAccounts(request)
    member = accounts.account(identity.pk)
    if member is None:
        return HTTPFound(request.route_url("staff_entrance"))
    result, row = change_own_password(
        lambda current: accounts.check_password(member, current, action="staff.password.check"),
        form.current_password.data,
        form.new_password.data,
        clock.now(request.registry),
    )
    if result == OwnPasswordChange.SIGNED_OUT:
        request.session.invalidate()
        return HTTPFound(request.route_url("staff_entrance"))
    if form.refused(result):
        return values
    audit.record(
        request.dbsession,
        "staff.password.change",
        actor=row.staff_id,
        actor_kind="bank",
        target=row.staff_id,
        request=request,
        details={"initial": values["initial"]},
    )
    request.session.flash(CHANGED, "info")
    return HTTPFound(request.route_url("staff_home"))


def includeme(config: Configurator) -> None:
    """The sign-in flow's screens, the entrance, sign-out and the password change."""
    register_flows(config, [FLOW])
    config.add_route("staff_entrance", "/staff/entrance")
    config.add_route("staff_logout", "/staff/logout")
    config.add_route("staff_password", "/staff/password")
    config.scan("core.staff.signin")
