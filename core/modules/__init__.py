"""Service modules (SPEC 6): the registry of module plugins and the guard on their screens."""

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    """Guard every module route (enablement per deposit group, ACC-7 restrictions)."""
    config.include("core.modules.access")
