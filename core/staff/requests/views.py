"""The request screens: 依頼書の受付 (kind and contract, then the form), the list, the detail with 検印,
却下 and 取下げ. Bad input gives the screen again with the message at the field, input kept but
passwords, nothing stored; every POST carries CSRF (the staff app requires it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import select

from core import audit
from core.accounts.users import UserAdministration
from core.clock import get_clock, now
from core.db.models import Contract, StaffRequest
from core.hookspecs import StaffPermission
from core.mail.interfaces import IOutbox
from core.plugins import get_modules
from core.staff.requests import base
from core.staff.requests.forms import (
    ApproveForm,
    PaperForm,
    RejectForm,
    StartForm,
    paper_form_class,
)
from core.timefmt import JST
from core.web.forms import formdata

UNKNOWN_CONTRACT = "このご契約番号のご契約はありません。"


def _staff_id(request: Request) -> str:
    staff_id: str = request.identity.staff_id
    return staff_id


def _contract(request: Request, contract_no: str) -> Contract | None:
    return request.dbsession.scalars(
        select(Contract).where(Contract.contract_no == contract_no)
    ).one_or_none()


def _today(request: Request) -> Any:
    return now(request.registry).astimezone(JST).date()


@view_config(
    route_name="staff_requests",
    renderer="staff/requests/list.html",
    permission=StaffPermission.USE,
    request_method="GET",
)
def request_list(request: Request) -> dict[str, Any]:
    """The requests waiting for 検印, and the latest decided ones."""
    return {
        "pending": base.pending_requests(request.dbsession),
        "decided": base.recent_decisions(request.dbsession),
        "kinds": base.KINDS,
        "states": base.STATE_LABELS,
    }


@view_config(
    route_name="staff_request_new",
    renderer="staff/requests/start.html",
    permission=StaffPermission.REQUEST_FILE,
    request_method="GET",
)
def start(request: Request) -> Any:
    """依頼書の受付, first step: the kind (手続依頼区分) and the contract (ご契約番号)."""
    form = StartForm(request.GET if request.GET else None)
    if request.GET:
        valid = form.validate()
        if not form.contract_no.errors and _contract(request, form.contract_no.data) is None:
            form.contract_no.errors = [*form.contract_no.errors, UNKNOWN_CONTRACT]
        elif valid:
            return HTTPFound(
                request.route_url(
                    "staff_request_file", kind=form.kind.data, contract_no=form.contract_no.data
                )
            )
    return {"form": form}


def _kind_and_contract(request: Request) -> tuple[base.RequestKind, Contract]:
    kind = base.KINDS.get(request.matchdict["kind"])
    contract = _contract(request, request.matchdict["contract_no"])
    if kind is None or contract is None:
        raise HTTPNotFound()
    return kind, contract


@view_config(
    route_name="staff_request_file",
    renderer="staff/requests/file.html",
    permission=StaffPermission.REQUEST_FILE,
)
def file(request: Request) -> Any:
    """依頼書の受付, second step: the paper form's fields and the kind's own; 受付 files it."""
    kind, contract = _kind_and_contract(request)
    db = request.dbsession
    message = None
    form_class = paper_form_class(kind.fields(db, contract))
    form: PaperForm = form_class(
        formdata(request),
        today=_today(request),
        data={
            "requested_on": _today(request).isoformat(),
            "organisation_name": contract.organisation_name,
        },
    )
    if request.method == "POST" and form.validate():
        try:
            filing = kind.validate(db, contract, form, now(request.registry))
        except base.RequestRefused as refused:
            message = _at_its_field(form, refused)
        else:
            row = base.file_request(
                db,
                kind=kind,
                contract=contract,
                paper=form.paper_values(contract.contract_no),
                filing=filing,
                staff_id=_staff_id(request),
                now=now(request.registry),
                origin=audit.Origin.of(request),
            )
            return HTTPFound(request.route_url("staff_request", id=row.id))
    extra = [form[name] for name in kind.fields(db, contract)]
    return {
        "form": form,
        "kind": kind,
        "contract": contract,
        "extra_fields": extra,
        "message": message,
    }


def _row(request: Request) -> StaffRequest:
    row = request.dbsession.get(StaffRequest, int(request.matchdict["id"]))
    if row is None:
        raise HTTPNotFound()
    return row


def _detail(
    request: Request,
    row: StaffRequest,
    *,
    approve_form: ApproveForm | None = None,
    reject_form: RejectForm | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    kind = base.kind_of(row)
    return {
        "row": row,
        "kind": kind,
        "kind_details": kind.describe(row),
        "paper": [(label, getattr(row, name)) for name, label in base.PAPER_FIELDS.items()],
        "state": base.STATE_LABELS[base.StaffRequestState(row.state)],
        "pending": row.state == base.StaffRequestState.PENDING,
        "is_filer": row.filed_by == _staff_id(request),
        "may_approve": bool(request.has_permission(StaffPermission.REQUEST_APPROVE)),
        "approve_form": approve_form or ApproveForm(),
        "reject_form": reject_form or RejectForm(),
        "message": message,
    }


@view_config(
    route_name="staff_request",
    renderer="staff/requests/detail.html",
    permission=StaffPermission.USE,
    request_method="GET",
)
def detail(request: Request) -> dict[str, Any]:
    """A request as filed, its state, and the 検印 / 却下 / 取下げ forms while it is pending."""
    return _detail(request, _row(request))


def _approver(request: Request) -> base.Approver:
    outbox = request.find_service(IOutbox)
    origin = audit.Origin.of(request)
    return base.Approver(
        staff_id=_staff_id(request),
        now=now(request.registry),
        outbox=outbox,
        users=UserAdministration(
            request.dbsession,
            clock=get_clock(request.registry),
            outbox=outbox,
            modules=get_modules(request.registry),
            origin=origin,
        ),
        origin=origin,
    )


def _at_its_field(form: Any, refused: base.RequestRefused) -> str | None:
    """Put ``refused``'s message at its field of ``form``; the message when it has no field there
    (the screen shows it at the top)."""
    if form is not None and refused.field and refused.field in form:
        form[refused.field].errors = [*form[refused.field].errors, refused.message]
        return None
    return refused.message


def _decided(
    request: Request,
    row: StaffRequest,
    form: ApproveForm | RejectForm | None,
    decide: Callable[[], object],
) -> Any:
    """Run ``decide`` (approve, reject or withdraw ``row``): the detail screen again when it is
    refused, the refusal at its field of ``form`` or at the top; else a redirect to the detail."""
    try:
        decide()
    except base.RequestRefused as refused:
        message = _at_its_field(form, refused)
        fresh = request.dbsession.get(StaffRequest, row.id)
        if isinstance(form, ApproveForm):
            return _detail(request, fresh, approve_form=form, message=message)
        return _detail(request, fresh, reject_form=form, message=message)
    return HTTPFound(request.route_url("staff_request", id=row.id))


@view_config(
    route_name="staff_request_approve",
    renderer="staff/requests/detail.html",
    permission=StaffPermission.REQUEST_APPROVE,
    request_method="POST",
)
def approve(request: Request) -> Any:
    """検印: another staff member than the filer, with the seal checked, applies the request."""
    row = _row(request)
    form = ApproveForm(request.POST)
    return _decided(
        request,
        row,
        form,
        lambda: base.approve(
            request.dbsession, row.id, _approver(request), seal_checked=bool(form.seal_checked.data)
        ),
    )


@view_config(
    route_name="staff_request_reject",
    renderer="staff/requests/detail.html",
    permission=StaffPermission.REQUEST_APPROVE,
    request_method="POST",
)
def reject(request: Request) -> Any:
    """却下 with its reason: nothing is applied."""
    row = _row(request)
    form = RejectForm(request.POST)
    return _decided(
        request,
        row,
        form,
        lambda: base.reject(
            request.dbsession,
            row.id,
            staff_id=_staff_id(request),
            note=form.note.data or "",
            now=now(request.registry),
            origin=audit.Origin.of(request),
        ),
    )


@view_config(
    route_name="staff_request_withdraw",
    renderer="staff/requests/detail.html",
    permission=StaffPermission.REQUEST_FILE,
    request_method="POST",
)
def withdraw(request: Request) -> Any:
    """取下げ by the filer: nothing is applied."""
    row = _row(request)
    return _decided(
        request,
        row,
        None,
        lambda: base.withdraw(
            request.dbsession,
            row.id,
            staff_id=_staff_id(request),
            now=now(request.registry),
            origin=audit.Origin.of(request),
        ),
    )
