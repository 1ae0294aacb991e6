"""The customer screens: response headers, forms, navigation and the views, grouped by domain.

Web code sits above the domain packages: it imports them, they never import it.
"""

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    """Security headers and static files, then the core routes and views."""
    config.include("core.web.headers")
    config.include("core.web.navigation")
