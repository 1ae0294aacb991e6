"""Service modules (SPEC 6): their routes and outputs under ``/m/<code>``, and the guard on them."""

from pyramid.config import Configurator

from core.modules.outputs import add_output_routes
from core.plugins import get_modules


def configure_module_routes(config: Configurator) -> None:
    """Let each module add its routes, and add its outputs, under ``/m/<code>``.

    Every route there must be named ``<code>:…`` (the start stops otherwise), so that the guard of
    :mod:`core.modules.access` applies to all of them.
    """
    modules = get_modules(config.registry)
    for code in modules.modules:
        with config.route_prefix_context(f"/m/{code}"):
            modules.add_routes(config, code)
            add_output_routes(config, code, modules.outputs(code))
    modules.check_route_names(config, "/m/")


def includeme(config: Configurator) -> None:
    """Guard every module route (enablement per deposit group, ACC-7 restrictions)."""
    config.include("core.modules.access")
