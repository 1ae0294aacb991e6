"""What 一斉積立 does, request-free: the screens, the outputs, the information panel and the loaders
all read through these functions, each scoped to one contract and deposit group (ACC-7)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func
from sqlalchemy.orm import Session

from core.batches import Batches
from core.i18n import _
from core.security.tenancy import ScopeSource, scoped_select
from core.timefmt import kanji_day
from plugins.collective_savings.models import SavingsChange, SavingsDetail, SavingsRound

CODE = "collective_savings"

#: The rounds: named by 回号 in the bank's files and on the screens (``?round=014``).
ROUNDS = Batches(
    module=CODE,
    module_name=_("一斉積立"),
    model=SavingsRound,
    key=("round_no",),
    lines_key="round_id",
    not_loaded=_("この回号の一斉積立回が取り込まれていません。"),
    not_found=_("指定された回の一斉積立データがありません。"),
    picker_label=_("一斉積立回"),
    param="round",
    value_attribute="round_no",
    option=lambda r: _(
        "${round_no} ${name}（${date} ${kind}）",
        round_no=r.round_no,
        name=r.name,
        date=kanji_day(r.created_on),
        kind=r.kind_label,
    ),
    describe=lambda r: _(
        "第${round_no}回 ${name}（${kind}）", round_no=r.round_no, name=r.name, kind=r.kind_label
    ),
    newest_first=(SavingsRound.created_on.desc(), SavingsRound.round_no.desc()),
)


def rounds_of(dbsession: Session, scope: ScopeSource) -> Sequence[SavingsRound]:
    """The group's rounds, newest first (the round picker, the information panel)."""
    return ROUNDS.all(dbsession, scope)


def latest_round(dbsession: Session, scope: ScopeSource) -> SavingsRound | None:
    """The round received last (最新受信情報), or None before the first."""
    return ROUNDS.chosen(dbsession, scope, None)


def details(scope: ScopeSource, savings_round: SavingsRound) -> Select[Any]:
    """The round's 内訳明細 (unsorted: the caller orders)."""
    return ROUNDS.lines(scope, SavingsDetail, savings_round)


def changes(scope: ScopeSource, savings_round: SavingsRound) -> Select[Any]:
    """The round's 変更明細 (unsorted: the caller orders)."""
    return ROUNDS.lines(scope, SavingsChange, savings_round)


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
