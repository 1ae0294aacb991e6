"""Error screens in Japanese: no such page, an expired form, the CA unavailable, a system error.

No traceback or internal detail reaches the browser; a system error is logged with the request id
that the page shows, so the help desk can find it.
"""

from __future__ import annotations

import logging
from typing import Any

from pyramid.exceptions import BadCSRFOrigin, BadCSRFToken
from pyramid.httpexceptions import HTTPNotFound
from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import exception_view_config, notfound_view_config

from core.i18n import _, localize
from core.outputs.csvexport import UnencodableCharacter
from hsm.interfaces import SignerUnavailable

log = logging.getLogger(__name__)


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    try:
        response = render_to_response(
            "error.html", {"title": title, "message": message}, request=request
        )
    except Exception:  # the page itself needs the database: fall back to plain text
        log.exception("error page could not be drawn (request %s)", request.request_id)
        response = Response(
            "\n".join(
                localize(request, text)
                for text in (title, message, _("お問い合わせ番号：${id}", id=request.request_id))
            )
            + "\n",
            content_type="text/plain",
            charset="utf-8",
        )
    response.status = status
    return response


@notfound_view_config()
def not_found(exc: HTTPNotFound, request: Request) -> Response:
    """404: the screen does not exist (or is not the visitor's to see)."""
    return _error_page(
        request,
        404,
        _("ページが見つかりません"),
        _("お探しのページは見つかりませんでした。トップページから操作してください。"),
    )


@exception_view_config(BadCSRFToken)
@exception_view_config(BadCSRFOrigin)
def bad_csrf(exc: Any, request: Request) -> Response:
    """400: a form from an ended session, another site, or sent twice from an old page."""
    return _error_page(
        request,
        400,
        _("もう一度操作してください"),
        _(
            "画面の有効期限が切れたか、正しくない画面から送信されました。"
            "お手数ですが、トップページからもう一度操作してください。"
        ),
    )


@exception_view_config(UnencodableCharacter)
def unencodable_character(exc: UnencodableCharacter, request: Request) -> Response:
    """422: a CSV in cp932 would have to change a character it cannot hold; the page names the row,
    the column and the character and offers UTF-8 (nothing is replaced silently, #13 item 6)."""
    return _error_page(request, 422, _("CSVファイルを出力できません"), exc.message)


@exception_view_config(SignerUnavailable)
def signer_unavailable(exc: SignerUnavailable, request: Request) -> Response:
    """503: the CA cannot sign now (e.g. the HSM is unreachable); nothing was issued."""
    log.error("CA signer unavailable (request %s): %s", request.request_id, exc)
    return _error_page(
        request,
        503,
        _("ただいま電子証明書を発行できません"),
        _("ただいま電子証明書を発行できません。しばらくしてから、もう一度操作してください。"),
    )


@exception_view_config(Exception, retryable_error=False)
@exception_view_config(Exception, last_retry_attempt=True)
def system_error(exc: Exception, request: Request) -> Response:
    """500: logged with the request id; the visitor sees the id and nothing internal.

    A retryable error (a PostgreSQL serialization failure) is left to pyramid_retry until its last
    attempt.
    """
    log.exception("unexpected error (request %s)", request.request_id)
    return _error_page(
        request,
        500,
        _("システムエラー"),
        _("システムエラーが発生しました。お手数ですが、しばらくしてからもう一度操作してください。"),
    )
