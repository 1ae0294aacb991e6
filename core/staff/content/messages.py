"""お知らせ in the console (BANK-6): list, create, edit and withdraw the information screen's
messages (掲載日, 件名, メッセージ, audience, 掲載開始 and 掲載終了).

The form's fields are the お知らせ file's columns, written as in the file, and are checked by the
same rules (:func:`core.bank.messages.message_from_cells`); a refused cell's message stands at its
field. The customers' DC671101 reads them through :func:`core.bank.messages.visible_messages`.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.request import Request
from sqlalchemy import select
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice

from core import audit, clock
from core.bank.messages import (
    AUDIENCE_WORDS,
    cells_of,
    message_from_cells,
    save_message,
    withdraw_message,
)
from core.bank.organisations import Organisations
from core.db.models import Message
from core.hookspecs import StaffPermission
from core.web.forms import Form, StringField, formdata

#: Each form field and the file's column it stands for.
FIELD_COLUMNS = {
    "message_no": "お知らせ番号",
    "posted_on": "掲載日",
    "subject": "件名",
    "body": "メッセージ",
    "audience": "対象",
    "contract_no": "契約番号",
    "group_no": "入金グループ",
    "publish_at": "掲載開始",
    "withdraw_at": "掲載終了",
}

ALREADY_NUMBERED = "このお知らせ番号のお知らせは登録済みです。"


class MessageForm(Form):
    """A message as the お知らせ file writes it (dates as YYYYMMDD, times as YYYYMMDDHHMM)."""

    message_no = StringField("お知らせ番号", description="半角英数字10文字以内")
    posted_on = StringField("掲載日", description="YYYYMMDD")
    subject = StringField("件名")
    body = TextAreaField("メッセージ")
    audience = SelectField(
        "対象", choices=[SelectChoice(word, word) for word in AUDIENCE_WORDS], validate_choice=False
    )
    contract_no = StringField("契約番号", description="対象が契約・入金グループのとき")
    group_no = StringField("入金グループ", description="対象が入金グループのとき")
    publish_at = StringField("掲載開始", description="YYYYMMDDHHMM（日本時間）、空欄は掲載日の0時")
    withdraw_at = StringField("掲載終了", description="YYYYMMDDHHMM（日本時間）、空欄は期限なし")

    def cells(self) -> dict[str, str]:
        """The form's values as the file's cells (line breaks as the file keeps them)."""
        cells = {column: (self[name].data or "").strip() for name, column in FIELD_COLUMNS.items()}
        cells["メッセージ"] = (self.body.data or "").replace("\r\n", "\n").strip()
        return cells


def _status(message: Message, now: Any) -> str:
    if message.withdraw_at is not None and message.withdraw_at <= now:
        return "掲載終了"
    return "掲載中" if message.publish_at <= now else "掲載前"


def message_list(request: Request) -> dict[str, Any]:
    """Every message, newest 掲載日 first, with its audience and whether it is shown now."""
    dbsession = request.dbsession
    now = clock.now(request.registry)
    messages = list(
        dbsession.scalars(select(Message).order_by(Message.posted_on.desc(), Message.message_no))
    )
    return {
        "rows": [
            (message, cells_of(dbsession, message), _status(message, now)) for message in messages
        ],
        "withdrawn": request.GET.get("withdrawn", ""),
        "saved": request.GET.get("saved", ""),
    }


def _message(request: Request) -> Message:
    message = request.dbsession.scalars(
        select(Message).where(Message.message_no == request.matchdict["message_no"])
    ).one_or_none()
    if message is None:
        raise HTTPNotFound()
    return message


def _save(request: Request, form: MessageForm, existing: Message | None) -> bool:
    """Check the form by the file's rules and save it, audited; False (messages at the fields,
    nothing stored) when a rule is broken."""
    dbsession = request.dbsession
    data, errors = message_from_cells(form.cells(), Organisations(dbsession))
    if existing is None and not errors:
        taken = dbsession.scalars(
            select(Message.id).where(Message.message_no == form.message_no.data.strip())
        ).first()
        if taken is not None:
            form.message_no.errors = [ALREADY_NUMBERED]
            return False
    if data is None:
        columns = {column: name for name, column in FIELD_COLUMNS.items()}
        for error in errors:
            field = form[columns.get(error.column, "message_no")]
            field.errors = [*field.errors, error.message]
        return False
    message = save_message(dbsession, data)
    if existing is None or dbsession.is_modified(message):
        audit.record(
            dbsession,
            "bank.message.create" if existing is None else "bank.message.update",
            actor=request.identity.staff_id,
            actor_kind="bank",
            target=data.message_no,
            contract_no=data.contract.contract_no if data.contract is not None else None,
            request=request,
            details={"subject": data.subject, "audience": str(data.audience)},
        )
    return True


def message_new(request: Request) -> Any:
    """A new message."""
    form = MessageForm(formdata(request), data={"audience": "全体"})
    if request.method == "POST" and form.validate() and _save(request, form, None):
        return HTTPSeeOther(
            request.route_url("staff_messages", _query={"saved": form.message_no.data})
        )
    return {"form": form, "message": None}


def message_edit(request: Request) -> Any:
    """A message changed (its number stays)."""
    message = _message(request)
    cells = cells_of(request.dbsession, message)
    form = MessageForm(
        formdata(request), data={name: cells[column] for name, column in FIELD_COLUMNS.items()}
    )
    if request.method == "POST":
        form.message_no.data = message.message_no  # the number is the message's key
        if form.validate() and _save(request, form, message):
            return HTTPSeeOther(
                request.route_url("staff_messages", _query={"saved": message.message_no})
            )
    return {"form": form, "message": message}


def message_withdraw(request: Request) -> HTTPSeeOther:
    """Withdraw a message now: the customers' next request no longer shows it."""
    message = _message(request)
    if withdraw_message(message, clock.now(request.registry)):
        audit.record(
            request.dbsession,
            "bank.message.withdraw",
            actor=request.identity.staff_id,
            actor_kind="bank",
            target=message.message_no,
            request=request,
        )
    return HTTPSeeOther(
        request.route_url("staff_messages", _query={"withdrawn": message.message_no})
    )


def includeme(config: Configurator) -> None:
    """The お知らせ screens."""
    manage = StaffPermission.CONTENT_MANAGE
    config.add_route("staff_messages", "/staff/content/messages")
    config.add_route("staff_message_new", "/staff/content/messages/new")
    config.add_route(
        "staff_message", r"/staff/content/messages/{message_no:[0-9A-Za-z]{1,10}}/edit"
    )
    config.add_route(
        "staff_message_withdraw", r"/staff/content/messages/{message_no:[0-9A-Za-z]{1,10}}/withdraw"
    )
    config.add_view(
        message_list,
        route_name="staff_messages",
        renderer="staff/content/messages.html",
        permission=manage,
        request_method="GET",
    )
    for view, route in ((message_new, "staff_message_new"), (message_edit, "staff_message")):
        config.add_view(
            view,
            route_name=route,
            renderer="staff/content/message.html",
            permission=manage,
            request_method=("GET", "POST"),
        )
    config.add_view(
        message_withdraw,
        route_name="staff_message_withdraw",
        permission=manage,
        request_method="POST",
    )
