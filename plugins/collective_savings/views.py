"""一斉積立's customer screens (SPEC 6.3), read-only: 一斉積立内訳明細照会 (a round picker, search by
職員番号 and カナ氏名, sort, pages), 一斉積立内訳明細表出力 and 一斉積立内訳明細データエクスポート."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request

from core.dataload import search_kana
from core.inquiry import Sort, paged
from plugins.collective_savings import savings
from plugins.collective_savings.models import SavingsDetail

SORTS = {
    "employee": Sort("職員番号", [SavingsDetail.employee_no, SavingsDetail.id]),
    "kana": Sort("カナ氏名", [SavingsDetail.name_kana, SavingsDetail.id]),
    "amount": Sort("積立金額", [SavingsDetail.amount, SavingsDetail.id]),
}
SEARCHES = {
    # 前方一致, as the bank's screens search (an index serves both).
    "employee_no": lambda value: SavingsDetail.employee_no.startswith(
        value.strip(), autoescape=True
    ),
    "kana": lambda value: SavingsDetail.name_kana.startswith(search_kana(value), autoescape=True),
}


def _rounds(request: Request) -> dict[str, Any]:
    rounds = savings.rounds_of(request.dbsession, request)
    chosen = savings.chosen_round(request.dbsession, request, request.GET.get("round"))
    return {"rounds": rounds, "chosen": chosen}


def inquiry(request: Request) -> dict[str, Any]:
    """一斉積立内訳明細照会: one page of the chosen round's details (the newest round by default)."""
    found = _rounds(request)
    chosen = found["chosen"]
    page = None
    if chosen is not None:
        page = paged(
            request.dbsession,
            savings.details(request, chosen),
            request.GET,
            searches=SEARCHES,
            sorts=SORTS,
            default_sort="employee",
            kept={"round": chosen.round_no},
        )
    return {**found, "page": page, "asked": request.GET}


def outputs(request: Request) -> dict[str, Any]:
    """一斉積立内訳明細表出力: the round picker and the two PDF lists."""
    return _rounds(request)


def export(request: Request) -> dict[str, Any]:
    """一斉積立内訳明細データエクスポート: the round picker and the two CSV files."""
    return _rounds(request)


def add_routes(config: Configurator) -> None:
    """The three screens, under ``/m/collective_savings`` (the core's module guard applies)."""
    for name, path, view in (
        ("inquiry", "/", inquiry),
        ("outputs", "/outputs", outputs),
        ("export", "/export", export),
    ):
        config.add_route(f"{savings.CODE}:{name}", path)
        config.add_view(
            view,
            route_name=f"{savings.CODE}:{name}",
            renderer=f"{savings.CODE}/{name}.html",
            request_method="GET",
        )
