"""労金控除事務 (SPEC 6.1): Rokin deduction details, requests and results."""

from typing import Any

from core import clock
from core.bank import schedules
from core.db.models import DepositGroup
from core.hookspecs import InfoPanel, ServiceModule, hookimpl
from core.i18n import _

MODULE = ServiceModule(
    code="rokin_deduction",
    name=_("労金控除"),
    menu_title=_("労金控除事務"),
    contract_kinds=("member",),
    restriction_levels=("show", "hide", "view_only"),
    options={"detail_update": _("明細更新")},
    order=10,
)


@hookimpl
def cjs_service_module() -> ServiceModule:
    """Declare 労金控除."""
    return MODULE


@hookimpl
def cjs_info_panels(
    request: Any, deposit_group: DepositGroup, module: ServiceModule
) -> list[InfoPanel]:
    """【スケジュール】 on DC671101 (SPEC 6.5), the same panel as 賃控元帳's: shown once."""
    return [schedules.info_panel(request.dbsession, deposit_group, clock.now(request.registry))]
