"""操作ログ照会 (SPEC section 2, システム管理機能, master only; ACC-6): the contract's audit events.

Who (ユーザーID), what (操作, a Japanese label for each audit action), when (日時, Japan time),
on what (対象) and the result (成功 / 失敗 / 拒否), newest first, 50 a page; filtered by user,
action and period (dates in Japan time, both ends included); exported as CSV (cp932 by default,
``encoding=utf-8`` for UTF-8 with a BOM). The screen and the CSV (its header, names and file
name) are in the screen's language (SPEC 8).

Tenancy: only events recorded with the master's own contract number are ever read — never another
contract's, never the events that name no contract (e.g. an unknown user ID typed at DC586101).
A filter that does not parse shows the screen again with the message next to its field (ACC-8).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyramid.httpexceptions import HTTPBadRequest, HTTPFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import ColumnElement, Select, func, or_, select

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
from core.db.models import AuditEvent, User
from core.i18n import Message, _, localize
from core.outputs import csvexport
from core.plugins import get_modules
from core.security.policy import Permission
from core.timefmt import JST
from core.web.forms import Form, StringField

PAGE_SIZE = 50
#: The most rows one CSV export holds (a contract's log is far smaller; this bounds a request).
CSV_MAX_ROWS = 100_000


#: The user filter's values for events not done by a user of the contract (user IDs are
#: alphanumeric, ACC-1, so these never clash with one).
BANK_ACTOR = "_bank"
SYSTEM_ACTOR = "_system"


def actor_label(event: AuditEvent) -> str:
    """Who, as the screen shows it: a user ID, or ろうきん / システム / （ログイン前） (messages)."""
    if event.actor_kind == "user":
        return event.actor
    return ACTOR_KIND_LABELS.get(event.actor_kind, event.actor)


# --- Filter ---------------------------------------------------------------------------------------


class OplogFilterForm(Form):
    """ユーザーID, 操作, 期間 (開始日・終了日): every field optional."""

    user = ChoiceSelect(_("ユーザーID"), default="")
    action = ChoiceSelect(_("操作"), default="")
    date_from = StringField(_("期間（開始日）"), [date_check])
    date_to = StringField(_("期間（終了日）"), [date_check])

    def validate(self, extra_validators: Mapping[str, Sequence[Any]] | None = None) -> bool:
        valid = super().validate(extra_validators)
        start = getattr(self.date_from, "date", None)
        end = getattr(self.date_to, "date", None)
        if start is not None and end is not None and end < start:
            self.date_to.errors = [*self.date_to.errors, TO_BEFORE_FROM]
            valid = False
        return valid


@dataclass(frozen=True)
class Filters:
    """A validated filter: empty strings and None mean 「すべて」."""

    user: str = ""
    action: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def query_params(self) -> dict[str, str]:
        """The filter as the screen's query string (empty ones left out)."""
        params = {
            "user": self.user,
            "action": self.action,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
        }
        return {name: value for name, value in params.items() if value}


def events_query(contract_no: str, filters: Filters) -> Select[AuditEvent]:
    """The contract's events matching ``filters``, newest first (the tenancy rule is here)."""
    conditions: list[ColumnElement[bool]] = [AuditEvent.contract_no == contract_no]
    if filters.user == BANK_ACTOR:
        conditions.append(AuditEvent.actor_kind == "bank")
    elif filters.user == SYSTEM_ACTOR:
        conditions.append(AuditEvent.actor_kind == "system")
    elif filters.user:
        conditions.append(or_(AuditEvent.actor == filters.user, AuditEvent.target == filters.user))
    if filters.action:
        conditions.append(AuditEvent.action == filters.action)
    if filters.date_from is not None:
        conditions.append(AuditEvent.occurred_at >= jst_midnight(filters.date_from))
    if filters.date_to is not None:
        end = jst_midnight(filters.date_to + dt.timedelta(days=1))
        conditions.append(AuditEvent.occurred_at < end)
    return (
        select(AuditEvent)
        .where(*conditions)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    )


ALL = _("すべて")


def _user_choices(request: Request, contract_no: str) -> list[tuple[str, str]]:
    """The user filter's options, named in the screen's language (the select is drawn by WTForms)."""
    db = request.dbsession
    contract_id = request.identity.user.contract_id
    choices: list[tuple[str, str]] = [("", localize(request, ALL))]
    known = set()
    for user in db.scalars(select(User).where(User.contract_id == contract_id).order_by(User.id)):
        if user.deleted_at is not None:
            label = _("${user_id}（${name}・削除済み）", user_id=user.user_id, name=user.name)
        else:
            label = _("${user_id}（${name}）", user_id=user.user_id, name=user.name)
        choices.append((user.user_id, localize(request, label)))
        known.add(user.user_id)
    # IDs in the log that no current user has (e.g. changed by the bank, BANK-8).
    others = db.scalars(
        select(AuditEvent.actor)
        .where(AuditEvent.contract_no == contract_no, AuditEvent.actor_kind == "user")
        .distinct()
    )
    choices += [(actor, actor) for actor in sorted(set(others) - known)]
    choices += [
        (BANK_ACTOR, localize(request, ACTOR_KIND_LABELS["bank"])),
        (SYSTEM_ACTOR, localize(request, ACTOR_KIND_LABELS["system"])),
    ]
    return choices


def _action_choices(request: Request, contract_no: str) -> list[tuple[str, str]]:
    actions = request.dbsession.scalars(
        select(AuditEvent.action).where(AuditEvent.contract_no == contract_no).distinct()
    )
    module_labels = get_modules(request.registry).action_labels
    labelled = sorted(
        (localize(request, action_label(action, module_labels)), action) for action in actions
    )
    return [("", localize(request, ALL)), *((action, label) for label, action in labelled)]


def _filter_form(request: Request) -> tuple[OplogFilterForm, Filters | None]:
    """The bound filter form and, when it is valid, its filters."""
    contract_no = request.identity.user.contract.contract_no
    form = OplogFilterForm(request.GET)
    form.user.choices = _user_choices(request, contract_no)
    form.action.choices = _action_choices(request, contract_no)
    if not form.validate():
        return form, None
    return form, Filters(
        user=form.user.data or "",
        action=form.action.data or "",
        date_from=form.date_from.date,
        date_to=form.date_to.date,
    )


def _row(event: AuditEvent, module_labels: Mapping[str, str]) -> dict[str, Any]:
    return {
        "when": timefmt.slashed(event.occurred_at),
        "who": actor_label(event),
        "what": action_label(event.action, module_labels),
        "target": event.target or "",
        "result": RESULT_LABELS.get(event.result, event.result),
        "result_code": event.result,
        "action": event.action,
        "client_addr": event.client_addr or "",
    }


def _page_param(request: Request) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


# --- Views ----------------------------------------------------------------------------------------


@view_config(
    route_name="oplog",
    renderer="audit/oplog.html",
    permission=Permission.ADMINISTER,
    request_method="GET",
)
def oplog(request: Request) -> dict[str, Any]:
    """操作ログ照会: the filter, the page of events, page links and the CSV export."""
    form, filters = _filter_form(request)
    values: dict[str, Any] = {
        "form": form,
        "rows": [],
        "total": 0,
        "page": 1,
        "pages": 1,
        "page_links": [],
        "first": 0,
        "last": 0,
        "query": {},
        "prev_url": None,
        "next_url": None,
        "encodings": [("cp932", _("Shift_JIS（Excel向け）")), ("utf-8", _("UTF-8（BOM付き）"))],
    }
    if filters is None:
        return values
    db = request.dbsession
    contract_no = request.identity.user.contract.contract_no
    query = events_query(contract_no, filters)
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(_page_param(request), pages)
    events = db.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    params = filters.query_params()
    values.update(
        rows=[_row(event, get_modules(request.registry).action_labels) for event in events],
        total=total,
        page=page,
        pages=pages,
        first=(page - 1) * PAGE_SIZE + 1 if total else 0,
        last=(page - 1) * PAGE_SIZE + len(events),
        query=params,
        page_links=[
            (number, request.route_url("oplog", _query={**params, "page": number}))
            if number is not None
            else (None, None)
            for number in page_numbers(page, pages)
        ],
        prev_url=request.route_url("oplog", _query={**params, "page": page - 1})
        if page > 1
        else None,
        next_url=request.route_url("oplog", _query={**params, "page": page + 1})
        if page < pages
        else None,
    )
    return values


CSV_HEADER = (
    _("日時"),
    _("ユーザーID"),
    _("操作"),
    _("対象"),
    _("結果"),
    _("操作コード"),
    _("接続元IPアドレス"),
)
#: The name of the CSV file, before its date.
CSV_NAME = _("操作ログ")


@view_config(route_name="oplog_csv", permission=Permission.ADMINISTER, request_method="GET")
def oplog_csv(request: Request) -> Response:
    """The filtered events as CSV (all pages), newest first; the export itself is audited."""
    try:
        encoding = csvexport.normalise_encoding(request.GET.get("encoding"))
    except csvexport.UnknownEncodingError:
        raise HTTPBadRequest("encoding: cp932 or utf-8") from None
    _form, filters = _filter_form(request)
    if filters is None:  # a hand-made URL: the screen shows the messages
        params = {k: v for k, v in request.GET.items() if k != "encoding"}
        return HTTPFound(request.route_url("oplog", _query=params))
    user = request.identity.user
    contract_no = user.contract.contract_no
    events = request.dbsession.scalars(events_query(contract_no, filters).limit(CSV_MAX_ROWS)).all()
    rows = [
        tuple(
            localize(request, r[key]) if isinstance(r[key], Message) else r[key]
            for key in ("when", "who", "what", "target", "result", "action", "client_addr")
        )
        for r in (_row(event, get_modules(request.registry).action_labels) for event in events)
    ]
    now = clock.now(request.registry).astimezone(JST)
    audit.record(
        request.dbsession,
        "oplog.export",
        actor=user.user_id,
        contract_no=contract_no,
        request=request,
        details={"rows": len(rows), "encoding": encoding, **filters.query_params()},
    )
    return csvexport.csv_response(
        csvexport.dated_filename(localize(request, CSV_NAME), now),
        [localize(request, name) for name in CSV_HEADER],
        rows,
        encoding=encoding,
        fallback_stem=f"oplog_{now:%Y%m%d}",
    )


def includeme(config: Any) -> None:
    """Routes of 操作ログ照会."""
    config.add_route("oplog", "/oplog")
    config.add_route("oplog_csv", "/oplog/csv")
    config.scan("core.web.oplog")
