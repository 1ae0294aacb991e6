"""The console's contracts and modules (BANK-1): list and search contracts, create and change them,
their deposit groups and the modules (with options) enabled per group.

Every change goes through ``core.bank.config`` like ``cjs bank apply FILE``: the screen edits the
contract's entry (:func:`core.bank.config.entry_of`) and :func:`core.bank.config.apply_entry` checks
it against the same rules and applies it in the request's transaction, audited with the staff ID. A
broken rule is shown next to the field it concerns, the input kept and nothing stored. A module
disabled here is gone from the customers' menus and URLs at their next request: the customer app's
module guard reads the enablement on every request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.request import Request
from sqlalchemy import or_, select
from wtforms import BooleanField, RadioField
from wtforms.fields.choices import SelectChoice

from core import rules
from core.bank.config import BankConfigError, apply_entry, entry_of
from core.db.models import Contract, ContractKind, DepositGroup
from core.hookspecs import ServiceModule, StaffPermission
from core.plugins import get_modules
from core.web.forms import Form, PasswordField, StringField, formdata, required, rule

#: How many contracts the list shows at most; a search narrows it.
LIST_LIMIT = 100

KIND_CHOICES = [SelectChoice(kind.value, kind.label) for kind in ContractKind]


class ContractChangeForm(Form):
    """What a contract holds besides its number: kind, organisation name, initial password."""

    kind = RadioField("契約種別", choices=KIND_CHOICES, validate_choice=False)
    organisation_name = StringField("団体名", [required("団体名")])
    initial_password = PasswordField(
        "初期パスワード", description="変更するときだけ入力してください（初期パスワード届出書）。"
    )


class GroupNamesForm(Form):
    """A deposit group's names."""

    name_kanji = StringField("入金グループ名", [required("入金グループ名")])
    name_kana = StringField(
        "入金グループ名（カナ）", [required("入金グループ名（カナ）"), rule(rules.check_kana_name)]
    )


class ContractCreateForm(ContractChangeForm, GroupNamesForm):
    """A new contract with its first deposit group (a contract has at least one)."""

    contract_no = StringField("契約番号", [required("契約番号"), rule(rules.check_contract_no)])
    initial_password = PasswordField(
        "初期パスワード", [required("初期パスワード"), rule(rules.check_initial_password)]
    )
    group_no = StringField("入金グループ", [required("入金グループ"), rule(rules.check_group_no)])


class GroupCreateForm(GroupNamesForm):
    """A deposit group added to a contract."""

    group_no = StringField("入金グループ", [required("入金グループ"), rule(rules.check_group_no)])


@dataclass(frozen=True)
class ModuleFields:
    """The fields of one module on the group screen: enabled, and each option."""

    module: ServiceModule
    enabled: str
    options: tuple[tuple[str, str], ...]  # (option, field name)


def _module_fields(modules: dict[str, ServiceModule], kind: str) -> list[ModuleFields]:
    """A checkbox per module offered to ``kind`` contracts, and one per option of each."""
    return [
        ModuleFields(
            module,
            f"module__{code}",
            tuple((option, f"option__{code}__{option}") for option in module.options),
        )
        for code, module in modules.items()
        if kind in module.contract_kinds
    ]


def _group_form(
    base: type[Form], fields: list[ModuleFields], request: Request, data: dict[str, Any]
) -> Form:
    """``base`` with the module checkboxes of ``fields``, bound to the POST (or ``data``)."""
    extra: dict[str, Any] = {}
    for item in fields:
        extra[item.enabled] = BooleanField(item.module.name)
        for option, name in item.options:
            extra[name] = BooleanField(item.module.options[option])
    form_class = type(base.__name__, (base,), extra)
    return form_class(formdata(request), data=data)


def _modules_of(form: Form, fields: list[ModuleFields]) -> dict[str, dict[str, Any]]:
    """The modules the form enables, with the options ticked."""
    return {
        item.module.code: {option: True for option, name in item.options if form[name].data}
        for item in fields
        if form[item.enabled].data
    }


def _put_error(form: Form, error: BankConfigError, fallback: str) -> None:
    """Show ``error`` at the form field its path names (the innermost one the form has: a module's
    checkbox, or a field of the same name), else at ``fallback``."""
    for key in reversed(error.path):
        for name in (f"module__{key}", str(key)):
            if isinstance(key, str) and name in form:
                form[name].errors = [*form[name].errors, error.message]
                return
    form[fallback].errors = [*form[fallback].errors, error.message]


def _contract(request: Request) -> Contract:
    contract = request.dbsession.scalars(
        select(Contract).where(Contract.contract_no == request.matchdict["contract_no"])
    ).one_or_none()
    if contract is None:
        raise HTTPNotFound()
    return contract


def _group(contract: Contract, group_no: str) -> DepositGroup:
    for group in contract.deposit_groups:
        if group.group_no == group_no:
            return group
    raise HTTPNotFound()


def _apply(request: Request, form: Form, entry: dict[str, Any], fallback: str) -> bool:
    """Apply ``entry`` as the signed-in staff member; on a broken rule, the message at its field,
    the transaction doomed (nothing stored) and False."""
    try:
        apply_entry(
            request.dbsession,
            entry,
            get_modules(request.registry),
            actor=request.identity.staff_id,
        )
    except BankConfigError as error:
        request.tm.doom()
        _put_error(form, error, fallback)
        return False
    return True


def _done(request: Request, contract_no: str) -> HTTPSeeOther:
    return HTTPSeeOther(
        request.route_url("staff_contract", contract_no=contract_no, _query={"saved": "1"})
    )


def contract_list(request: Request) -> dict[str, Any]:
    """The contracts, by number; ``q`` finds a number (from its start) or an organisation name."""
    query = request.GET.get("q", "").strip()
    statement = select(Contract).order_by(Contract.contract_no).limit(LIST_LIMIT)
    if query:
        statement = statement.where(
            or_(
                Contract.contract_no.startswith(query, autoescape=True),
                Contract.organisation_name.contains(query, autoescape=True),
            )
        )
    return {
        "query": query,
        "contracts": list(request.dbsession.scalars(statement)),
        "limit": LIST_LIMIT,
        "kinds": {kind.value: kind.label for kind in ContractKind},
    }


def contract_create(request: Request) -> Any:
    """A new contract and its first deposit group (modules are enabled on the group's screen)."""
    form = ContractCreateForm(formdata(request), data={"kind": ContractKind.MEMBER.value})
    if request.method == "POST" and form.validate():
        exists = request.dbsession.scalars(
            select(Contract.id).where(Contract.contract_no == form.contract_no.data)
        ).first()
        if exists is not None:
            form.contract_no.errors = ["この契約番号の契約は登録済みです。"]
        else:
            entry = {
                "contract_no": form.contract_no.data,
                "kind": form.kind.data,
                "organisation_name": form.organisation_name.data,
                "initial_password": form.initial_password.data,
                "deposit_groups": [
                    {
                        "group_no": form.group_no.data,
                        "name_kanji": form.name_kanji.data,
                        "name_kana": form.name_kana.data,
                    }
                ],
            }
            if _apply(request, form, entry, fallback="contract_no"):
                return _done(request, form.contract_no.data)
    return {"form": form}


def contract_detail(request: Request) -> Any:
    """A contract, its groups and their modules; changes its kind, name and initial password."""
    contract = _contract(request)
    form = ContractChangeForm(
        formdata(request),
        data={"kind": contract.kind, "organisation_name": contract.organisation_name},
    )
    if request.method == "POST" and form.validate():
        entry = entry_of(contract)
        entry["kind"] = form.kind.data
        entry["organisation_name"] = form.organisation_name.data
        if form.initial_password.data:
            entry["initial_password"] = form.initial_password.data
            del entry["initial_password_hash"]
        if _apply(request, form, entry, fallback="kind"):
            return _done(request, contract.contract_no)
    modules = get_modules(request.registry).modules
    return {
        "contract": contract,
        "form": form,
        "modules": modules,
        "kind_label": ContractKind(contract.kind).label,
        "saved": request.GET.get("saved") == "1",
    }


def group_create(request: Request) -> Any:
    """A deposit group added to a contract, with its modules."""
    contract = _contract(request)
    fields = _module_fields(get_modules(request.registry).modules, contract.kind)
    form = _group_form(GroupCreateForm, fields, request, {})
    if request.method == "POST" and form.validate():
        entry = entry_of(contract)
        entry["deposit_groups"].append(
            {
                "group_no": form.group_no.data,
                "name_kanji": form.name_kanji.data,
                "name_kana": form.name_kana.data,
                "modules": _modules_of(form, fields),
            }
        )
        if _apply(request, form, entry, fallback="group_no"):
            return _done(request, contract.contract_no)
    return {"contract": contract, "form": form, "fields": fields, "group": None}


def group_detail(request: Request) -> Any:
    """A deposit group's names and the modules (with options) enabled for it."""
    contract = _contract(request)
    group = _group(contract, request.matchdict["group_no"])
    fields = _module_fields(get_modules(request.registry).modules, contract.kind)
    enabled = {e.module_code: e.options or {} for e in group.module_enablements}
    data: dict[str, Any] = {"name_kanji": group.name_kanji, "name_kana": group.name_kana}
    for item in fields:
        options = enabled.get(item.module.code)
        data[item.enabled] = options is not None
        for option, name in item.options:
            data[name] = bool((options or {}).get(option))
    form = _group_form(GroupNamesForm, fields, request, data)
    if request.method == "POST" and form.validate():
        entry = entry_of(contract)
        for declared in entry["deposit_groups"]:
            if declared["group_no"] == group.group_no:
                declared["name_kanji"] = form.name_kanji.data
                declared["name_kana"] = form.name_kana.data
                # Modules the console does not offer (not for this kind) stay as they are.
                kept = {c: o for c, o in declared["modules"].items() if f"module__{c}" not in form}
                declared["modules"] = {**kept, **_modules_of(form, fields)}
        if _apply(request, form, entry, fallback="name_kanji"):
            return _done(request, contract.contract_no)
    return {"contract": contract, "form": form, "fields": fields, "group": group}


def includeme(config: Configurator) -> None:
    """The contracts screens, behind ``StaffPermission.CONTRACTS_MANAGE``, and their menu entry."""
    config.add_route("staff_contracts", "/staff/contracts")
    config.add_route("staff_contract_new", "/staff/contracts/new")
    config.add_route("staff_contract", r"/staff/contracts/{contract_no:\d{8}}")
    config.add_route("staff_group_new", r"/staff/contracts/{contract_no:\d{8}}/groups/new")
    config.add_route("staff_group", r"/staff/contracts/{contract_no:\d{8}}/groups/{group_no:\d{8}}")
    manage = StaffPermission.CONTRACTS_MANAGE
    config.add_view(
        contract_list,
        route_name="staff_contracts",
        renderer="staff/contracts/list.html",
        permission=manage,
        request_method="GET",
    )
    for view, route, renderer in (
        (contract_create, "staff_contract_new", "staff/contracts/new.html"),
        (contract_detail, "staff_contract", "staff/contracts/detail.html"),
        (group_create, "staff_group_new", "staff/contracts/group.html"),
        (group_detail, "staff_group", "staff/contracts/group.html"),
    ):
        config.add_view(
            view,
            route_name=route,
            renderer=renderer,
            permission=manage,
            request_method=("GET", "POST"),
        )
    config.add_staff_menu_entry("契約・モジュール", "staff_contracts", manage, order=20)
