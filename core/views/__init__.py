"""The customer screens of the core (the module plugins bring their own)."""

from __future__ import annotations

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    """Add the core routes and views."""
    config.add_route("top", "/")
    config.scan("core.views.top")
    config.include("core.views.demo_mail")
