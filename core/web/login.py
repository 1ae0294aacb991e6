"""FLOW-4 login, FLOW-3/FLOW-6 password changes, FLOW-7 logout, DC590101 and DC671101."""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from core import audit, clock, timefmt
from core.auth import lockout
from core.auth.flows import Flow, FlowSpec, end, still_the_flows_certificate
from core.auth.user_password import IUserPasswordCheck
from core.bank.messages import visible_messages
from core.db.models import ContractKind, User
from core.i18n import _, localize
from core.mail.interfaces import IOutbox
from core.modules.access import hidden_modules
from core.pki import certificates
from core.plugins import get_modules
from core.security.policy import AUTH_KEY, Permission, certificate_for, certificate_problem
from core.security.tenancy import GROUP_KEY, selected_group
from core.web.forms import PasswordChangeForm, formdata

CHANGED = _("パスワードを変更しました。")
CERTIFICATE_LOST = _("電子証明書が確認できませんでした。もう一度ログインしてください。")


def _login(request: Request, flow: Flow) -> Response:
    """The last step passed: bind a fresh session to the user and its certificate."""
    db = request.dbsession
    now = clock.now(request.registry)
    user = db.get(User, flow.get("user_pk"))
    presented = certificate_for(request)
    holds = still_the_flows_certificate(flow, presented, certificate_problem, now)
    end(request)
    if user is None or presented is None or not holds:
        request.session.flash(localize(request, CERTIFICATE_LOST), "error")
        return HTTPFound(request.route_url("top"))
    request.session.rotate()  # AUTH-6: a new session id at login
    request.session[AUTH_KEY] = {"user_pk": user.id, "certificate_id": presented.id}
    request.session.bind_user(user.id)
    user.previous_login_at, user.last_login_at = user.last_login_at, now
    certificates.record_first_use(db, presented, now, actor=user.user_id)
    audit.record(
        db,
        "login.success",
        actor=user.user_id,
        target=user.user_id,
        contract_no=user.contract.contract_no,
        request=request,
        details={"serial": presented.serial},
    )
    return HTTPFound(_after_login_url(request, user))


FLOW = FlowSpec(
    name="login",
    prefix="/login",
    default_pipeline="client_cert password",
    required_steps=frozenset({"client_cert", "password"}),
    on_complete=_login,
)


def _after_login_url(request: Request, user: User) -> str:
    """Forced password change, then group selection (会員 with several groups), then DC671101."""
    if user.password_is_temporary:
        return request.route_url("password_initial")
    groups = user.contract.deposit_groups
    if user.contract.kind == ContractKind.MEMBER and len(groups) > 1:
        return request.route_url("groups")
    if groups:
        request.session[GROUP_KEY] = groups[0].id
    return request.route_url("info")


def _change_password(request: Request, *, initial: bool) -> Any:
    user: User = request.identity.user
    form = PasswordChangeForm(formdata(request))
    values = {"form": form, "initial": initial, "message": None}
    if request.method != "POST" or not form.validate():
        return values
    db = request.dbsession
    checker = request.find_service(IUserPasswordCheck)
    result, row = lockout.change_own_password(
        lambda current: checker.check(user, current, action="password.check"),
        form.current_password.data,
        form.new_password.data,
        clock.now(request.registry),
    )
    if result == lockout.OwnPasswordChange.SIGNED_OUT:
        request.session.invalidate()
        return HTTPFound(request.route_url("top"))
    if form.refused(result):
        return values
    audit.record(
        db,
        "password.change",
        actor=row.user_id,
        target=row.user_id,
        contract_no=row.contract.contract_no,
        request=request,
        details={"initial": initial},
    )
    request.find_service(IOutbox).notify_user(
        row, "password_changed", changed_at=row.password_changed_at
    )
    request.session.flash(localize(request, CHANGED), "info")
    if initial:
        return HTTPFound(_after_login_url(request, row))
    return HTTPFound(request.route_url("info"))


@view_config(
    route_name="password_initial",
    renderer="auth/password_change.html",
    permission=Permission.CHANGE_INITIAL_PASSWORD,
    request_method=("GET", "POST"),
)
def password_initial(request: Request) -> Any:
    """FLOW-3: a temporary password must be changed before anything else."""
    if not request.identity.user.password_is_temporary:
        return HTTPFound(request.route_url("info"))
    return _change_password(request, initial=True)


@view_config(
    route_name="password",
    renderer="auth/password_change.html",
    permission=Permission.USE,
    request_method=("GET", "POST"),
)
def password_change(request: Request) -> Any:
    """FLOW-6: パスワード変更 (共通機能)."""
    return _change_password(request, initial=False)


@view_config(route_name="logout", request_method="POST", require_csrf=True)
def logout(request: Request) -> Response:
    """FLOW-7: the session ends on the server at once."""
    identity = request.identity
    if identity is not None:
        audit.record(
            request.dbsession,
            "logout",
            actor=identity.user.user_id,
            contract_no=identity.user.contract.contract_no,
            request=request,
        )
    request.session.invalidate()
    return HTTPFound(request.route_url("top", _query={"reason": "logged_out"}))


@view_config(
    route_name="groups",
    renderer="groups.html",
    permission=Permission.USE,
    request_method=("GET", "POST"),
)
def groups(request: Request) -> Any:
    """DC590101: the contract's deposit groups; only the user's own contract's can be chosen."""
    user: User = request.identity.user
    contract_groups = user.contract.deposit_groups
    if user.contract.kind != ContractKind.MEMBER:
        return HTTPFound(request.route_url("info"))  # 事業主 (財形): no group selection (001)
    if request.method == "POST":
        chosen = next(
            (g for g in contract_groups if str(g.id) == request.POST.get("group_id", "")), None
        )
        if chosen is not None:
            request.session[GROUP_KEY] = chosen.id
            return HTTPFound(request.route_url("info"))
    modules = get_modules(request.registry)
    return {
        "rows": [(group, modules.summary(group)) for group in contract_groups],
        "message": _("入金グループを選択してください。") if request.method == "POST" else None,
    }


@view_config(
    route_name="info", renderer="info.html", permission=Permission.USE, request_method="GET"
)
def info(request: Request) -> Any:
    """DC671101 (SPEC 6.5; for a 事業主 contract the 財形 variant, SPEC 6.4): 前回ログイン日時, the
    panels of the modules enabled for the deposit group and not 非表示 for the user (ACC-7), and
    the messages (BANK-6)."""
    user: User = request.identity.user
    employer = user.contract.kind == ContractKind.EMPLOYER
    group = selected_group(request)
    if group is None and not employer:
        return HTTPFound(request.route_url("groups"))
    previous = user.previous_login_at
    now = clock.now(request.registry)
    return {
        "employer": employer,
        "previous_login": timefmt.slashed(previous, seconds=False) if previous else None,
        "panels": get_modules(request.registry).info_panels(
            request, group, hidden=hidden_modules(user)
        )
        if group
        else [],
        "info_messages": visible_messages(request.dbsession, user.contract, group, now),
        "notices": request.session.pop_flash("info"),
    }


@view_config(
    route_name="session_keepalive",
    permission=Permission.USE,
    request_method="POST",
    require_csrf=True,
)
def session_keepalive(request: Request) -> Response:
    """ログインを継続する on the session timeout notice (AUTH-6): a request, so the idle time starts
    again; nothing else changes."""
    return Response(status=204)


def includeme(config: Any) -> None:
    """Routes of the logged-in screens of the core."""
    config.add_route("password_initial", "/password/initial")
    config.add_route("password", "/password")
    config.add_route("logout", "/logout")
    config.add_route("groups", "/groups")
    config.add_route("info", "/info")
    config.add_route("session_keepalive", "/session/keepalive")
    config.scan("core.web.login")
