"""DM493101 契約ユーザー情報照会, contract user registration, DM492101 契約ユーザー情報変更 and the
deletion of a general user (FLOW-3, FLOW-5, ACC-6, ACC-7, AUTH-2).

Every view re-checks tenancy on the server: a user ID in a URL that is not of the viewer's contract,
or deleted, is 404 whoever asks; a general user asking for another user of its contract is refused
(403). The rules themselves live in :mod:`core.accounts.users`; these views validate input (ACC-8: the screen
again with each field's message, input kept but passwords, nothing stored) and follow
Post/Redirect/Get.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from pyramid.httpexceptions import HTTPForbidden, HTTPFound, HTTPNotFound
from pyramid.request import Request
from pyramid.view import view_config
from wtforms import RadioField, SelectChoice
from wtforms.validators import ValidationError

from core import clock, rules, timefmt
from core.accounts import users
from core.db.models import User
from core.hookspecs import ServiceModule
from core.i18n import Message, _, localize
from core.security.policy import Permission
from core.web.forms import Form, PasswordField, StringField, UserRegistrationForm, formdata


def created(user_id: str) -> Message:
    """The notice after a general user is registered."""
    return _("一般ユーザー（${user_id}）を登録しました。", user_id=user_id)


def updated(user_id: str) -> Message:
    """The notice after a user's information is changed."""
    return _("契約ユーザー情報（${user_id}）を更新しました。", user_id=user_id)


def deleted(user_id: str) -> Message:
    """The notice after a general user is deleted."""
    return _("一般ユーザー（${user_id}）を削除しました。", user_id=user_id)


NOTHING_ENTERED = _("変更する項目を入力（または選択）してください。")
PASSWORD_MISMATCH = _("パスワードと再入力したパスワードが一致しません。")
EMAIL_MISMATCH = _("メールアドレスと再入力したメールアドレスが一致しません。")
NOT_A_CHOICE = _("選択肢から選択してください。")

RESTRICTION_PREFIX = "restriction_"

FormT = TypeVar("FormT", bound=Form)


def _time(value: Any) -> str:
    """A time as DM493101 shows it: Japan time, 2012/10/25 13:23:30."""
    return timefmt.slashed(value)


# --- Forms ----------------------------------------------------------------------------------------


class ChoiceField(RadioField):
    """A radio group whose refusal of an unknown value is in Japanese."""

    def pre_validate(self, form: Form) -> None:
        if self.data not in {choice.value for choice in self.choices or []}:
            raise ValidationError(NOT_A_CHOICE)


def _if_entered(check: Callable[[str], str | None]) -> Callable[[Form, Any], None]:
    """A rule of :mod:`core.rules` applied only when the field was entered (DM492101)."""

    def validate(form: Form, field: Any) -> None:
        if field.data:
            message = check(field.data)
            if message:
                raise ValidationError(message)

    return validate


def _matches(other: str, message: str) -> Callable[[Form, Any], None]:
    """The re-entry equals ``other``; both empty is a match (nothing to change)."""

    def validate(form: Form, field: Any) -> None:
        if (field.data or "") != (form[other].data or ""):
            raise ValidationError(message)

    return validate


def _restriction_field(module: ServiceModule, default: str) -> ChoiceField:
    return ChoiceField(
        module.restriction_label,
        choices=[
            SelectChoice(level, users.level_label(level)) for level in module.restriction_levels
        ],
        default=default,
    )


def _with_restrictions(
    base: type[FormT], modules: list[ServiceModule], levels: dict[str, str]
) -> type[FormT]:
    """``base`` with a ユーザー別機能制限 radio group per module (ACC-7), current level selected."""
    fields = {
        RESTRICTION_PREFIX + m.code: _restriction_field(m, levels.get(m.code, users.DEFAULT_LEVEL))
        for m in modules
    }
    return cast("type[FormT]", type(f"{base.__name__}WithRestrictions", (base,), fields))


def _levels(form: Form, modules: list[ServiceModule]) -> dict[str, str]:
    return {m.code: form[RESTRICTION_PREFIX + m.code].data for m in modules}


class ProfileForm(Form):
    """DM492101 for every user: ユーザー名, メールアドレス (+再入力); empty fields stay unchanged."""

    user_name = StringField(_("ユーザー名"), [_if_entered(rules.check_user_name)])
    email = StringField(_("メールアドレス"))
    email_confirm = StringField(_("メールアドレス再入力"), [_matches("email", EMAIL_MISMATCH)])

    def __init__(
        self, formdata: Any = None, *, denied_domains: frozenset[str] = frozenset(), **kw: Any
    ) -> None:
        super().__init__(formdata, **kw)
        self.denied_domains = denied_domains

    def validate_email(self, field: Any) -> None:
        """ACC-5 with the bank's deny list, when entered."""
        if field.data:
            message = rules.check_email(field.data, self.denied_domains)
            if message:
                raise ValidationError(message)


class MasterEditForm(ProfileForm):
    """DM492101 as the master fills it: a password (+再入力) besides the profile."""

    password = PasswordField(_("パスワード"), [_if_entered(rules.check_password)])
    password_confirm = PasswordField(
        _("パスワード再入力"), [_matches("password", PASSWORD_MISMATCH)]
    )


class GeneralEditForm(MasterEditForm):
    """DM492101 as the master fills it for a general user: also ユーザー状態 (restrictions added)."""

    state = ChoiceField(
        _("ユーザー状態"), choices=[SelectChoice(s.value, s.label) for s in users.UserState]
    )


def _edit_form_class(viewer: User, target: User, modules: list[ServiceModule]) -> type[ProfileForm]:
    """What ``viewer`` may change of ``target`` (ACC-6): fields it may not change are not in it."""
    if not users.is_master(viewer):
        return ProfileForm
    if users.is_master(target):
        return MasterEditForm
    return _with_restrictions(GeneralEditForm, modules, users.levels_of(target))


def _denied_domains(request: Request) -> frozenset[str]:
    domains: frozenset[str] = request.registry.settings["cjs.email.denied_domains"]
    return domains


# --- Tenancy ----------------------------------------------------------------------------------------


def _target(request: Request) -> User:
    """The user named in the URL: 404 unless of the viewer's contract and not deleted; 403 unless the
    viewer may see it (ACC-6)."""
    viewer: User = request.identity.user
    target = users.in_contract(request.dbsession, viewer, request.matchdict["user_id"])
    if target is None:
        raise HTTPNotFound()
    if not users.may_see(viewer, target):
        raise HTTPForbidden()
    return target


# --- Views --------------------------------------------------------------------------------------------


def _with_error(values: dict[str, Any], exc: users.UserAdminError) -> dict[str, Any]:
    """The screen again with the refusal next to its field, or above the form (ACC-8)."""
    form = values["form"]
    if exc.field is not None and exc.field in form:
        form[exc.field].errors = [*form[exc.field].errors, exc.message]
    else:
        values["message"] = exc.message
    return values


@view_config(
    route_name="users",
    renderer="accounts/users_list.html",
    permission=Permission.USE,
    request_method="GET",
)
def users_list(request: Request) -> dict[str, Any]:
    """DM493101: the master sees the contract's users, a general user its own row (ACC-6)."""
    viewer: User = request.identity.user
    now = clock.now(request.registry)
    rows = [
        {
            "user": user,
            "role": users.role_label(user),
            "state": users.state_of(user, now).label,
            "since": _time(users.state_since(user, now)),
            "last_login": _time(user.last_login_at),
            "deletable": users.is_master(viewer) and not users.is_master(user),
        }
        for user in users.visible_users(request.dbsession, viewer)
    ]
    return {
        "rows": rows,
        "is_master": users.is_master(viewer),
        "notices": request.session.pop_flash("info"),
        "errors": request.session.pop_flash("error"),
    }


@view_config(
    route_name="users_new",
    renderer="accounts/users_new.html",
    permission=Permission.ADMINISTER,
    request_method=("GET", "POST"),
)
def users_new(request: Request) -> Any:
    """Contract user registration (登録へ): a general user with a temporary password (FLOW-3)."""
    master: User = request.identity.user
    modules = request.find_service(users.IUserAdministration).restrictable_modules(master.contract)
    form_class = _with_restrictions(UserRegistrationForm, modules, {})
    form: Any = form_class(formdata(request), denied_domains=_denied_domains(request))
    at_limit = (
        users.general_user_count(request.dbsession, master.contract_id) >= users.MAX_GENERAL_USERS
    )
    values = {
        "form": form,
        "modules": modules,
        "prefix": RESTRICTION_PREFIX,
        "message": users.LIMIT_REACHED if at_limit else None,
    }
    if request.method != "POST" or not form.validate():
        return values
    new = users.NewUser(
        user_id=form.user_id.data,
        name=form.user_name.data,
        email=form.email.data,
        password=form.password.data,
        levels=_levels(form, modules),
    )
    try:
        request.find_service(users.IUserAdministration).create_general_user(master, new)
    except users.UserAdminError as exc:
        return _with_error(values, exc)
    request.session.flash(localize(request, created(new.user_id)), "info")
    return HTTPFound(request.route_url("users"))


@view_config(
    route_name="user_edit",
    renderer="accounts/users_edit.html",
    permission=Permission.USE,
    request_method=("GET", "POST"),
)
def user_edit(request: Request) -> Any:
    """DM492101: only the fields entered change (「変更しない項目は入力不要です」)."""
    viewer: User = request.identity.user
    target = _target(request)
    now = clock.now(request.registry)
    manages_general = users.is_master(viewer) and not users.is_master(target)
    modules = (
        request.find_service(users.IUserAdministration).restrictable_modules(target.contract)
        if manages_general
        else []
    )
    form_class = _edit_form_class(viewer, target, modules)
    current_state = users.state_of(target, now)
    form: Any = form_class(
        formdata(request),
        denied_domains=_denied_domains(request),
        data={"state": current_state.value} if manages_general else {},
    )
    values = {
        "form": form,
        "target": target,
        "role": users.role_label(target),
        "own": viewer.id == target.id,
        "manages_general": manages_general,
        "modules": modules,
        "prefix": RESTRICTION_PREFIX,
        "current_state": current_state,
        "states": list(users.UserState),
        "since": _time(users.state_since(target, now)),
        "message": None,
    }
    if request.method != "POST" or not form.validate():
        return values
    changes = users.Changes(
        name=form.user_name.data or None,
        email=form.email.data or None,
        password=(form.password.data or None) if "password" in form else None,
        state=form.state.data if "state" in form else None,
        levels=_levels(form, modules) if modules else None,
    )
    try:
        changed = request.find_service(users.IUserAdministration).update_user(
            viewer, target, changes
        )
    except users.NotAllowed:
        raise HTTPForbidden() from None
    except users.UserAdminError as exc:
        return _with_error(values, exc)
    if not changed:
        values["message"] = NOTHING_ENTERED
        return values
    request.session.flash(localize(request, updated(target.user_id)), "info")
    return HTTPFound(request.route_url("users"))


@view_config(
    route_name="user_delete",
    renderer="accounts/users_delete.html",
    permission=Permission.ADMINISTER,
    request_method=("GET", "POST"),
)
def user_delete(request: Request) -> Any:
    """削除: a confirmation (GET), then the deletion (POST); the master itself cannot be deleted."""
    master: User = request.identity.user
    target = _target(request)
    if users.is_master(target):
        request.session.flash(localize(request, users.MASTER_NOT_DELETABLE), "error")
        return HTTPFound(request.route_url("users"))
    if request.method == "POST":
        try:
            request.find_service(users.IUserAdministration).delete_general_user(master, target)
        except users.UserAdminError as exc:  # e.g. deleted meanwhile from another browser
            request.session.flash(localize(request, exc.message), "error")
        else:
            request.session.flash(localize(request, deleted(target.user_id)), "info")
        return HTTPFound(request.route_url("users"))
    return {"target": target, "role": users.role_label(target)}


def includeme(config: Any) -> None:
    """Routes of システム管理機能 → 契約ユーザー情報照会 (``/users/new`` before ``/users/{user_id}``)."""
    config.add_route("users", "/users")
    config.add_route("users_new", "/users/new")
    config.add_route("user_edit", "/users/{user_id}")
    config.add_route("user_delete", "/users/{user_id}/delete")
    config.scan("core.web.users")
