"""DC581101: the top page, from which every customer flow starts."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config


@view_config(route_name="top", renderer="top.html", request_method="GET")
def top(request: Request) -> dict[str, Any]:
    """The four entrances of the manuals (001) and their notices."""
    return {}
