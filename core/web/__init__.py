"""The customer screens: forms, navigation and the views, grouped by domain.

Web code sits above the domain packages: it imports them, they never import it.
"""

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    """Static files, then the core routes and views (the security headers come with the guard)."""
    config.add_static_view("static", "templates:static", cache_max_age=3600)
    config.include("core.web.navigation")
