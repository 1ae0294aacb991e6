"""ご契約番号照会 (BANK-2): find a contract by its number, its organisation's name or a telephone
number, and print its ご利用開始（変更）のお知らせ as a PDF for mailing (seed 001 p.44).

Not a four-eyes request: a lookup changes nothing, and the notice carries no credential (the
contract number opens nothing without the initial password, which the notice does not hold); it
goes by post to the contract's registered address. So printing is a direct action of the operator
(取扱者), audited as ``contract.notice.print``.

The contract's data hold no telephone number: a number is looked up among the 電話番号 of the
paper requests filed for each contract (what the customer wrote on earlier forms).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyramid.httpexceptions import HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import func, or_, select
from wtforms import Form, StringField
from wtforms.validators import ValidationError

from core import audit, rules
from core.clock import now
from core.db.models import Contract, ContractKind, StaffRequest
from core.hookspecs import StaffPermission
from core.outputs.pdf import PdfDocument, mm, pdf_response
from core.plugins import ModuleRegistry, get_modules
from core.settings import SERVICE_NAME
from core.staff.requests.base import live_master
from core.timefmt import kanji_date

NOTHING_ENTERED = "ご契約番号・団体名・電話番号のいずれかを入力してください。"
PHONE_DIGITS = "電話番号は半角数字（ハイフン可）で入力してください。"
NOTICE_TITLE = "ご利用開始（変更）のお知らせ"
#: The most contracts a search lists.
MAX_RESULTS = 50


def _if_entered(check: Any) -> Any:
    def validate(form: Form, field: Any) -> None:
        if field.data:
            message = check(field.data)
            if message:
                raise ValidationError(message)

    return validate


def _digits(value: str) -> str:
    return value.replace("-", "")


def _phone_digits(form: Form, field: Any) -> None:
    if field.data and not _digits(field.data).isdigit():
        raise ValidationError(PHONE_DIGITS)


class LookupForm(Form):
    """Any of: ご契約番号 (exact), 団体名 (part of it), 電話番号 (as on a filed request)."""

    contract_no = StringField("ご契約番号", [_if_entered(rules.check_contract_no)])
    organisation_name = StringField("団体名（一部でも可）")
    phone = StringField("電話番号", [_phone_digits])

    def entered(self) -> bool:
        return any((self[name].data or "").strip() for name in self._fields)


def find_contracts(
    dbsession: Any, *, contract_no: str = "", organisation_name: str = "", phone: str = ""
) -> list[Contract]:
    """Contracts matching every criterion given, by contract number (at most :data:`MAX_RESULTS`)."""
    query = select(Contract).order_by(Contract.contract_no).limit(MAX_RESULTS)
    if contract_no:
        query = query.where(Contract.contract_no == contract_no)
    if organisation_name:
        pattern = (
            "%"
            + organisation_name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            + "%"
        )
        query = query.where(Contract.organisation_name.like(pattern, escape="\\"))
    if phone:
        filed = select(StaffRequest.contract_id).where(
            func.replace(StaffRequest.phone, "-", "") == _digits(phone)
        )
        query = query.where(or_(Contract.id.in_(filed)))
    return list(dbsession.scalars(query))


@view_config(
    route_name="staff_contract_lookup",
    renderer="staff/requests/lookup.html",
    permission=StaffPermission.REQUEST_FILE,
    request_method="GET",
)
def lookup(request: Request) -> dict[str, Any]:
    """The search and its results, each with the live master and a button to print the notice."""
    form = LookupForm(request.GET if request.GET else None)
    results: list[Contract] | None = None
    message = None
    if request.GET:
        if not form.entered():
            message = NOTHING_ENTERED
        elif form.validate():
            results = find_contracts(
                request.dbsession,
                contract_no=(form.contract_no.data or "").strip(),
                organisation_name=(form.organisation_name.data or "").strip(),
                phone=(form.phone.data or "").strip(),
            )
    return {
        "form": form,
        "message": message,
        "results": [
            (contract, ContractKind(contract.kind).label, live_master(request.dbsession, contract))
            for contract in results or []
        ],
        "searched": results is not None,
    }


def notice_pdf(
    contract: Contract, modules: ModuleRegistry, service_url: str, printed_at: dt.datetime
) -> bytes:
    """ご利用開始（変更）のお知らせ of ``contract``: contract number, kind, the service's URL, each
    deposit group with the modules enabled for it (seed 001: what the master registers with)."""
    doc = PdfDocument(
        f"{SERVICE_NAME} {NOTICE_TITLE}",
        subject=NOTICE_TITLE,
        author="中央労働金庫",
        created_at=printed_at,
        page_numbers=False,
    )
    doc.text(kanji_date(printed_at), "right")
    doc.text(f"{contract.organisation_name}　御中")
    doc.spacer()
    doc.title_block(SERVICE_NAME, NOTICE_TITLE)
    doc.text(
        "平素は格別のお引き立てを賜り、厚く御礼申し上げます。"
        f"{SERVICE_NAME}のご利用内容を下記のとおりお知らせいたします。"
        "本書は大切に保管してください。"
    )
    doc.spacer()
    doc.table(
        None,
        [
            ["ご契約番号", contract.contract_no],
            ["ご契約の種類", ContractKind(contract.kind).label],
            ["団体名", contract.organisation_name],
            ["サービスのURL", service_url],
        ],
        col_widths=[40 * mm, doc.width - 40 * mm],
    )
    doc.heading("ご利用いただけるサービス", level=2)
    doc.table(
        ["入金グループ番号", "入金グループ名", "サービス"],
        [
            [group.group_no, group.name_kanji, modules.summary(group)]
            for group in contract.deposit_groups
        ],
        col_widths=[35 * mm, 50 * mm, doc.width - 85 * mm],
    )
    doc.spacer()
    doc.bullets(
        [
            "マスターユーザーの初期登録には、上記のご契約番号と、「初期パスワード届出書」に"
            "ご記入いただいた初期パスワードが必要です。",
            "上記のURLは、ブラウザのアドレスバーに直接入力してください。",
        ]
    )
    doc.spacer()
    doc.text("中央労働金庫", "right")
    return doc.build()


@view_config(
    route_name="staff_contract_notice",
    permission=StaffPermission.REQUEST_FILE,
    request_method="POST",
)
def print_notice(request: Request) -> Response:
    """The notice of the contract in the URL as a PDF download; audited as ``contract.notice.print``."""
    contract = request.dbsession.scalars(
        select(Contract).where(Contract.contract_no == request.matchdict["contract_no"])
    ).one_or_none()
    if contract is None:
        raise HTTPNotFound()
    printed_at = now(request.registry)
    data = notice_pdf(
        contract,
        get_modules(request.registry),
        str(request.registry.settings["cjs.service_url"]),
        printed_at,
    )
    audit.record(
        request.dbsession,
        "contract.notice.print",
        actor=request.identity.staff_id,
        actor_kind="bank",
        target=contract.contract_no,
        contract_no=contract.contract_no,
        request=request,
    )
    return pdf_response(data, f"ご利用開始のお知らせ_{contract.contract_no}.pdf")
