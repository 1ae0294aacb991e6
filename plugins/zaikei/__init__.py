"""財形貯蓄事務 (SPEC 6.4): asset-formation savings of employers."""

from core.hookspecs import ServiceModule, hookimpl

MODULE = ServiceModule(
    code="zaikei",
    name="財形",
    menu_title="財形貯蓄事務",
    contract_kinds=("employer",),
    restriction_levels=("show", "hide"),
    order=40,
)


@hookimpl
def cjs_service_module() -> ServiceModule:
    """Declare 財形貯蓄."""
    return MODULE
