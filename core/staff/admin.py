"""The administrator's screens (#14): 職員管理 — list staff, create staff with roles, change roles,
lock and unlock, revoke a staff certificate (through the revocation service: the CRL covers it),
issue a new one.

Every screen needs :attr:`~core.hookspecs.StaffPermission.STAFF_MANAGE`; every change is one
transaction, audited by ``core.staff.accounts`` with the administrator as the actor, and refused
(the screen again, the message at the field, nothing stored) when it breaks a rule — the last
administrator's among them. A new certificate's PKCS#12 and its password are shown once: the file
is kept sealed in the administrator's session (``core.security.sessions``) until it is downloaded
or another one replaces it.
"""

from __future__ import annotations

import base64
from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import select
from wtforms import SelectChoice, SelectField, SelectMultipleField
from wtforms.validators import Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from core import clock
from core.db.models import StaffCertificate, StaffMember
from core.hookspecs import StaffPermission
from core.pki.signers import get_signer
from core.pki.x509 import REVOCATION_REASONS
from core.staff import accounts
from core.staff.roles import StaffRole
from core.web.forms import Form, StringField, formdata, required

MANAGE = StaffPermission.STAFF_MANAGE
#: The sealed session values of the last issued certificate (file, its password, its name).
SEALED_P12 = "staff_admin_p12"
SEALED_P12_PASSWORD = "staff_admin_p12_password"  # noqa: S105 (a key name)
ISSUED_KEY = "staff_admin_issued"

REASON_LABELS = {
    "unspecified": "理由なし（unspecified）",
    "keyCompromise": "鍵の危殆化（keyCompromise）",
    "affiliationChanged": "所属の変更（affiliationChanged）",
    "superseded": "置き換え（superseded）",
    "cessationOfOperation": "業務の終了（cessationOfOperation）",
    "privilegeWithdrawn": "権限の取り消し（privilegeWithdrawn）",
}


class RolesField(SelectMultipleField):
    """The roles as checkboxes, labelled 取扱者 / 検印者 / 管理者."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _role_choices() -> list[SelectChoice]:
    return [SelectChoice(role.value, role.label) for role in StaffRole]


def _at_least_one_role(form: Form, field: Any) -> None:
    from wtforms.validators import ValidationError

    if not field.data:
        raise ValidationError("権限を1つ以上選択してください。")


class RolesForm(Form):
    roles = RolesField("権限", choices=_role_choices(), validators=[_at_least_one_role])


class StaffForm(RolesForm):
    staff_id = StringField(
        "職員ID",
        [
            required("職員ID"),
            Regexp(
                r"^[A-Za-z0-9]{4,32}$",
                message="職員IDは半角英数字4～32文字で入力してください。",
            ),
        ],
    )
    name = StringField(
        "氏名",
        [
            required("氏名"),
            Regexp(r"^[^\x00-\x1f]{1,50}$", message="氏名は50文字以内で入力してください。"),
        ],
    )


class RevokeForm(Form):
    reason = SelectField(
        "失効理由",
        choices=[SelectChoice(name, label) for name, label in REASON_LABELS.items()],
        default="unspecified",
    )


def _member(request: Request) -> StaffMember:
    member = accounts.find_staff(request.dbsession, request.matchdict["staff_id"])
    if member is None:
        raise HTTPNotFound()
    return member


def _actor(request: Request) -> str:
    return str(request.identity.staff_id)


def _state(member: StaffMember, now: Any) -> str:
    if member.disabled_at is not None:
        return "無効"
    if member.blocked_at is not None:
        return "閉塞"
    if member.locked_until is not None and now < member.locked_until:
        return "ロック中"
    return "正常"


def _keep_issued(request: Request, member: StaffMember, issued: Any, password: str) -> None:
    """Seal the new PKCS#12 and its password in the session for the result screen (shown once)."""
    request.session.seal(SEALED_P12, base64.b64encode(issued.pkcs12).decode())
    request.session.seal(SEALED_P12_PASSWORD, password)
    request.session[ISSUED_KEY] = {
        "staff_id": member.staff_id,
        "filename": issued.filename,
        "serial": issued.certificate.serial,
    }


def _issue(request: Request, member: StaffMember, password: str) -> HTTPFound:
    """Issue ``member`` a certificate whose PKCS#12 ``password`` opens, keep both for the screen
    that shows them once, and go there."""
    issued = accounts.issue_certificate(
        request.dbsession,
        get_signer(request.registry),
        member,
        password,
        now=clock.now(request.registry),
        actor=_actor(request),
        request=request,
    )
    _keep_issued(request, member, issued, password)
    return HTTPFound(request.route_url("staff_admin_issued"))


@view_config(
    route_name="staff_admin",
    renderer="staff/admin/list.html",
    permission=MANAGE,
    request_method="GET",
)
def staff_list(request: Request) -> dict[str, Any]:
    """職員一覧: every account, its roles, its state, its certificates."""
    now = clock.now(request.registry)
    members = request.dbsession.scalars(select(StaffMember).order_by(StaffMember.staff_id))
    return {
        "rows": [
            (
                m,
                sorted(accounts.roles_of(m)),
                _state(m, now),
                accounts.has_valid_certificate(m, now),
            )
            for m in members
        ],
        "notices": request.session.pop_flash("info"),
    }


@view_config(
    route_name="staff_admin_new",
    renderer="staff/admin/new.html",
    permission=MANAGE,
    request_method=("GET", "POST"),
)
def staff_new(request: Request) -> Any:
    """職員登録: staff ID, name, roles; the account gets a temporary password and a certificate."""
    form = StaffForm(formdata(request))
    if request.method != "POST" or not form.validate():
        return {"form": form}
    db = request.dbsession
    now = clock.now(request.registry)
    try:
        member, password = accounts.create_staff(
            db,
            staff_id=form.staff_id.data,
            name=form.name.data,
            roles=[StaffRole(role) for role in form.roles.data],
            now=now,
            actor=_actor(request),
            request=request,
        )
    except accounts.StaffAdminError as refused:
        form[refused.field or "staff_id"].errors = [refused.message]
        return {"form": form}
    return _issue(request, member, password)


@view_config(
    route_name="staff_admin_member",
    renderer="staff/admin/member.html",
    permission=MANAGE,
    request_method="GET",
)
def staff_member(request: Request) -> dict[str, Any]:
    """One account: its roles (to change), lock/unlock, its certificates (to revoke), a new one."""
    member = _member(request)
    return _member_screen(
        request, member, RolesForm(data={"roles": sorted(accounts.roles_of(member))})
    )


def _member_screen(
    request: Request, member: StaffMember, roles_form: Form, message: str | None = None
) -> dict[str, Any]:
    now = clock.now(request.registry)
    return {
        "member": member,
        "state": _state(member, now),
        "roles_form": roles_form,
        "revoke_form": RevokeForm(),
        "certificates": list(reversed(member.certificates)),
        "message": message,
        "notices": request.session.pop_flash("info"),
    }


def _refused(request: Request, member: StaffMember, message: str) -> Response:
    from pyramid.renderers import render_to_response

    roles_form = RolesForm(data={"roles": sorted(accounts.roles_of(member))})
    return render_to_response(
        "staff/admin/member.html",
        _member_screen(request, member, roles_form, message),
        request=request,
    )


def _done(request: Request, member: StaffMember, notice: str) -> HTTPFound:
    request.session.flash(notice, "info")
    return HTTPFound(request.route_url("staff_admin_member", staff_id=member.staff_id))


@view_config(
    route_name="staff_admin_roles",
    renderer="staff/admin/member.html",
    permission=MANAGE,
    request_method="POST",
)
def staff_roles(request: Request) -> Any:
    """権限の変更."""
    member = _member(request)
    form = RolesForm(formdata(request))
    if not form.validate():
        return _member_screen(request, member, form)
    try:
        accounts.set_roles(
            request.dbsession,
            member,
            [StaffRole(role) for role in form.roles.data],
            now=clock.now(request.registry),
            actor=_actor(request),
            request=request,
        )
    except accounts.StaffAdminError as refused:
        form.roles.errors = [refused.message]
        return _member_screen(request, member, form)
    return _done(request, member, "権限を変更しました。")


@view_config(route_name="staff_admin_lock", permission=MANAGE, request_method="POST")
def staff_lock(request: Request) -> Response:
    """ロック: the account is blocked, its sessions end."""
    member = _member(request)
    try:
        accounts.lock_staff(
            request.dbsession,
            member,
            now=clock.now(request.registry),
            actor=_actor(request),
            request=request,
        )
    except accounts.StaffAdminError as refused:
        return _refused(request, member, refused.message)
    return _done(request, member, "ロックしました。")


@view_config(route_name="staff_admin_unlock", permission=MANAGE, request_method="POST")
def staff_unlock(request: Request) -> Response:
    """ロック解除 (AUTH-2): lock, block and counters cleared."""
    member = _member(request)
    accounts.unlock_staff(request.dbsession, member, actor=_actor(request), request=request)
    return _done(request, member, "ロックを解除しました。")


@view_config(route_name="staff_admin_revoke", permission=MANAGE, request_method="POST")
def staff_revoke(request: Request) -> Response:
    """電子証明書の失効, with an RFC 5280 reason."""
    member = _member(request)
    certificate = request.dbsession.scalars(
        select(StaffCertificate).where(
            StaffCertificate.staff_pk == member.id,
            StaffCertificate.serial == request.matchdict["serial"],
        )
    ).one_or_none()
    if certificate is None:
        raise HTTPNotFound()
    form = RevokeForm(formdata(request))
    if not form.validate() or form.reason.data not in REVOCATION_REASONS:
        return _refused(request, member, "失効理由を選択してください。")
    try:
        accounts.revoke_certificate(
            request.dbsession,
            certificate,
            reason=form.reason.data,
            now=clock.now(request.registry),
            actor=_actor(request),
            request=request,
        )
    except accounts.StaffAdminError as refused:
        return _refused(request, member, refused.message)
    return _done(request, member, "電子証明書を失効しました。")


@view_config(route_name="staff_admin_issue", permission=MANAGE, request_method="POST")
def staff_issue(request: Request) -> Response:
    """電子証明書の発行: a new certificate (the previous one superseded), its PKCS#12 protected by
    a new one-time password shown with it."""
    member = _member(request)
    return _issue(request, member, accounts.generate_initial_password())


@view_config(
    route_name="staff_admin_issued",
    renderer="staff/admin/issued.html",
    permission=MANAGE,
    request_method="GET",
)
def staff_issued(request: Request) -> Any:
    """The new certificate: its file to download and the password, shown this once."""
    issued = request.session.get(ISSUED_KEY)
    password = request.session.unseal(SEALED_P12_PASSWORD)
    if not issued or password is None:
        return HTTPFound(request.route_url("staff_admin"))
    request.session.discard_sealed(SEALED_P12_PASSWORD)
    return {"issued": issued, "password": password}


@view_config(route_name="staff_admin_download", permission=MANAGE, request_method="GET")
def staff_download(request: Request) -> Response:
    """The PKCS#12, once: it is wiped from the session as it is sent (then: the list)."""
    issued = request.session.get(ISSUED_KEY)
    sealed = request.session.unseal(SEALED_P12)
    if not issued or sealed is None:
        return HTTPFound(request.route_url("staff_admin"))
    request.session.discard_sealed(SEALED_P12)
    request.session.pop(ISSUED_KEY)
    response = Response(body=base64.b64decode(sealed), content_type="application/x-pkcs12")
    response.content_disposition = f'attachment; filename="{issued["filename"]}"'
    response.cache_control = "no-store"
    return response


def includeme(config: Configurator) -> None:
    """The routes of 職員管理 and its menu entry."""
    config.add_route("staff_admin", "/staff/admin/staff")
    config.add_route("staff_admin_new", "/staff/admin/staff/new")
    config.add_route("staff_admin_issued", "/staff/admin/issued")
    config.add_route("staff_admin_download", "/staff/admin/issued/download")
    config.add_route("staff_admin_member", "/staff/admin/staff/{staff_id}")
    config.add_route("staff_admin_roles", "/staff/admin/staff/{staff_id}/roles")
    config.add_route("staff_admin_lock", "/staff/admin/staff/{staff_id}/lock")
    config.add_route("staff_admin_unlock", "/staff/admin/staff/{staff_id}/unlock")
    config.add_route("staff_admin_issue", "/staff/admin/staff/{staff_id}/certificates")
    config.add_route(
        "staff_admin_revoke", "/staff/admin/staff/{staff_id}/certificates/{serial}/revoke"
    )
    config.add_staff_menu_entry("職員管理", "staff_admin", MANAGE, order=900)
    config.scan("core.staff.admin")
