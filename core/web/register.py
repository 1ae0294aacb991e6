"""FLOW-1, master initial registration: DC583101 (a flow) → DC584101 → result → issuance."""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy.exc import IntegrityError

from core import audit
from core.accounts import users
from core.auth.flows import Flow, FlowSpec, end, get_flows
from core.auth.passwords import hash_password
from core.clock import utcnow
from core.db.models import Contract, Role, User
from core.i18n import _
from core.mail.interfaces import IOutbox
from core.web.forms import MASTER_ALREADY_REGISTERED, UserRegistrationForm, formdata

RESULT_KEY = "registration_result"
ID_TAKEN = _("このユーザーIDは既に使用されています。別のユーザーIDを入力してください。")


def _complete(request: Request, flow: Flow) -> Response:
    return HTTPFound(request.route_url("register_master_user"))


FLOW = FlowSpec(
    name="register_master",
    prefix="/register/master",
    default_pipeline="initial_password",
    required_steps=frozenset({"initial_password"}),
    on_complete=_complete,
)


def _flow_contract(request: Request) -> tuple[Flow | None, Contract | None]:
    flow = get_flows(request.registry).current(request, FLOW.name)
    if flow is None or not flow.complete:
        return None, None
    return flow, request.dbsession.get(Contract, flow.get("contract_pk"))


@view_config(
    route_name="register_master_user",
    renderer="accounts/register_user.html",
    request_method=("GET", "POST"),
)
def register_master_user(request: Request) -> Any:
    """DC584101: the master's ID, password, name and email; nothing stored on any error (ACC-8)."""
    flow, contract = _flow_contract(request)
    if flow is None or contract is None:
        return HTTPFound(request.route_url("register_master.initial_password"))
    form = UserRegistrationForm(
        formdata(request), denied_domains=request.registry.settings["cjs.email.denied_domains"]
    )
    values = {"form": form, "contract": contract, "message": None}
    if request.method != "POST" or not form.validate():
        return values
    db = request.dbsession
    if users.user_id_in_use(db, form.user_id.data):
        form.user_id.errors = [*form.user_id.errors, ID_TAKEN]
        return values
    user = User(
        contract_id=contract.id,
        user_id=form.user_id.data,
        role=Role.MASTER,
        name=form.user_name.data,
        email=form.email.data,
        password_hash=hash_password(form.password.data),
        password_is_temporary=False,
        password_changed_at=utcnow(),
    )
    try:
        with db.begin_nested():
            db.add(user)
            db.flush()
    except IntegrityError:
        values["message"] = (
            MASTER_ALREADY_REGISTERED  # another browser registered a master meanwhile
        )
        return values
    audit.record(
        db,
        "register.master",
        actor=user.user_id,
        target=user.user_id,
        contract_no=contract.contract_no,
        request=request,
    )
    request.find_service(IOutbox).notify_requester(user, "registered", is_master=True)
    end(request)
    request.session[RESULT_KEY] = {
        "contract_no": contract.contract_no,
        "user_id": user.user_id,
        "user_name": user.name,
        "email": user.email,
    }
    return HTTPFound(request.route_url("register_master_done"))


@view_config(
    route_name="register_master_done", renderer="accounts/register_done.html", request_method="GET"
)
def register_master_done(request: Request) -> Any:
    """The registration result: the values entered, the password masked; on to issuance."""
    result = request.session.get(RESULT_KEY)
    if result is None:
        return HTTPFound(request.route_url("top"))
    return {"result": result}


def includeme(config: Any) -> None:
    """Routes of the registration screens after DC583101."""
    config.add_route("register_master_user", "/register/master/user")
    config.add_route("register_master_done", "/register/master/done")
    config.scan("core.web.register")
