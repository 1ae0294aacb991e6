"""労金控除事務 (SPEC 6.1): Rokin deduction details, requests and results."""

from core.hookspecs import ServiceModule, hookimpl

MODULE = ServiceModule(
    code="rokin_deduction",
    name="労金控除",
    menu_title="労金控除事務",
    contract_kinds=("member",),
    restriction_levels=("show", "hide", "view_only"),
    options={"detail_update": "明細更新"},
    order=10,
)


@hookimpl
def cjs_service_module() -> ServiceModule:
    """Declare 労金控除."""
    return MODULE
