"""ACC-7 and SPEC 6 on the server: module routes answer only where the module is enabled for the
selected deposit group, and only as the user's function restriction allows — menus and direct URLs."""

from __future__ import annotations

import pytest
from conftest import Customer
from dummy_module import DummyModule
from sqlalchemy import select

from core.app import make_app
from core.auth.passwords import hash_password
from core.db import get_engine
from core.db.models import Contract, ModuleEnablement, User, UserRestriction

PASSWORD = "Passw0rd!"


@pytest.fixture
def app_with_dummy(app_settings, bank, dbsession):
    """The demo contracts with the dummy module enabled in group 00000001 of 10000001 only."""
    app = make_app(app_settings, plugins=[DummyModule()])
    contract = dbsession.scalars(select(Contract).where(Contract.contract_no == "10000001")).one()
    contract.deposit_groups[0].module_enablements.append(
        ModuleEnablement(module_code="dummy", options={})
    )
    dbsession.commit()
    yield app
    get_engine(app.registry).dispose()


def add_general(dbsession, user_id, level):
    contract = dbsession.scalars(select(Contract).where(Contract.contract_no == "10000001")).one()
    user = User(
        contract_id=contract.id,
        user_id=user_id,
        role="general",
        name="一般　花子",
        email=f"{user_id}@example.com",
        password_hash=hash_password(PASSWORD),
    )
    if level != "show":
        user.restrictions.append(UserRestriction(module_code="dummy", level=level))
    dbsession.add(user)
    dbsession.commit()


def logged_in(app, dbsession, user_id, email, group_index=0):
    customer = Customer.of(app, dbsession)
    data, _ = customer.issue(user_id, PASSWORD, email)
    customer.app.reset()
    customer.use_certificate(data, PASSWORD)
    page = customer.login(PASSWORD)
    page.forms["groups-form"].submit("group_id", index=group_index).maybe_follow()
    return customer.app


@pytest.fixture
def master(app_with_dummy, dbsession):
    registering = Customer.of(app_with_dummy, dbsession)
    registering.register_master()
    return lambda group_index=0: logged_in(
        app_with_dummy, dbsession, "master01", "taro@example.com", group_index
    )


def test_the_menu_and_the_screens_of_an_enabled_module(master):
    app = master()
    info = app.get("/info")
    assert "ダミー事務" in info.text and "ダミー照会" in info.text and "ダミー新規登録" in info.text
    assert app.get("/m/dummy/list").text == "ダミー照会画面"
    assert app.get("/m/dummy/new").text == "ダミー新規登録画面"
    token = info.forms["logout"]["csrf_token"].value
    assert (
        app.post(
            "/m/dummy/new", {"csrf_token": token}, headers={"Origin": "https://localhost"}
        ).text
        == "登録しました"
    )


def test_a_module_not_enabled_for_the_selected_group_does_not_exist(master):
    """SPEC 6: enabled per deposit group; a direct URL answers 404."""
    app = master(group_index=1)
    assert "ダミー事務" not in app.get("/info").text
    app.get("/m/dummy/list", status=404)
    app.get("/m/dummy/new", status=404)


def test_anonymous_requests_to_module_screens_go_to_the_top_page(app_with_dummy, dbsession):
    app = Customer.of(app_with_dummy, dbsession).app
    assert app.get("/m/dummy/list").maybe_follow().request.path == "/"


@pytest.mark.parametrize(
    ("level", "menu", "answers"),
    [
        (
            "show",
            ["ダミー照会", "ダミー新規登録"],
            {"list": 200, "export": 200, "new": 200, "post": 200},
        ),
        ("view_only", ["ダミー照会"], {"list": 200, "export": 200, "new": 403, "post": 403}),
        ("hide", [], {"list": 403, "export": 403, "new": 403, "post": 403}),
    ],
)
def test_per_user_function_restriction(app_with_dummy, dbsession, master, level, menu, answers):
    """ACC-7: 表示 / 閲覧のみ / 非表示, in the menu and on the server for hand-crafted requests."""
    add_general(dbsession, "general01", level)
    app = logged_in(app_with_dummy, dbsession, "general01", "general01@example.com")
    info = app.get("/info")
    for title in ["ダミー照会", "ダミー新規登録"]:
        assert (title in info.text) == (title in menu)
    assert ("ダミー事務" in info.text) == bool(menu)
    assert app.get("/m/dummy/list", expect_errors=True).status_int == answers["list"]
    assert app.get("/m/dummy/export", expect_errors=True).status_int == answers["export"]
    assert app.get("/m/dummy/new", expect_errors=True).status_int == answers["new"]
    token = info.forms["logout"]["csrf_token"].value
    posted = app.post(
        "/m/dummy/new",
        {"csrf_token": token},
        headers={"Origin": "https://localhost"},
        expect_errors=True,
    )
    assert posted.status_int == answers["post"]
