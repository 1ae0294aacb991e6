"""一斉積立事務 (SPEC 6.3, #13): collective savings rounds provided by the bank, read-only for the
customer. The pattern every later module copies (docs/plugin-guide.md § 13): ``GroupScoped`` tables
read through ``scoped_select``, its rounds declared once as ``core.batches.Batches`` (the lines
loaders and the three screens configured on it), streamed PDF lists from ``core.outputs.pdfstream``
and strict CSV exports, an information panel."""

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
from plugins.collective_savings import demo, savings, views
from plugins.collective_savings.loader import LOADERS
from plugins.collective_savings.models import TABLES
from plugins.collective_savings.outputs import OUTPUTS

HERE = Path(__file__).resolve().parent

MODULE = ServiceModule(
    code=savings.CODE,
    name=_("一斉積立"),
    menu_title=_("一斉積立事務"),
    contract_kinds=("member",),
    restriction_levels=("show", "hide"),
    order=30,
)


@hookimpl
def cjs_service_module() -> ServiceModule:
    """Declare 一斉積立."""
    return MODULE


@hookimpl
def cjs_schema() -> ModuleSchema:
    """Rounds, details and changes, and the folder of their migrations (branch collective_savings)."""
    tables = tuple(cast(Table, table) for table in TABLES)
    return ModuleSchema(branch=savings.CODE, versions=HERE / "versions", tables=tables)


@hookimpl
def cjs_module_routes(config: Configurator, module: ServiceModule) -> None:
    """The three read-only screens."""
    views.SCREENS.add_routes(config)


@hookimpl
def cjs_menu_entries(
    request: Request, deposit_group: DepositGroup, module: ServiceModule
) -> Sequence[MenuEntry]:
    """001's three menus of 一斉積立事務."""
    return views.SCREENS.menu_entries()


@hookimpl
def cjs_info_panels(
    request: Request, deposit_group: DepositGroup, module: ServiceModule
) -> Sequence[InfoPanel]:
    """最新受信情報: the latest round (number, name, date, 臨時作成)."""
    latest = savings.latest_round(request.dbsession, deposit_group)
    return [InfoPanel(f"{savings.CODE}/info_panel.html", {"round": latest}, order=20)]


@hookimpl
def cjs_outputs(module: ServiceModule) -> Sequence[Output]:
    """一斉積立内訳明細表 and 一斉積立変更明細表 (PDF), and both as CSV."""
    return OUTPUTS


@hookimpl
def cjs_loaders() -> Sequence[Loader]:
    """The bank's rounds, details and changes files."""
    return LOADERS


@hookimpl
def cjs_demo_files(dbsession: Session, now: dt.datetime) -> Sequence[DemoFile]:
    """Four rounds of 300 employees for each demo deposit group with 一斉積立."""
    return demo.demo_files(dbsession)
