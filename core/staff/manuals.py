"""マニュアル管理 for bank staff (#14 item 5, BANK-7): upload manual PDFs with a name, a comment and an
audience (会員 / 事業主 / both), order them, withdraw them. The customers' マニュアル照会 shows what
is published for their contract's kind, in this order.

The upload is the one view of the staff app that takes a file (``accepts_upload=True``): the file
must really be a PDF (its header and end marker, not the browser's content type) within the size
limit. Bad input shows the screen again with the Japanese message at the field and the typed text
kept; nothing is stored. Each change is one transaction and is audited (core.bank.manuals).
"""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config
from wtforms import FileField, Form, RadioField, StringField, TextAreaField

from core import clock, timefmt
from core.bank import manuals
from core.hookspecs import StaffPermission
from core.outputs.pdf import PDF_CONTENT_TYPE

FILE_REQUIRED = "PDFファイルを選択してください。"
AUDIENCE_CHOICES = [(audience.value, audience.label) for audience in manuals.Audience]
#: What the list says after a change (``?done=``).
DONE_MESSAGES = {
    "uploaded": "マニュアルを登録しました。",
    "moved": "表示順を変更しました。",
    "withdrawn": "マニュアルの掲載を終了しました。",
}


class ManualUploadForm(Form):
    """マニュアル名, コメント, 対象, PDFファイル: checked by core.bank.manuals.register_manual."""

    title = StringField("マニュアル名")
    comment = TextAreaField("コメント")
    audience = RadioField("対象", default=manuals.Audience.BOTH.value)
    file = FileField("PDFファイル")


def _upload_form(formdata: Any = None) -> ManualUploadForm:
    form = ManualUploadForm(formdata)
    form.audience.choices = AUDIENCE_CHOICES
    return form


def _read_upload(request: Request) -> tuple[bytes, str] | None:
    """The uploaded file's bytes (at most one byte over the limit: no more is read) and name, or
    None when no file came."""
    upload = request.POST.get("file")
    if upload is None or isinstance(upload, str) or not getattr(upload, "filename", ""):
        return None
    return upload.file.read(manuals.MAX_SIZE + 1), str(upload.filename)


def _screen(request: Request, form: ManualUploadForm) -> dict[str, Any]:
    return {
        "form": form,
        "rows": [
            {
                "manual": manual,
                "size": manuals.format_size(manual.size),
                "audience": manuals.Audience(manual.audience).label,
                "withdrawn": timefmt.slashed(manual.withdrawn_at, seconds=False),
            }
            for manual in manuals.bank_manuals(request.dbsession)
        ],
        "done": DONE_MESSAGES.get(request.GET.get("done", "")),
        "error": None,
    }


def _back(request: Request, done: str) -> HTTPSeeOther:
    return HTTPSeeOther(request.route_url("staff_manuals", _query={"done": done}))


@view_config(
    route_name="staff_manuals",
    renderer="staff/manuals/list.html",
    permission=StaffPermission.CONTENT_MANAGE,
    request_method="GET",
)
def manual_list(request: Request) -> dict[str, Any]:
    """The manuals (published in order, then withdrawn) and the upload form."""
    return _screen(request, _upload_form())


@view_config(
    route_name="staff_manuals",
    renderer="staff/manuals/list.html",
    permission=StaffPermission.CONTENT_MANAGE,
    request_method="POST",
    accepts_upload=True,
)
def manual_upload(request: Request) -> Response | dict[str, Any]:
    """Register the uploaded PDF, last in the order; on bad input the screen again, nothing stored."""
    form = _upload_form(request.POST)
    upload = _read_upload(request)
    if upload is None:
        form.file.errors = [FILE_REQUIRED]
    else:
        content, filename = upload
        last = max((m.sort_order for m in manuals.bank_manuals(request.dbsession)), default=0)
        try:
            manuals.register_manual(
                request.dbsession,
                title=form.title.data or "",
                comment=form.comment.data or "",
                audience=form.audience.data or "",
                content=content,
                filename=filename,
                content_type=PDF_CONTENT_TYPE,
                sort_order=last + 10,
                actor=request.identity.staff_id,
                request=request,
            )
        except manuals.ManualError as refused:
            getattr(form, refused.field).errors = [refused.message]
        else:
            return _back(request, "uploaded")
    request.response.status_int = 400
    return _screen(request, form)


def _manual_id(request: Request) -> int:
    return int(request.matchdict["manual_id"])


def _refused(request: Request, refused: manuals.ManualError) -> dict[str, Any]:
    request.response.status_int = 404
    values = _screen(request, _upload_form())
    values["error"] = refused.message
    return values


@view_config(
    route_name="staff_manual_move",
    renderer="staff/manuals/list.html",
    permission=StaffPermission.CONTENT_MANAGE,
    request_method="POST",
)
def manual_move(request: Request) -> Response | dict[str, Any]:
    """上へ / 下へ: one place up or down in マニュアル照会's order."""
    steps = -1 if request.POST.get("direction") == "up" else 1
    try:
        manuals.move_manual(
            request.dbsession,
            _manual_id(request),
            steps,
            actor=request.identity.staff_id,
            request=request,
        )
    except manuals.ManualError as refused:
        return _refused(request, refused)
    return _back(request, "moved")


@view_config(
    route_name="staff_manual_withdraw",
    renderer="staff/manuals/list.html",
    permission=StaffPermission.CONTENT_MANAGE,
    request_method="POST",
)
def manual_withdraw(request: Request) -> Response | dict[str, Any]:
    """掲載終了: no longer shown in マニュアル照会 (kept for the audit trail)."""
    try:
        manuals.withdraw_manual(
            request.dbsession,
            _manual_id(request),
            now=clock.now(request.registry),
            actor=request.identity.staff_id,
            request=request,
        )
    except manuals.ManualError as refused:
        return _refused(request, refused)
    return _back(request, "withdrawn")


def includeme(config: Any) -> None:
    """The routes and the menu entry of マニュアル管理 (views found by core.staff's scan)."""
    config.add_route("staff_manuals", "/staff/manuals")
    config.add_route("staff_manual_move", r"/staff/manuals/{manual_id:\d{1,9}}/move")
    config.add_route("staff_manual_withdraw", r"/staff/manuals/{manual_id:\d{1,9}}/withdraw")
    config.add_staff_menu_entry(
        "マニュアル管理", "staff_manuals", StaffPermission.CONTENT_MANAGE, order=700
    )
