"""財形's customer screens (SPEC 6.4), read-only: 財形積立明細照会 (a run picker, search by 職員番号 and
カナ氏名, sort, pages), 財形積立明細書出力 and 財形積立明細データエクスポート."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request

from core.dataload import search_kana
from core.inquiry import Sort, paged
from plugins.zaikei import records
from plugins.zaikei.models import ZaikeiDetail

SORTS = {
    "employee": Sort("職員番号", [ZaikeiDetail.employee_no, ZaikeiDetail.id]),
    "kana": Sort("カナ氏名", [ZaikeiDetail.name_kana, ZaikeiDetail.id]),
    "balance": Sort("残高", [ZaikeiDetail.balance, ZaikeiDetail.id]),
}
SEARCHES = {
    "employee_no": lambda value: ZaikeiDetail.employee_no.startswith(value, autoescape=True),
    "kana": lambda value: ZaikeiDetail.name_kana.startswith(search_kana(value), autoescape=True),
}


def _runs(request: Request) -> dict[str, Any]:
    return {
        "runs": records.deposit_runs(request.dbsession, request),
        "chosen": records.chosen_run(request.dbsession, request, request.GET.get("run")),
    }


def inquiry(request: Request) -> dict[str, Any]:
    """財形積立明細照会: one page of the chosen run's savings (the newest run by default)."""
    found = _runs(request)
    chosen = found["chosen"]
    page = None
    if chosen is not None:
        page = paged(
            request.dbsession,
            records.details(request, chosen),
            request.GET,
            searches=SEARCHES,
            sorts=SORTS,
            default_sort="employee",
            kept={"run": str(chosen.id)},
        )
    return {**found, "page": page, "asked": request.GET}


def outputs(request: Request) -> dict[str, Any]:
    """財形積立明細書出力: the run picker and the two PDF documents."""
    return _runs(request)


def export(request: Request) -> dict[str, Any]:
    """財形積立明細データエクスポート: the run picker and the two CSV files."""
    return _runs(request)


def add_routes(config: Configurator) -> None:
    """The three screens, under ``/m/zaikei`` (the core's module guard applies)."""
    for name, path, view in (
        ("inquiry", "/", inquiry),
        ("outputs", "/outputs", outputs),
        ("export", "/export", export),
    ):
        config.add_route(f"{records.CODE}:{name}", path)
        config.add_view(
            view,
            route_name=f"{records.CODE}:{name}",
            renderer=f"{records.CODE}/{name}.html",
            request_method="GET",
        )
