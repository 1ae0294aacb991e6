"""What 財形 does, request-free: the screens, the outputs, the information panel and the loaders read
through these functions, each scoped to one contract and deposit group (ACC-7)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func
from sqlalchemy.orm import Session

from core.batches import Batches
from core.i18n import _
from core.security.tenancy import ScopeSource, scoped_select
from core.timefmt import kanji_day
from plugins.zaikei.models import (
    DEPOSIT_DOCUMENTS,
    DOCUMENTS,
    ZaikeiChange,
    ZaikeiDetail,
    ZaikeiRun,
)

CODE = "zaikei"
#: Runs kept per document, as the bank's service keeps its last three.
KEEP_RUNS = 3


#: The runs: named by 作成区分 and 作成基準日 in the bank's files, by id on the screens (``?run=``);
#: the picker offers the 預入依頼書 runs, the ones with lines.
RUNS = Batches(
    module=CODE,
    module_name=_("財形"),
    model=ZaikeiRun,
    key=("document", "basis_date"),
    lines_key="run_id",
    not_loaded=_("この作成基準日の財形データが取り込まれていません。"),
    not_found=_("指定された作成基準日の財形データがありません。"),
    picker_label=_("作成基準日"),
    param="run",
    value_attribute="id",
    option=lambda run: _(
        "${date} ${document}", date=kanji_day(run.basis_date), document=run.document_name
    ),
    describe=lambda run: _(
        "${date} 作成の${document}", date=kanji_day(run.basis_date), document=run.document_name
    ),
    newest_first=(ZaikeiRun.basis_date.desc(), ZaikeiRun.document),
    offered=(ZaikeiRun.document.in_(DEPOSIT_DOCUMENTS),),
)


def basis_dates(dbsession: Session, scope: ScopeSource) -> dict[str, Any]:
    """The latest 作成基準日 of each document the group has (the 財形 information screen)."""
    rows = dbsession.execute(
        scoped_select(
            scope, ZaikeiRun, ZaikeiRun.document, func.max(ZaikeiRun.basis_date)
        ).group_by(ZaikeiRun.document)
    ).all()
    found: dict[str, Any] = {document: date for document, date in rows}
    return {code: found.get(code) for code in DOCUMENTS}


def details(scope: ScopeSource, run: ZaikeiRun) -> Select[Any]:
    """The run's savings details (unsorted: the caller orders)."""
    return RUNS.lines(scope, ZaikeiDetail, run)


def changes(scope: ScopeSource, run: ZaikeiRun) -> Select[Any]:
    """The run's change details (unsorted: the caller orders)."""
    return RUNS.lines(scope, ZaikeiChange, run)


def detail_totals(dbsession: Session, scope: ScopeSource, run: ZaikeiRun) -> tuple[int, ...]:
    """(details, 月例, 夏季一時金, 年末一時金, 残高 totals) of the run."""
    row = dbsession.execute(
        scoped_select(
            scope,
            ZaikeiDetail,
            func.count(ZaikeiDetail.id),
            func.sum(ZaikeiDetail.amount_monthly),
            func.sum(ZaikeiDetail.amount_summer),
            func.sum(ZaikeiDetail.amount_winter),
            func.sum(ZaikeiDetail.balance),
        ).where(ZaikeiDetail.run_id == run.id)
    ).one()
    return tuple(int(value or 0) for value in row)


def change_totals(dbsession: Session, scope: ScopeSource, run: ZaikeiRun) -> tuple[int, int, int]:
    """(changes, total before, total after) of the run."""
    count, before, after = dbsession.execute(
        scoped_select(
            scope,
            ZaikeiChange,
            func.count(ZaikeiChange.id),
            func.sum(ZaikeiChange.amount_before),
            func.sum(ZaikeiChange.amount_after),
        ).where(ZaikeiChange.run_id == run.id)
    ).one()
    return int(count), int(before or 0), int(after or 0)
