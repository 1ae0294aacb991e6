"""一斉積立's customer screens (SPEC 6.3), read-only, on ``core.batches.BatchScreens``:
一斉積立内訳明細照会 (a round picker, search by 職員番号 and カナ氏名, sort, pages),
一斉積立内訳明細表出力 and 一斉積立内訳明細データエクスポート."""

from __future__ import annotations

from core.batches import BatchScreens, Button, employee_searches
from core.inquiry import Sort
from plugins.collective_savings.models import SavingsDetail
from plugins.collective_savings.savings import ROUNDS

SCREENS = BatchScreens(
    batches=ROUNDS,
    lines=SavingsDetail,
    sorts={
        "employee": Sort("職員番号", [SavingsDetail.employee_no, SavingsDetail.id]),
        "kana": Sort("カナ氏名", [SavingsDetail.name_kana, SavingsDetail.id]),
        "amount": Sort("積立金額", [SavingsDetail.amount, SavingsDetail.id]),
    },
    default_sort="employee",
    searches=employee_searches(SavingsDetail),
    titles=("一斉積立内訳明細照会", "一斉積立内訳明細表出力", "一斉積立内訳明細データエクスポート"),
    pdfs=(Button("details-pdf", "一斉積立内訳明細表"), Button("changes-pdf", "一斉積立変更明細表")),
    csvs=(
        Button("details-csv", "一斉積立内訳明細", "内訳明細"),
        Button("changes-csv", "一斉積立変更明細", "変更明細"),
    ),
)
