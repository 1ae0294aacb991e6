"""一斉積立事務 (SPEC 6.3): collective savings rounds provided by the bank, read-only."""

from core.hookspecs import ServiceModule, hookimpl

MODULE = ServiceModule(
    code="collective_savings",
    name="一斉積立",
    menu_title="一斉積立事務",
    contract_kinds=("member",),
    restriction_levels=("show", "hide"),
    order=30,
)


@hookimpl
def cjs_service_module() -> ServiceModule:
    """Declare 一斉積立."""
    return MODULE
