"""BANK-1 in the staff console: contracts, deposit groups and the modules enabled per group, through
the same service as ``cjs bank apply`` (core.bank.config), each change audited with the staff ID;
a module disabled here is gone from the customer's menu and URLs at the next request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Customer
from sqlalchemy import func, select

from core.app import close_app, make_app
from core.auth.passwords import verify_password
from core.db.models import AuditEvent, Contract, DepositGroup, ModuleEnablement
from core.staff.roles import StaffRole
from tests.staff_support import staff_client

PASSWORD = "Passw0rd!"


@pytest.fixture
def staff_app(app_settings: dict[str, str], bank: None) -> Iterator[Any]:
    """The staff app on the demo contracts (10000001 会員 with two groups, 20000001 事業主)."""
    app = make_app(app_settings, kind="staff")
    try:
        yield app
    finally:
        close_app(app)


@pytest.fixture
def operator(staff_app):
    return staff_client(staff_app, "staff01", [StaffRole.OPERATOR])


def counts(dbsession) -> tuple[int, ...]:
    dbsession.rollback()
    return tuple(
        dbsession.scalar(select(func.count()).select_from(model))
        for model in (Contract, DepositGroup, ModuleEnablement, AuditEvent)
    )


def contract(dbsession, number: str) -> Contract:
    dbsession.rollback()
    return dbsession.scalars(select(Contract).where(Contract.contract_no == number)).one()


def enabled(dbsession, number: str, group_no: str) -> dict[str, dict]:
    group = next(g for g in contract(dbsession, number).deposit_groups if g.group_no == group_no)
    return {e.module_code: e.options for e in group.module_enablements}


def staff_events(dbsession) -> list[AuditEvent]:
    dbsession.rollback()
    return list(
        dbsession.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.actor == "staff01", AuditEvent.action.not_like("staff%")
            )  # no sign-in
            .order_by(AuditEvent.id)
        )
    )


def test_the_list_finds_contracts_by_number_and_name(operator):
    """BANK-1: the operator finds a contract by its number's start or a part of its name."""
    page = operator.get("/staff/contracts")
    assert "10000001" in page.text and "20000001" in page.text
    page = operator.get("/staff/contracts", {"q": "デモ商事"})
    assert "20000001" in page.text and "10000001" not in page.text
    page = operator.get("/staff/contracts", {"q": "1000"})
    assert "10000001" in page.text and "20000001" not in page.text
    assert "該当する契約はありません。" in operator.get("/staff/contracts", {"q": "%"}).text


def test_only_roles_with_contracts_manage_see_and_use_the_screens(staff_app):
    approver = staff_client(staff_app, "staff02", [StaffRole.APPROVER])
    admin = staff_client(staff_app, "staff03", [StaffRole.ADMINISTRATOR])
    for client in (approver, admin):
        assert "契約・モジュール" not in client.get("/staff/").text
        client.get("/staff/contracts", status=403)
        client.get("/staff/contracts/10000001/groups/00000001", status=403)
    assert "契約・モジュール" in staff_client(staff_app, "staff01").get("/staff/").text


def test_a_contract_is_created_with_its_first_group_and_audited(operator, dbsession):
    """BANK-1: number, kind, organisation, the initial password of the 初期パスワード届出書, a group."""
    form = operator.get("/staff/contracts/new").forms["contract-form"]
    form["contract_no"] = "10000002"
    form["kind"] = "member"
    form["organisation_name"] = "新労働組合"
    form["initial_password"] = "Abcd#123"
    form["group_no"] = "00000001"
    form["name_kanji"] = "本部"
    form["name_kana"] = "ﾎﾝﾌﾞ"
    page = form.submit().follow()
    assert "保存しました。" in page.text and "新労働組合" in page.text
    created = contract(dbsession, "10000002")
    assert created.kind == "member"
    assert verify_password(created.initial_password_hash, "Abcd#123")
    assert [g.name_kana for g in created.deposit_groups] == ["ﾎﾝﾌﾞ"]
    events = staff_events(dbsession)
    assert [e.action for e in events] == ["bank.contract.create", "bank.deposit_group.create"]
    assert {(e.actor_kind, e.contract_no) for e in events} == {("bank", "10000002")}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("contract_no", "1234", "契約番号は半角数字8桁で入力してください。"),
        ("contract_no", "10000001", "この契約番号の契約は登録済みです。"),
        ("organisation_name", "", "団体名を入力してください。"),
        ("organisation_name", "団" * 101, "団体名は100文字以内で入力してください。"),
        ("initial_password", "abcdefgh", "初期パスワードは半角英大文字"),
        ("name_kana", "ホンブ", "カナ名は半角カナ"),
        ("kind", "partner", "契約種別は member（会員）か employer（事業主）を指定してください"),
    ],
)
def test_bad_input_on_the_new_contract_screen(operator, dbsession, field, value, message):
    """The screen again, the Japanese message at the field, the input kept, nothing stored."""
    before = counts(dbsession)
    form = operator.get("/staff/contracts/new").forms["contract-form"]
    values = {
        "contract_no": "10000002",
        "kind": "member",
        "organisation_name": "新労働組合",
        "initial_password": "Abcd#123",
        "group_no": "00000001",
        "name_kanji": "本部",
        "name_kana": "ﾎﾝﾌﾞ",
        field: value,
    }
    if field == "kind":
        form["kind"].force_value(value)
        values.pop("kind")
    for name, text in values.items():
        if name != "kind":
            form[name] = text
    page = form.submit(status=200)
    error = page.html.find(id=f"{field}-error")
    assert error is not None and message in error.text, page.text
    for name in ("contract_no", "organisation_name", "group_no", "name_kanji", "name_kana"):
        assert page.forms["contract-form"][name].value == values[name]
    assert page.forms["contract-form"]["initial_password"].value == ""  # never written back
    assert counts(dbsession) == before


def test_changing_a_contract_goes_through_the_bank_file_rules(operator, dbsession):
    """BANK-1: a 事業主 contract takes no 会員 module (労金控除): turning 10000001 into one is refused
    with the message at 契約種別, and nothing is stored."""
    before = counts(dbsession)
    form = operator.get("/staff/contracts/10000001").forms["contract-form"]
    form["kind"] = "employer"
    page = form.submit(status=200)
    error = page.html.find(id="kind-error")
    assert "労金控除（rokin_deduction）は事業主の契約では利用できません。" in error.text
    assert counts(dbsession) == before
    assert contract(dbsession, "10000001").kind == "member"


def test_organisation_name_and_initial_password_change_and_are_audited(operator, dbsession):
    form = operator.get("/staff/contracts/20000001").forms["contract-form"]
    form["organisation_name"] = "株式会社デモ商事（新）"
    form["initial_password"] = "Wxyz#789"
    assert "保存しました。" in form.submit().follow().text
    changed = contract(dbsession, "20000001")
    assert changed.organisation_name == "株式会社デモ商事（新）"
    assert verify_password(changed.initial_password_hash, "Wxyz#789")
    actions = [e.action for e in staff_events(dbsession)]
    assert actions == ["bank.contract.update", "bank.initial_password.change"]
    assert all("Wxyz" not in str(e.details) for e in staff_events(dbsession))


def test_a_blank_initial_password_keeps_the_one_stored(operator, dbsession):
    before = contract(dbsession, "20000001").initial_password_hash
    form = operator.get("/staff/contracts/20000001").forms["contract-form"]
    form.submit().follow()
    assert contract(dbsession, "20000001").initial_password_hash == before
    assert staff_events(dbsession) == []  # nothing changed, nothing audited


def test_a_group_is_added_with_modules_and_options(operator, dbsession):
    form = operator.get("/staff/contracts/10000001/groups/new").forms["group-form"]
    form["group_no"] = "00000003"
    form["name_kanji"] = "西支部"
    form["name_kana"] = "ﾆｼｼﾌﾞ"
    form["module__rokin_deduction"] = True
    form["option__rokin_deduction__detail_update"] = True
    form["module__collective_savings"] = True
    form.submit().follow()
    assert enabled(dbsession, "10000001", "00000003") == {
        "rokin_deduction": {"detail_update": True},
        "collective_savings": {},
    }
    assert [e.action for e in staff_events(dbsession)] == [
        "bank.deposit_group.create",
        "bank.module.enable",
        "bank.module.enable",
    ]


def test_the_group_screen_offers_only_modules_for_the_contract_kind(operator):
    page = operator.get("/staff/contracts/20000001/groups/00000001")
    assert "module__zaikei" in page.forms["group-form"].fields
    assert "module__rokin_deduction" not in page.forms["group-form"].fields


@pytest.mark.parametrize(
    ("number", "field", "value", "message"),
    [
        ("10000001", "group_no", "00000002", "入金グループ 00000002 が重複しています。"),
        ("10000001", "group_no", "0001", "入金グループは半角数字8桁で入力してください。"),
        ("10000001", "name_kana", "ﾆｼ支部", "カナ名は半角カナ"),
        ("10000001", "name_kanji", "", "入金グループ名を入力してください。"),
        ("20000001", "group_no", "00000002", "事業主の契約の入金グループは1つです（001）。"),
    ],
)
def test_bad_input_on_the_new_group_screen(operator, dbsession, number, field, value, message):
    before = counts(dbsession)
    form = operator.get(f"/staff/contracts/{number}/groups/new").forms["group-form"]
    values = {"group_no": "00000003", "name_kanji": "西支部", "name_kana": "ﾆｼｼﾌﾞ", field: value}
    for name, text in values.items():
        form[name] = text
    page = form.submit(status=200)
    error = page.html.find(id=f"{field}-error")
    assert error is not None and message in error.text, page.text
    for name, text in values.items():
        assert page.forms["group-form"][name].value == text
    assert counts(dbsession) == before


def test_the_group_screen_changes_options_and_disables_modules(operator, dbsession):
    form = operator.get("/staff/contracts/10000001/groups/00000001").forms["group-form"]
    assert form["option__rokin_deduction__detail_update"].checked
    form["option__rokin_deduction__detail_update"] = False
    form["module__wage_ledger"] = False
    form.submit().follow()
    assert enabled(dbsession, "10000001", "00000001") == {
        "rokin_deduction": {},
        "collective_savings": {},
    }
    events = staff_events(dbsession)
    assert [e.action for e in events] == ["bank.module.options", "bank.module.disable"]
    assert "wage_ledger" in events[1].details["change"]


def test_an_unknown_contract_or_group_is_404(operator):
    operator.get("/staff/contracts/19999999", status=404)
    operator.get("/staff/contracts/10000001/groups/00000009", status=404)


def test_a_module_disabled_in_the_console_is_gone_at_the_customers_next_request(
    app, operator, dbsession
):
    """BANK-1, SPEC 6: the customer is logged in with 一斉積立 in the menu; the operator disables it
    for the group; the customer's next request has no menu entry and the URLs answer 404."""
    customer = Customer.of(app, dbsession)
    customer.register_master()
    data, _ = customer.issue("master01", PASSWORD, "taro@example.com")
    customer.app.reset()
    customer.use_certificate(data, PASSWORD)
    page = customer.login(PASSWORD)
    page.forms["groups-form"].submit("group_id", index=0).maybe_follow()
    assert "一斉積立事務" in customer.app.get("/info").text
    customer.app.get("/m/collective_savings/outputs", status=200)

    form = operator.get("/staff/contracts/10000001/groups/00000001").forms["group-form"]
    form["module__collective_savings"] = False
    form.submit().follow()

    assert "一斉積立事務" not in customer.app.get("/info").text
    customer.app.get("/m/collective_savings/", status=404)
    customer.app.get("/m/collective_savings/outputs", status=404)
