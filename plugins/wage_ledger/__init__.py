"""賃控元帳事務 (SPEC 6.2): the wage deduction ledger."""

from core.hookspecs import ServiceModule, hookimpl

MODULE = ServiceModule(
    code="wage_ledger",
    name="賃金控除元帳",
    menu_title="賃控元帳事務",
    contract_kinds=("member",),
    restriction_levels=("show", "hide", "view_only"),
    order=20,
)


@hookimpl
def cjs_service_module() -> ServiceModule:
    """Declare 賃控元帳."""
    return MODULE
