"""財形貯蓄事務 (SPEC 6.4, #13 item 4): the bank's asset-formation savings of an employer's
employees, read-only for the customer, built on the pattern of 一斉積立 (docs/plugin-guide.md § 13):
runs (the documents the bank made, each as of its 作成基準日, the last three kept), savings details
and change details; 財形積立明細照会, 財形積立明細書出力 (PDF), 財形積立明細データエクスポート (CSV);
the 作成基準日 panel of the 財形 information screen."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from pyramid.config import Configurator
from pyramid.request import Request
from sqlalchemy import Table
from sqlalchemy.orm import Session

from core.db.models import DepositGroup
from core.hookspecs import (
    DemoFile,
    InfoPanel,
    Loader,
    MenuEntry,
    ModuleSchema,
    Output,
    ServiceModule,
    hookimpl,
)
from core.i18n import _
from plugins.zaikei import demo, records, views
from plugins.zaikei.loader import LOADERS
from plugins.zaikei.models import TABLES
from plugins.zaikei.outputs import OUTPUTS

HERE = Path(__file__).resolve().parent

MODULE = ServiceModule(
    code=records.CODE,
    name=_("財形"),
    menu_title=_("財形貯蓄事務"),
    contract_kinds=("employer",),
    restriction_levels=("show", "hide"),
    order=40,
)


@hookimpl
def cjs_service_module() -> ServiceModule:
    """Declare 財形貯蓄."""
    return MODULE


@hookimpl
def cjs_schema() -> ModuleSchema:
    """Runs, details and changes, and the folder of their migrations (branch zaikei)."""
    tables = tuple(cast(Table, table) for table in TABLES)
    return ModuleSchema(branch=records.CODE, versions=HERE / "versions", tables=tables)


@hookimpl
def cjs_module_routes(config: Configurator, module: ServiceModule) -> None:
    """The three read-only screens."""
    views.SCREENS.add_routes(config)


@hookimpl
def cjs_menu_entries(
    request: Request, deposit_group: DepositGroup, module: ServiceModule
) -> Sequence[MenuEntry]:
    """001's three menus of 財形貯蓄事務."""
    return views.SCREENS.menu_entries()


@hookimpl
def cjs_info_panels(
    request: Request, deposit_group: DepositGroup, module: ServiceModule
) -> Sequence[InfoPanel]:
    """作成基準日 of each document (the 財形 information screen, SPEC 6.4)."""
    dates = records.basis_dates(request.dbsession, deposit_group)
    return [InfoPanel(f"{records.CODE}/info_panel.html", {"dates": dates}, order=10)]


@hookimpl
def cjs_outputs(module: ServiceModule) -> Sequence[Output]:
    """財形積立明細書 and 財形積立変更明細書 (PDF), and both as CSV."""
    return OUTPUTS


@hookimpl
def cjs_loaders() -> Sequence[Loader]:
    """The bank's runs, details and changes files."""
    return LOADERS


@hookimpl
def cjs_demo_files(dbsession: Session, now: dt.datetime) -> Sequence[DemoFile]:
    """200 employees and eight runs for each demo deposit group with 財形."""
    return demo.demo_files(dbsession)
