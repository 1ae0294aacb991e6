"""The bank's data files in the console (BANK-6): every loader the core and the modules declare,
an upload form for each, and the deduction schedules (スケジュール) loaded by the core's.

An upload goes through :func:`core.bank.loaders.load_in`, as ``cjs bank load MODULE KIND FILE``
does: the whole file is parsed first; a refused row refuses the file (nothing is stored, every
refused row is listed with its line, column, value and message); otherwise the rows are stored with
the file's audit event (done by the staff member) in the request's transaction.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPNotFound
from pyramid.request import Request
from sqlalchemy import select

from core import clock
from core.bank.loaders import LoadRefused, all_loaders, load_in
from core.bank.schedules import CYCLE_LABELS, Cycle
from core.bank.schedules_file import SchedulesLoader
from core.db.models import Contract, DeductionSchedule, DepositGroup
from core.hookspecs import Loader, StaffPermission
from core.plugins import CORE_LOADERS, get_modules

#: The refused rows an upload lists at most (the count says how many there were).
ERRORS_SHOWN = 500
CORE_NAME = "共通"
NO_FILE = "ファイルを選択してください。"


def _loaders(request: Request) -> dict[tuple[str, str], Loader]:
    return all_loaders(get_modules(request.registry).loaders)


def _module_name(request: Request, code: str) -> str:
    if code == CORE_LOADERS:
        return CORE_NAME
    module = get_modules(request.registry).modules.get(code)
    return module.name if module is not None else code


def upload_list(request: Request) -> dict[str, Any]:
    """Every kind of bank data file, by module: the core's first, then the modules' in their order."""
    order = {code: i for i, code in enumerate(get_modules(request.registry).modules, start=1)}
    kinds = sorted(
        _loaders(request).items(), key=lambda item: (order.get(item[0][0], 0), item[0][1])
    )
    return {
        "kinds": [
            (code, kind, _module_name(request, code), loader.title)
            for (code, kind), loader in kinds
        ]
    }


def upload(request: Request) -> dict[str, Any]:
    """The upload form of one kind of file; a POST loads the file, all rows or none."""
    code, kind = request.matchdict["module"], request.matchdict["kind"]
    loader = _loaders(request).get((code, kind))
    if loader is None:
        raise HTTPNotFound()
    result: dict[str, Any] = {
        "code": code,
        "kind": kind,
        "module_name": _module_name(request, code),
        "title": loader.title,
        "file_error": None,
        "report": None,
        "errors": [],
        "error_count": 0,
        "file_name": "",
        "shown": ERRORS_SHOWN,
    }
    if request.method != "POST":
        return result
    upload = request.POST.get("file")
    if isinstance(upload, str) or upload is None or not getattr(upload, "filename", ""):
        result["file_error"] = NO_FILE
        return result
    name = PurePath(upload.filename.replace("\\", "/")).name
    result["file_name"] = name
    with upload.file as stream:
        data = stream.read()
    try:
        result["report"] = load_in(
            request.dbsession,
            loader,
            data,
            name,
            now=clock.now(request.registry),
            module=code,
            actor=request.identity.staff_id,
        )
    except LoadRefused as refused:
        request.tm.doom()
        result["errors"] = refused.errors[:ERRORS_SHOWN]
        result["error_count"] = len(refused.errors)
    return result


def schedule_list(request: Request) -> dict[str, Any]:
    """The deduction schedules of one contract (``contract_no``), or of every contract."""
    contract_no = request.GET.get("contract_no", "").strip()
    statement = (
        select(DeductionSchedule, DepositGroup, Contract)
        .join(DepositGroup, DeductionSchedule.deposit_group_id == DepositGroup.id)
        .join(Contract, DepositGroup.contract_id == Contract.id)
        .order_by(
            Contract.contract_no,
            DepositGroup.group_no,
            DeductionSchedule.cycle,
            DeductionSchedule.deduction_month,
        )
    )
    if contract_no:
        statement = statement.where(Contract.contract_no == contract_no)
    return {
        "contract_no": contract_no,
        "rows": request.dbsession.execute(statement).all(),
        "cycles": {cycle.value: CYCLE_LABELS[cycle] for cycle in Cycle},
        "upload_kind": SchedulesLoader.kind,
    }


def includeme(config: Configurator) -> None:
    """The data upload screens and the schedules."""
    manage = StaffPermission.CONTENT_MANAGE
    config.add_route("staff_uploads", "/staff/content/uploads")
    config.add_route("staff_upload", "/staff/content/uploads/{module}/{kind}")
    config.add_route("staff_schedules", "/staff/content/schedules")
    config.add_view(
        upload_list,
        route_name="staff_uploads",
        renderer="staff/content/uploads.html",
        permission=manage,
        request_method="GET",
    )
    config.add_view(
        upload,
        route_name="staff_upload",
        renderer="staff/content/upload.html",
        permission=manage,
        request_method="GET",
    )
    config.add_view(
        upload,
        route_name="staff_upload",
        renderer="staff/content/upload.html",
        permission=manage,
        request_method="POST",
        accepts_upload=True,
    )
    config.add_view(
        schedule_list,
        route_name="staff_schedules",
        renderer="staff/content/schedules.html",
        permission=manage,
        request_method="GET",
    )
