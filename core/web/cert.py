"""FLOW-2, certificate issuance: DC586101 and the code (a flow) → 発行 → 電子証明書発行中 → result
with the download.

発行 only records in the flow (the session, in the database) that the customer asked for the
certificate and answers with the 電子証明書発行中 screen; that screen's form is sent by itself
(templates/static/autosubmit.js; without JavaScript its button) and the certificate is made there,
once: the flow ends with it, so a reload or a second submit lands on the result.

The PKCS#12 is encrypted with the password typed at DC586101 in this flow, which the flow keeps
sealed in the session (never in clear at rest). The issued file is kept sealed the same way while
its result screen is open, so that the link on it works even when the browser dropped the automatic
download. It is wiped when the customer closes the result (閉じる), starts another flow (login
included) or the session ends.
"""

from __future__ import annotations

import base64
from typing import Any

from pyramid.httpexceptions import HTTPFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy.orm import joinedload

from core import clock, timefmt
from core.auth.flows import SEALED_PASSWORD, SEALED_PKCS12, Flow, FlowSpec, end, get_flows
from core.db.models import User
from core.i18n import localize
from core.mail.interfaces import IOutbox
from core.pki import certificates
from core.pki.signers import get_signer

RESULT_KEY = "issue_result"


def _complete(request: Request, flow: Flow) -> Response:
    return HTTPFound(request.route_url("cert_issue"))


def _refusal(request: Request, user: User) -> str | None:
    return certificates.issuance_refusal(
        user,
        clock.now(request.registry),
        allow_unused_replacement=request.registry.settings["cjs.cert.allow_unused_replacement"],
    )


FLOW = FlowSpec(
    name="issue",
    prefix="/cert",
    default_pipeline="password email_code",
    required_steps=frozenset({"password"}),
    on_complete=_complete,
    check_user=_refusal,
    keeps_password=True,
)


def _completed_flow(request: Request) -> tuple[Flow | None, User | None]:
    flow = get_flows(request.registry).current(request, FLOW.name)
    if flow is None or not flow.complete:
        return None, None
    # With its contract: the certificate's subject and the audit event name it.
    user = request.dbsession.get(User, flow.get("user_pk"), options=[joinedload(User.contract)])
    return flow, user


@view_config(route_name="cert_issue", renderer="pki/cert_issue.html", request_method="GET")
def cert_issue_confirm(request: Request) -> Any:
    """電子証明書発行: the user confirms with 発行 (キャンセル goes back to the top page)."""
    flow, user = _completed_flow(request)
    if flow is None or user is None:
        return HTTPFound(request.route_url("issue.password"))
    return {"user": user}


@view_config(route_name="cert_issue", request_method="POST")
def cert_issue_request(request: Request) -> Response:
    """発行: the request is recorded in the flow; on to 電子証明書発行中."""
    flow, user = _completed_flow(request)
    if flow is None or user is None:
        return HTTPFound(request.route_url("cert_result"))  # a double submit lands on the result
    flow.set(issue_requested=True)
    return HTTPFound(request.route_url("cert_issuing"))


def _requested_flow(request: Request) -> tuple[Flow | None, User | None]:
    """The completed flow whose 発行 was pressed, and its user."""
    flow, user = _completed_flow(request)
    if flow is None or not flow.get("issue_requested"):
        return None, None
    return flow, user


@view_config(route_name="cert_issuing", renderer="pki/cert_issuing.html", request_method="GET")
def cert_issuing(request: Request) -> Any:
    """電子証明書発行中: its form goes on by itself (a script) or by its button (no script)."""
    flow, user = _requested_flow(request)
    if flow is None or user is None:
        unconfirmed, _ = _completed_flow(request)  # 発行 not pressed yet: back to its screen
        return HTTPFound(request.route_url("cert_issue" if unconfirmed else "cert_result"))
    return {"user": user}


@view_config(route_name="cert_issuing", request_method="POST")
def cert_issue(request: Request) -> Response:
    """Key pair, certificate and PKCS#12 made here; the flow ends; on to the result."""
    flow, user = _requested_flow(request)
    password = request.session.unseal(SEALED_PASSWORD)
    if flow is None or user is None or password is None:
        return HTTPFound(request.route_url("cert_result"))  # a reload lands on the result
    settings = request.registry.settings
    try:
        issued = certificates.issue_certificate(
            request.dbsession,
            get_signer(request.registry),
            user,
            password,
            key_type=settings["cjs.cert.key_type"],
            now=clock.now(request.registry),
            actor=user.user_id,
            request=request,
            allow_unused_replacement=settings["cjs.cert.allow_unused_replacement"],
        )
    except certificates.IssuanceRefused as refused:  # another browser issued meanwhile
        end(request)
        request.session.flash(localize(request, refused.message), "error")
        return HTTPFound(request.route_url("issue.password"))
    end(request)
    request.session.seal(SEALED_PKCS12, base64.b64encode(issued.pkcs12).decode())
    request.session[RESULT_KEY] = {
        "user_id": user.user_id,
        "filename": issued.filename,
        "serial": issued.certificate.serial,
        "not_after": localize(request, timefmt.kanji(issued.certificate.not_after)),
    }
    request.find_service(IOutbox).notify_requester(
        user,
        "cert_issued",
        not_after=issued.certificate.not_after,
        serial=issued.certificate.serial,
    )
    for old in issued.replaced:
        request.find_service(IOutbox).notify_requester(
            user,
            "cert_replaced",
            old_serial=old.serial,
            new_serial=issued.certificate.serial,
            not_after=issued.certificate.not_after,
        )
    return HTTPFound(request.route_url("cert_result"))


def _issued_file(request: Request) -> tuple[dict[str, Any] | None, str | None]:
    """The result of this session's issuance and its sealed file, while it is held."""
    result = request.session.get(RESULT_KEY)
    sealed = request.session.unseal(SEALED_PKCS12) if result is not None else None
    return (result, sealed) if sealed is not None else (None, None)


@view_config(route_name="cert_result", renderer="pki/cert_result.html", request_method="GET")
def cert_result(request: Request) -> Any:
    """電子証明書発行結果: starts the download by itself (no script: a refresh), once.

    A reload shows the link only: the file stays downloadable from it until 閉じる.
    """
    result, _ = _issued_file(request)
    if result is None:
        return HTTPFound(request.route_url("top"))
    if not result.get("download_started"):
        request.response.headers["Refresh"] = "1; url=" + request.route_url("cert_download")
        request.session[RESULT_KEY] = {**result, "download_started": True}
    return {"result": result}


@view_config(route_name="cert_result", request_method="POST")
def cert_result_close(request: Request) -> Response:
    """閉じる: the issued file is wiped from the session; on to the top page."""
    request.session.discard_sealed(SEALED_PKCS12)
    request.session.pop(RESULT_KEY, None)
    return HTTPFound(request.route_url("top"))


@view_config(route_name="cert_download", request_method="GET")
def cert_download(request: Request) -> Response:
    """The `.p12` file, as often as asked while the result screen is open (a read: no write)."""
    result, sealed = _issued_file(request)
    if result is None or sealed is None:
        return HTTPFound(request.route_url("cert_result"))
    response = Response(body=base64.b64decode(sealed), content_type="application/x-pkcs12")
    response.content_disposition = f'attachment; filename="{result["filename"]}"'
    return response


def includeme(config: Any) -> None:
    """Routes of the issuance screens after the authentication steps."""
    config.add_route("cert_issue", "/cert/issue")
    config.add_route("cert_issuing", "/cert/issuing")
    config.add_route("cert_result", "/cert/result")
    config.add_route("cert_download", "/cert/download")
    config.scan("core.web.cert")
