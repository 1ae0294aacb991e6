"""The plugin core: hooks, entry points, per-deposit-group module enablement (Foundation, SPEC 6)."""

from __future__ import annotations

import pytest
from dummy_module import DummyModule
from factories import ContractFactory, DepositGroupFactory
from pyramid.request import Request
from sqlalchemy import select

from core.app import make_app
from core.db.models import DepositGroup, ModuleEnablement
from core.hookspecs import InfoPanel, ServiceModule, hookimpl
from core.plugins import get_modules, make_plugin_manager
from core.settings import ConfigurationError


class DummyWithPanel(DummyModule):
    """The tests' dummy module with an information panel (DC671101)."""

    @hookimpl
    def cjs_info_panels(self, request, deposit_group, module):
        return [InfoPanel(template="dummy.html", context={"group": deposit_group.group_no})]


def _contract_with_two_groups(dbsession):
    contract = ContractFactory(contract_no="10000009")
    enabled = DepositGroupFactory(contract=contract, group_no="00000001")
    enabled.module_enablements.append(ModuleEnablement(module_code="dummy", options={}))
    DepositGroupFactory(contract=contract, group_no="00000002")
    dbsession.add(contract)
    dbsession.commit()


def test_a_registered_module_shows_its_menu_only_where_enabled(app_settings, dbsession):
    """SPEC 6: modules are plugins enabled per deposit group; the menu follows the enablement."""
    app = make_app(app_settings, plugins=[DummyWithPanel()])
    _contract_with_two_groups(dbsession)
    modules = get_modules(app.registry)
    request = Request.blank("/", base_url="https://localhost")
    request.registry = app.registry
    groups = {
        g.group_no: g
        for g in dbsession.scalars(select(DepositGroup).order_by(DepositGroup.group_no))
    }

    menu_enabled = modules.menu(request, groups["00000001"])
    assert [(m.code, [e.title for e in entries]) for m, entries in menu_enabled] == [
        ("dummy", ["ダミー照会", "ダミー新規登録"])
    ]
    assert modules.menu(request, groups["00000002"]) == []
    panels = modules.info_panels(request, groups["00000001"])
    assert [(p.template, p.context["group"]) for p in panels] == [("dummy.html", "00000001")]
    assert modules.info_panels(request, groups["00000002"]) == []
    assert request.route_path("dummy:list") == "/m/dummy/list"


def test_builtin_plugins_come_from_the_entry_points():
    """CERT-1 and SPEC 6: built-ins register through the same groups a third party would use."""
    pm = make_plugin_manager()
    names = {name for name, _ in pm.list_name_plugin()}
    assert {"software", "rokin_deduction", "wage_ledger", "collective_savings", "zaikei"} <= names


def test_a_plugin_can_be_disabled_by_setting():
    pm = make_plugin_manager(disabled=["zaikei"])
    assert "zaikei" not in {name for name, _ in pm.list_name_plugin() if _ is not None}


def test_a_hook_implementation_without_a_spec_stops_the_start():
    class Misspelled:
        @hookimpl
        def cjs_menu_entrys(self):
            return []

    with pytest.raises(ConfigurationError, match="cjs_menu_entrys"):
        make_plugin_manager([Misspelled()])


def test_module_routes_must_carry_the_module_prefix(app_settings):
    class Careless(DummyModule):
        module = ServiceModule(
            code="careless", name="x", menu_title="x", contract_kinds=("member",)
        )

        @hookimpl
        def cjs_module_routes(self, config, module):
            config.add_route("hello", "/hello")

    with pytest.raises(ConfigurationError, match="route 'hello' must be named 'careless:…'"):
        make_app(app_settings, plugins=[Careless()])


def test_two_plugins_may_not_declare_the_same_module_code(app_settings):
    with pytest.raises(ConfigurationError, match="'dummy': declared twice"):
        make_app(app_settings, plugins=[DummyModule(), DummyModule()])
