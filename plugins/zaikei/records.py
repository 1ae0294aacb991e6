"""What 財形 does, request-free: the screens, the outputs, the information panel and the loaders read
through these functions, each scoped to one contract and deposit group (ACC-7)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func
from sqlalchemy.orm import Session

from core.security.tenancy import ScopeSource, scoped_select
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


def deposit_runs(dbsession: Session, scope: ScopeSource) -> Sequence[ZaikeiRun]:
    """The group's 預入依頼書 runs (those with details), newest first (the run picker)."""
    return dbsession.scalars(
        scoped_select(scope, ZaikeiRun)
        .where(ZaikeiRun.document.in_(DEPOSIT_DOCUMENTS))
        .order_by(ZaikeiRun.basis_date.desc(), ZaikeiRun.document)
    ).all()


def chosen_run(dbsession: Session, scope: ScopeSource, run_id: str | None) -> ZaikeiRun | None:
    """The 預入依頼書 run ``run_id`` of the group (the newest when None or empty), None if unknown."""
    runs = deposit_runs(dbsession, scope)
    if not run_id:
        return runs[0] if runs else None
    return next((run for run in runs if str(run.id) == run_id), None)


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
    return scoped_select(scope, ZaikeiDetail).where(ZaikeiDetail.run_id == run.id)


def changes(scope: ScopeSource, run: ZaikeiRun) -> Select[Any]:
    """The run's change details (unsorted: the caller orders)."""
    return scoped_select(scope, ZaikeiChange).where(ZaikeiChange.run_id == run.id)


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
