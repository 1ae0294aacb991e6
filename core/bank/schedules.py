"""The deduction schedule (【スケジュール】, SPEC 6.1 and 6.5): a building block of the deduction modules.

The bank sets, per deposit group and cycle (月例, 夏季一時金, 年末一時金), each 控除年月 with its 締切日,
the days the request and result data came in and the 支給日(入金予定日); it loads them from a file
(``cjs bank load core schedules FILE``, :class:`core.bank.schedules_file.SchedulesLoader`). The schedule is one per deposit
group, shared by 労金控除 and 賃控元帳: both modules contribute :func:`info_panel` through
``cjs_info_panels`` with the same key, so DC671101 shows it once when either is enabled (and not
非表示 for the user).

A month is 入力中 (input open) until the end of its 締切日 in Japan time, 締切中 from the next day on
(:func:`input_open`). The information screen shows, per cycle, the latest closed month and the
first open one, as the manual's screen does (001 p.20).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import DeductionSchedule, DepositGroup
from core.hookspecs import InfoPanel
from core.i18n import Message, _
from core.timefmt import to_jst

#: The panel's template and the key the deduction modules share (one panel on the screen).
TEMPLATE = "info/schedule.html"
PANEL_KEY = "deduction_schedule"
PANEL_ORDER = 10

INPUT_OPEN = _("入力中")
INPUT_CLOSED = _("締切中")


class Cycle(enum.StrEnum):
    """The deduction cycles: 月例, 夏季一時金, 年末一時金 (in the screen's order)."""

    MONTHLY = "monthly"
    SUMMER = "summer"
    WINTER = "winter"

    @property
    def label(self) -> Message:
        return CYCLE_LABELS[self]


#: The cycles' names: on the screens (in their language) and in the bank's file (Japanese).
CYCLE_LABELS = {
    Cycle.MONTHLY: _("月例"),
    Cycle.SUMMER: _("夏季一時金"),
    Cycle.WINTER: _("年末一時金"),
}


def input_open(schedule: DeductionSchedule, now: dt.datetime) -> bool:
    """Whether the month is 入力中 at ``now``: until the end of its 締切日, Japan time."""
    return to_jst(now).date() <= schedule.deadline


@dataclass(frozen=True)
class ScheduleRow:
    """A row of the schedule table as shown: the month, 入力中 or 締切中, and its dates."""

    schedule: DeductionSchedule
    state: Message


def current_rows(
    dbsession: Session, deposit_group: DepositGroup, now: dt.datetime
) -> list[tuple[Cycle, list[ScheduleRow]]]:
    """For each cycle, the latest 締切中 month and the first 入力中 month of ``deposit_group`` at
    ``now`` (either may be missing)."""
    schedules = dbsession.scalars(
        select(DeductionSchedule)
        .where(DeductionSchedule.deposit_group_id == deposit_group.id)
        .order_by(DeductionSchedule.deduction_month)
    ).all()
    table = []
    for cycle in Cycle:
        months = [s for s in schedules if s.cycle == cycle]
        closed = [s for s in months if not input_open(s, now)]
        open_ = [s for s in months if input_open(s, now)]
        rows = [ScheduleRow(s, INPUT_CLOSED) for s in closed[-1:]]
        rows += [ScheduleRow(s, INPUT_OPEN) for s in open_[:1]]
        table.append((cycle, rows))
    return table


def info_panel(dbsession: Session, deposit_group: DepositGroup, now: dt.datetime) -> InfoPanel:
    """The 【スケジュール】 panel of DC671101 for ``deposit_group`` at ``now``."""
    return InfoPanel(
        template=TEMPLATE,
        context={"cycles": current_rows(dbsession, deposit_group, now)},
        order=PANEL_ORDER,
        key=PANEL_KEY,
    )


@dataclass(frozen=True)
class ScheduleData:
    """One month of a cycle as the bank gives it."""

    deposit_group: DepositGroup
    cycle: Cycle
    deduction_month: dt.date
    deadline: dt.date
    request_received_on: dt.date | None
    result_received_on: dt.date | None
    payment_on: dt.date


def save_schedule(dbsession: Session, data: ScheduleData) -> DeductionSchedule:
    """Add the month of ``data``, or update it (no change when it already says the same)."""
    schedule = dbsession.scalars(
        select(DeductionSchedule).where(
            DeductionSchedule.deposit_group_id == data.deposit_group.id,
            DeductionSchedule.cycle == data.cycle,
            DeductionSchedule.deduction_month == data.deduction_month,
        )
    ).one_or_none()
    if schedule is None:
        schedule = DeductionSchedule(
            deposit_group_id=data.deposit_group.id,
            cycle=str(data.cycle),
            deduction_month=data.deduction_month,
        )
        dbsession.add(schedule)
    values: dict[str, Any] = {
        "deadline": data.deadline,
        "request_received_on": data.request_received_on,
        "result_received_on": data.result_received_on,
        "payment_on": data.payment_on,
    }
    for name, value in values.items():
        if getattr(schedule, name) != value:
            setattr(schedule, name, value)
    return schedule
