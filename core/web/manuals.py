"""マニュアル照会 (SPEC section 2, 共通機能; BANK-7): the manuals and forms the bank registered.

The list shows 登録件数 and, for each manual of the user's contract kind (会員 / 事業主) or for
both, 表示, No, マニュアル名, コメント and the size. 表示 opens the PDF in the browser
(``inline``); ダウンロード saves it (``attachment``); both name the file in Japanese (RFC 6266
``filename*=UTF-8''…``, with an ASCII ``filename=`` for old clients). A manual for the other kind of
contract, or one that does not exist, is 404 alike.
"""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from core.bank.manuals import PDF_CONTENT_TYPE, format_size, visible_manual, visible_manuals
from core.db.models import Manual
from core.outputs.csvexport import content_disposition
from core.security.policy import Permission


@view_config(
    route_name="manuals",
    renderer="bank/manuals.html",
    permission=Permission.USE,
    request_method="GET",
)
def manual_list(request: Request) -> dict[str, Any]:
    """マニュアル照会: the manuals for the user's contract kind, in the bank's order."""
    kind = request.identity.user.contract.kind
    manuals = visible_manuals(request.dbsession, kind)
    return {"rows": [{"manual": m, "size": format_size(m.size)} for m in manuals]}


def _manual(request: Request) -> Manual:
    manual = visible_manual(
        request.dbsession,
        request.identity.user.contract.kind,
        int(request.matchdict["manual_id"]),
    )
    if manual is None:
        raise HTTPNotFound()
    return manual


def _serve(manual: Manual, disposition: str) -> Response:
    # Only a PDF is shown in the browser; anything else is always saved (never rendered as a page).
    if manual.content_type != PDF_CONTENT_TYPE:
        disposition = "attachment"
    response = Response(body=manual.content)
    response.headers["Content-Type"] = manual.content_type
    response.headers["Content-Disposition"] = content_disposition(
        manual.filename, disposition, fallback_stem=f"manual-{manual.id}"
    )
    return response


@view_config(route_name="manual_view", permission=Permission.USE, request_method="GET")
def manual_view(request: Request) -> Response:
    """表示: the PDF shown by the browser."""
    return _serve(_manual(request), "inline")


@view_config(route_name="manual_download", permission=Permission.USE, request_method="GET")
def manual_download(request: Request) -> Response:
    """ダウンロード: the PDF saved under its Japanese name."""
    return _serve(_manual(request), "attachment")


def includeme(config: Any) -> None:
    """Routes of マニュアル照会."""
    config.add_route("manuals", "/manuals")
    config.add_route("manual_view", r"/manuals/{manual_id:\d{1,9}}")
    config.add_route("manual_download", r"/manuals/{manual_id:\d{1,9}}/download")
    config.scan("core.web.manuals")
