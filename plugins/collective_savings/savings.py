"""What 一斉積立 does, request-free: the screens, the outputs, the information panel and the loaders
all read through these functions, each scoped to one contract and deposit group (ACC-7)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func
from sqlalchemy.orm import Session

from core.security.tenancy import ScopeSource, scoped_select
from plugins.collective_savings.models import SavingsChange, SavingsDetail, SavingsRound

CODE = "collective_savings"


def rounds_of(dbsession: Session, scope: ScopeSource) -> Sequence[SavingsRound]:
    """The group's rounds, newest first (the round picker, the information panel)."""
    return dbsession.scalars(
        scoped_select(scope, SavingsRound).order_by(
            SavingsRound.created_on.desc(), SavingsRound.round_no.desc()
        )
    ).all()


def latest_round(dbsession: Session, scope: ScopeSource) -> SavingsRound | None:
    """The round received last (最新受信情報), or None before the first."""
    rounds = rounds_of(dbsession, scope)
    return rounds[0] if rounds else None


def chosen_round(
    dbsession: Session, scope: ScopeSource, round_no: str | None
) -> SavingsRound | None:
    """The round ``round_no`` of the group (the newest when None or empty), None when unknown."""
    if not round_no:
        return latest_round(dbsession, scope)
    return dbsession.scalars(
        scoped_select(scope, SavingsRound).where(SavingsRound.round_no == round_no)
    ).one_or_none()


def details(scope: ScopeSource, savings_round: SavingsRound) -> Select[Any]:
    """The round's 内訳明細 (unsorted: the caller orders)."""
    return scoped_select(scope, SavingsDetail).where(SavingsDetail.round_id == savings_round.id)


def changes(scope: ScopeSource, savings_round: SavingsRound) -> Select[Any]:
    """The round's 変更明細 (unsorted: the caller orders)."""
    return scoped_select(scope, SavingsChange).where(SavingsChange.round_id == savings_round.id)


def detail_totals(
    dbsession: Session, scope: ScopeSource, savings_round: SavingsRound
) -> tuple[int, int]:
    """(number of details, total amount) of the round."""
    count, total = dbsession.execute(
        scoped_select(
            scope, SavingsDetail, func.count(SavingsDetail.id), func.sum(SavingsDetail.amount)
        ).where(SavingsDetail.round_id == savings_round.id)
    ).one()
    return int(count), int(total or 0)


def change_totals(
    dbsession: Session, scope: ScopeSource, savings_round: SavingsRound
) -> tuple[int, int, int]:
    """(number of changes, total before, total after) of the round."""
    count, before, after = dbsession.execute(
        scoped_select(
            scope,
            SavingsChange,
            func.count(SavingsChange.id),
            func.sum(SavingsChange.amount_before),
            func.sum(SavingsChange.amount_after),
        ).where(SavingsChange.round_id == savings_round.id)
    ).one()
    return int(count), int(before or 0), int(after or 0)
