"""The module's customer screens (連絡メモ照会, 連絡メモ登録) and its staff screen."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPForbidden, HTTPFound
from pyramid.request import Request
from wtforms.validators import Length, Regexp

from cjs_example_module import notes
from cjs_example_module.loader import TITLE_MAX
from core import audit, clock
from core.db.models import DepositGroup
from core.hookspecs import StaffPermission
from core.mail.notify import notify_user
from core.security.tenancy import selected_group
from core.web.forms import Form, StringField, formdata, required


class NoteForm(Form):
    """件名 and 金額, both required."""

    title = StringField(
        "件名",
        [
            required("件名"),
            Length(max=TITLE_MAX, message=f"件名は{TITLE_MAX}文字以内で入力してください。"),
        ],
    )
    amount = StringField(
        "金額",
        [required("金額"), Regexp(r"^\d{1,9}$", message="金額は半角数字で入力してください。")],
    )


def _group(request: Request) -> DepositGroup:
    """The selected deposit group (the core's module guard lets no request in without one)."""
    group = selected_group(request)
    if group is None:
        raise HTTPForbidden()
    return group


def note_list(request: Request) -> dict[str, Any]:
    """連絡メモ照会: the selected group's notes and the PDF and CSV links."""
    return {"notes": notes.notes_of(request.dbsession, _group(request))}


def note_form(request: Request) -> dict[str, Any]:
    """連絡メモ登録: the empty form."""
    return {"form": NoteForm()}


def note_create(request: Request) -> Any:
    """連絡メモ登録: write the note, record it in 操作ログ, mail the user; or the form again."""
    form = NoteForm(formdata(request))
    if not form.validate():
        return {"form": form}
    user = request.identity.user
    group = _group(request)
    note = notes.add_note(
        request.dbsession,
        group,
        title=form.title.data,
        amount=int(form.amount.data),
        created_by=user.user_id,
        now=clock.now(request.registry),
    )
    audit.record(
        request.dbsession,
        notes.CREATE_ACTION,
        actor=user.user_id,
        contract_no=user.contract.contract_no,
        target=group.group_no,
        request=request,
        details={"title": note.title, "amount": note.amount},
    )
    notify_user(request, user, "example_notes_added", title=note.title, amount=note.amount)
    return HTTPFound(request.route_url("example_notes:list"))


def staff_overview(request: Request) -> dict[str, Any]:
    """The staff screen: how many notes each deposit group has."""
    return {"counts": notes.counts_by_group(request.dbsession)}


def add_routes(config: Configurator) -> None:
    """The customer screens, under ``/m/example_notes`` (the core guards them)."""
    config.add_route("example_notes:list", "/")
    config.add_view(
        note_list,
        route_name="example_notes:list",
        renderer="example_notes/list.html",
        request_method="GET",
    )
    config.add_route("example_notes:new", "/new")
    # changes_data is declared here, once: the menu hides the entry from 閲覧のみ users.
    config.add_view(
        note_form,
        route_name="example_notes:new",
        renderer="example_notes/new.html",
        request_method="GET",
        changes_data=True,
    )
    config.add_view(
        note_create,
        route_name="example_notes:new",
        renderer="example_notes/new.html",
        request_method="POST",
        changes_data=True,
    )


def add_staff_routes(config: Configurator) -> None:
    """The staff screen, under ``/staff/m/example_notes`` (staff app only)."""
    config.add_route("example_notes:staff", "/")
    config.add_view(
        staff_overview,
        route_name="example_notes:staff",
        renderer="example_notes/staff.html",
        permission=StaffPermission.USE,
        request_method="GET",
    )
