"""監査ログ照会 for bank staff (#14 item 6; SPEC section 5: every action audited with who and when):
every audit event across contracts, the bank's own and the system's included.

Filters: period (Japan dates, both ends included), contract number, actor (the exact ID recorded:
a user ID, a staff ID, ``system``, or the pseudonym of an unknown ID), action and result; newest
first, 50 a page; CSV export of the filtered events (cp932 strict by default, UTF-8 with a BOM on
request; a character cp932 cannot hold shows the screen again naming it). Bad filter input shows
the screen again with a Japanese message at the field (ACC-8). The export is itself audited.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import ColumnElement, Select, func, select
from wtforms import Form, StringField
from wtforms.validators import Length, ValidationError

from core import audit, clock, timefmt
from core.audit.labels import (
    ACTOR_KIND_LABELS,
    RESULT_LABELS,
    TO_BEFORE_FROM,
    ChoiceSelect,
    action_label,
    date_check,
    jst_midnight,
    page_numbers,
)
from core.db.models import AuditEvent
from core.hookspecs import StaffPermission
from core.outputs import csvexport
from core.plugins import get_modules
from core.timefmt import JST

PAGE_SIZE = 50
#: The most rows one CSV export holds (bounds a request; narrow the period for more).
CSV_MAX_ROWS = 100_000
ENCODINGS = [("cp932", "Shift_JIS（Excel向け）"), ("utf-8", "UTF-8（BOM付き）")]
CSV_HEADER = (
    "イベントID",
    "日時",
    "契約番号",
    "実行者",
    "実行者の種別",
    "操作",
    "対象",
    "結果",
    "操作コード",
    "接続元IPアドレス",
    "リクエストID",
)

BAD_CONTRACT_NO = "契約番号は半角英数字8桁以内で入力してください。"
BAD_ACTOR = "実行者は64文字以内で入力してください。"
ACTOR_KINDS = {"user": "利用者", **ACTOR_KIND_LABELS, "bank": "ろうきん職員"}

_CONTRACT_NO = re.compile(r"[0-9A-Za-z]{1,8}")


def _contract_no_check(form: Form, field: Any) -> None:
    text = unicodedata.normalize("NFKC", field.data or "").strip()
    if text and _CONTRACT_NO.fullmatch(text) is None:
        raise ValidationError(BAD_CONTRACT_NO)
    field.data = text


class AuditFilterForm(Form):
    """期間, 契約番号, 実行者, 操作, 結果: every field optional."""

    date_from = StringField("期間（開始日）", [date_check])
    date_to = StringField("期間（終了日）", [date_check])
    contract_no = StringField("契約番号", [_contract_no_check])
    actor = StringField("実行者", [Length(max=64, message=BAD_ACTOR)])
    action = ChoiceSelect("操作", default="")
    result = ChoiceSelect("結果", default="")
    encoding = ChoiceSelect("文字コード", default="cp932")

    def validate(self, extra_validators: Mapping[str, Sequence[Any]] | None = None) -> bool:
        """Each field, then the period's order."""
        valid = super().validate(extra_validators)
        start = getattr(self.date_from, "date", None)
        end = getattr(self.date_to, "date", None)
        if start is not None and end is not None and end < start:
            self.date_to.errors = [*self.date_to.errors, TO_BEFORE_FROM]
            valid = False
        return valid


@dataclass(frozen=True)
class AuditFilters:
    """A validated filter: empty strings and None mean 「すべて」."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    contract_no: str = ""
    actor: str = ""
    action: str = ""
    result: str = ""

    def query_params(self) -> dict[str, str]:
        """The filter as the screen's query string (empty ones left out)."""
        params = {
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "contract_no": self.contract_no,
            "actor": self.actor,
            "action": self.action,
            "result": self.result,
        }
        return {name: value for name, value in params.items() if value}


def events_query(filters: AuditFilters) -> Select[AuditEvent]:
    """Every event matching ``filters``, newest first."""
    conditions: list[ColumnElement[bool]] = []
    if filters.date_from is not None:
        conditions.append(AuditEvent.occurred_at >= jst_midnight(filters.date_from))
    if filters.date_to is not None:
        end = jst_midnight(filters.date_to + dt.timedelta(days=1))
        conditions.append(AuditEvent.occurred_at < end)
    if filters.contract_no:
        conditions.append(AuditEvent.contract_no == filters.contract_no)
    if filters.actor:
        conditions.append(AuditEvent.actor == filters.actor)
    if filters.action:
        conditions.append(AuditEvent.action == filters.action)
    if filters.result:
        conditions.append(AuditEvent.result == filters.result)
    return (
        select(AuditEvent)
        .where(*conditions)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    )


def _filter_form(request: Request) -> tuple[AuditFilterForm, AuditFilters | None]:
    """The bound filter form and, when it is valid, its filters."""
    form = AuditFilterForm(request.GET)
    module_labels = get_modules(request.registry).action_labels
    actions = request.dbsession.scalars(select(AuditEvent.action).distinct())
    labelled = sorted((action_label(action, module_labels), action) for action in actions)
    form.action.choices = [("", "すべて"), *((action, label) for label, action in labelled)]
    form.result.choices = [("", "すべて"), *RESULT_LABELS.items()]
    form.encoding.choices = ENCODINGS
    if not form.validate():
        return form, None
    return form, AuditFilters(
        date_from=form.date_from.date,
        date_to=form.date_to.date,
        contract_no=form.contract_no.data or "",
        actor=(form.actor.data or "").strip(),
        action=form.action.data or "",
        result=form.result.data or "",
    )


def _row(event: AuditEvent, module_labels: Mapping[str, str]) -> dict[str, Any]:
    return {
        "id": event.id,
        "when": timefmt.slashed(event.occurred_at),
        "contract_no": event.contract_no or "",
        "actor": event.actor,
        "actor_kind": ACTOR_KINDS.get(event.actor_kind, event.actor_kind),
        "what": action_label(event.action, module_labels),
        "action": event.action,
        "target": event.target or "",
        "result": RESULT_LABELS.get(event.result, event.result),
        "result_code": event.result,
        "client_addr": event.client_addr or "",
        "request_id": event.request_id or "",
    }


def _page_param(request: Request) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


def _screen(
    request: Request, form: AuditFilterForm, filters: AuditFilters | None
) -> dict[str, Any]:
    """The screen's values: the form, and for a valid filter the page of events and its links."""
    values: dict[str, Any] = {"form": form, "rows": [], "total": 0, "page_links": []}
    values.update(page=1, pages=1, first=0, last=0, query={}, prev_url=None, next_url=None)
    if filters is None:
        return values
    query = events_query(filters)
    db = request.dbsession
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(_page_param(request), pages)
    events = db.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    params = filters.query_params()
    module_labels = get_modules(request.registry).action_labels

    def page_url(number: int) -> str:
        return request.route_url("staff_audit", _query={**params, "page": number})

    values.update(
        rows=[_row(event, module_labels) for event in events],
        total=total,
        page=page,
        pages=pages,
        first=(page - 1) * PAGE_SIZE + 1 if total else 0,
        last=(page - 1) * PAGE_SIZE + len(events),
        query=params,
        page_links=[
            (number, page_url(number) if number is not None else None)
            for number in page_numbers(page, pages)
        ],
        prev_url=page_url(page - 1) if page > 1 else None,
        next_url=page_url(page + 1) if page < pages else None,
    )
    return values


@view_config(
    route_name="staff_audit",
    renderer="staff/audit/list.html",
    permission=StaffPermission.AUDIT_READ,
    request_method="GET",
)
def audit_list(request: Request) -> dict[str, Any]:
    """監査ログ照会: the filter, a page of events, page links, the CSV export."""
    form, filters = _filter_form(request)
    return _screen(request, form, filters)


@view_config(
    route_name="staff_audit_csv",
    renderer="staff/audit/list.html",
    permission=StaffPermission.AUDIT_READ,
    request_method="GET",
)
def audit_csv(request: Request) -> Response | dict[str, Any]:
    """The filtered events as CSV (every page), newest first; the export is audited. A bad filter,
    or a character cp932 cannot hold, shows the screen again with the message at its field."""
    form, filters = _filter_form(request)
    if filters is None:
        return _screen(request, form, None)
    encoding = form.encoding.data or csvexport.DEFAULT_ENCODING
    module_labels = get_modules(request.registry).action_labels
    events = request.dbsession.scalars(events_query(filters).limit(CSV_MAX_ROWS)).all()
    rows = [
        (
            r["id"],
            r["when"],
            r["contract_no"],
            r["actor"],
            r["actor_kind"],
            r["what"],
            r["target"],
            r["result"],
            r["action"],
            r["client_addr"],
            r["request_id"],
        )
        for r in (_row(event, module_labels) for event in events)
    ]
    now = clock.now(request.registry).astimezone(JST)
    try:
        response = csvexport.csv_response(
            csvexport.dated_filename("監査ログ", now),
            CSV_HEADER,
            rows,
            encoding=encoding,
            fallback_stem=f"audit_{now:%Y%m%d}",
        )
    except csvexport.UnencodableCharacter as unencodable:
        form.encoding.errors = [unencodable.message]
        request.response.status_int = 422
        return _screen(request, form, filters)
    audit.record(
        request.dbsession,
        "staff.audit.export",
        actor=request.identity.staff_id,
        actor_kind="bank",
        request=request,
        details={"rows": len(rows), "encoding": encoding, **filters.query_params()},
    )
    return response


def includeme(config: Any) -> None:
    """The routes and the menu entry of 監査ログ照会."""
    config.add_route("staff_audit", "/staff/audit")
    config.add_route("staff_audit_csv", "/staff/audit/csv")
    config.add_staff_menu_entry(
        "監査ログ照会", "staff_audit", StaffPermission.AUDIT_READ, order=900
    )
    # The views are found by core.staff's scan of its package.
