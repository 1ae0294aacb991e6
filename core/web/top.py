"""DC581101: the top page, from which every customer flow starts."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config

from core.auth.flows import FLOW_KEY, end
from core.i18n import _

#: Why the visitor landed here (``?reason=``): what to do next, in the manuals' words.
REASONS = {
    "timeout": _("一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。"),
    "certificate": _(
        "電子証明書が確認できなくなったため、ログアウトしました。"
        "電子証明書が失効または有効期限切れの場合は「電子証明書発行」から発行してください。"
    ),
    "logged_out": _("ログアウトしました。"),
}


@view_config(route_name="top", renderer="top.html", request_method="GET")
def top(request: Request) -> dict[str, Any]:
    """The four entrances of the manuals (001) and their notices; ends any unfinished flow."""
    if FLOW_KEY in request.session:
        end(request)
    messages = request.session.pop_flash("error")
    reason = REASONS.get(request.GET.get("reason", ""))
    return {"messages": messages, "reason": reason}
