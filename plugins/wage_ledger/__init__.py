"""賃控元帳事務 (SPEC 6.2): the wage deduction ledger."""

from typing import Any

from core import clock
from core.bank import schedules
from core.db.models import DepositGroup
from core.hookspecs import InfoPanel, ServiceModule, hookimpl
from core.i18n import _

MODULE = ServiceModule(
    code="wage_ledger",
    name=_("賃金控除元帳"),
    menu_title=_("賃控元帳事務"),
    contract_kinds=("member",),
    restriction_levels=("show", "hide", "view_only"),
    order=20,
    short_name=_("賃控元帳"),
)


@hookimpl
def cjs_service_module() -> ServiceModule:
    """Declare 賃控元帳."""
    return MODULE


@hookimpl
def cjs_info_panels(
    request: Any, deposit_group: DepositGroup, module: ServiceModule
) -> list[InfoPanel]:
    """【スケジュール】 on DC671101 (SPEC 6.5), the same panel as 労金控除's: shown once."""
    return [schedules.info_panel(request.dbsession, deposit_group, clock.now(request.registry))]
