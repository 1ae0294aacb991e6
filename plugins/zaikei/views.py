"""財形's customer screens (SPEC 6.4), read-only, on ``core.batches.BatchScreens``: 財形積立明細照会
(a run picker, search by 職員番号 and カナ氏名, sort, pages), 財形積立明細書出力 and
財形積立明細データエクスポート."""

from __future__ import annotations

from core.batches import BatchScreens, Button, employee_searches
from core.i18n import _
from core.inquiry import Sort
from plugins.zaikei.models import ZaikeiDetail
from plugins.zaikei.records import RUNS

SCREENS = BatchScreens(
    batches=RUNS,
    lines=ZaikeiDetail,
    sorts={
        "employee": Sort(_("職員番号"), [ZaikeiDetail.employee_no, ZaikeiDetail.id]),
        "kana": Sort(_("カナ氏名"), [ZaikeiDetail.name_kana, ZaikeiDetail.id]),
        "balance": Sort(_("残高"), [ZaikeiDetail.balance, ZaikeiDetail.id]),
    },
    default_sort="employee",
    searches=employee_searches(ZaikeiDetail),
    titles=(
        _("財形積立明細照会"),
        _("財形積立明細書出力"),
        _("財形積立明細データエクスポート"),
    ),
    pdfs=(
        Button("details-pdf", _("財形積立明細書")),
        Button("changes-pdf", _("財形積立変更明細書（預入依頼書のみ）")),
    ),
    csvs=(
        Button("details-csv", _("財形積立明細")),
        Button("changes-csv", _("財形積立変更明細")),
    ),
)
