"""一斉積立's customer screens (SPEC 6.3), read-only, on ``core.batches.BatchScreens``:
一斉積立内訳明細照会 (a round picker, search by 職員番号 and カナ氏名, sort, pages),
一斉積立内訳明細表出力 and 一斉積立内訳明細データエクスポート."""

from __future__ import annotations

from core.batches import BatchScreens, Button, employee_searches
from core.i18n import _
from core.inquiry import Sort
from plugins.collective_savings.models import SavingsDetail
from plugins.collective_savings.savings import ROUNDS

SCREENS = BatchScreens(
    batches=ROUNDS,
    lines=SavingsDetail,
    sorts={
        "employee": Sort(_("職員番号"), [SavingsDetail.employee_no, SavingsDetail.id]),
        "kana": Sort(_("カナ氏名"), [SavingsDetail.name_kana, SavingsDetail.id]),
        "amount": Sort(_("積立金額"), [SavingsDetail.amount, SavingsDetail.id]),
    },
    default_sort="employee",
    searches=employee_searches(SavingsDetail),
    titles=(
        _("一斉積立内訳明細照会"),
        _("一斉積立内訳明細表出力"),
        _("一斉積立内訳明細データエクスポート"),
    ),
    pdfs=(
        Button("details-pdf", _("一斉積立内訳明細表")),
        Button("changes-pdf", _("一斉積立変更明細表")),
    ),
    csvs=(
        Button("details-csv", _("一斉積立内訳明細"), _("内訳明細")),
        Button("changes-csv", _("一斉積立変更明細"), _("変更明細")),
    ),
)
