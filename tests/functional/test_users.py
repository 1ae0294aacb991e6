"""Contract user administration through WebTest: DM493101 契約ユーザー情報照会, registration of a
general user, DM492101 契約ユーザー情報変更 and deletion (ACC-1..8, FLOW-3, FLOW-5, AUTH-2), with
tenancy checked on the server for every request."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import webtest
from conftest import Customer
from cryptography.hazmat.primitives.serialization import pkcs12
from factories import UserFactory
from sqlalchemy import func, select

from core.auth.passwords import verify_password
from core.db.models import (
    AuditEvent,
    Certificate,
    Contract,
    OutboxMessage,
    Role,
    User,
    UserRestriction,
    WebSession,
)
from core.timefmt import JST

PASSWORD = "Passw0rd!"
TEMPORARY = "Temp#1234"
NEW_PASSWORD = "Goro#5678"
GENERAL = {
    "user_id": "goro4567",
    "user_name": "労金　五郎",
    "password": TEMPORARY,
    "email": "goro@example.com",
}
EMPLOYER = {
    "contract_no": "20000001",
    "initial_password": "Demo#002",
    "user_id": "employer01",
    "user_name": "事業　花子",
    "email": "hanako@example.com",
}


def browser(app: Any, dbsession: Any) -> Customer:
    """Another browser (its own cookies and certificate) on the same application."""
    return Customer(
        webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}),
        dbsession,
    )


def log_in(customer: Customer, user_id: str, password: str, email: str) -> Any:
    """FLOW-2 then FLOW-4 for a registered user; the first deposit group chosen; returns the page."""
    customer.app.reset()
    data, _ = customer.issue(user_id, password, email)
    customer.app.reset()
    customer.use_certificate(data, password)
    page = customer.login(password)
    if "groups-form" in page.forms:
        page = page.forms["groups-form"].submit("group_id", index=0).maybe_follow()
    return page


@pytest.fixture
def master(customer: Customer) -> Customer:
    """The master of the member contract 10000001 (two deposit groups), logged in."""
    customer.register_master()
    page = log_in(customer, "master01", PASSWORD, "taro@example.com")
    assert "DC671101" in page.text
    return customer


@pytest.fixture
def employer(app: Any, dbsession: Any, bank: None) -> Customer:
    """The master of the employer contract 20000001 (事業主, 財形), logged in, in its own browser."""
    other = browser(app, dbsession)
    other.register_master(**EMPLOYER, password=PASSWORD)
    page = log_in(other, EMPLOYER["user_id"], PASSWORD, EMPLOYER["email"])
    assert "DC671101" in page.text
    return other


def register_general(master: Customer, **values: str) -> Any:
    """登録へ(F7) on DM493101, the form filled in and 登録 pressed; returns the next page."""
    page = master.app.get("/users").click(description="登録へ").maybe_follow()
    form = page.forms["user-form"]
    values = {**GENERAL, **values}
    form["user_id"] = values["user_id"]
    form["user_name"] = values["user_name"]
    form["password"] = values["password"]
    form["password_confirm"] = values.get("password_confirm", values["password"])
    form["email"] = values["email"]
    form["email_confirm"] = values.get("email_confirm", values["email"])
    for name, value in values.items():
        if name.startswith("restriction_"):
            form[name] = value
    return form.submit().maybe_follow()


def edit(customer: Customer, user_id: str, **values: str) -> Any:
    """DM492101 for ``user_id``: the given fields filled in, 更新(F8) pressed; returns the next page."""
    page = customer.app.get(f"/users/{user_id}")
    form = page.forms["user-form"]
    for name, value in values.items():
        form[name] = value
    return form.submit().maybe_follow()


def user_row(dbsession: Any, user_id: str) -> User:
    dbsession.rollback()
    return dbsession.scalars(select(User).where(User.user_id == user_id)).one()


def mails(dbsession: Any, kind: str, to: str) -> int:
    dbsession.rollback()
    return int(
        dbsession.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == kind, OutboxMessage.to_addr == to)
        )
        or 0
    )


def audit_details(dbsession: Any, action: str) -> list[dict[str, Any]]:
    dbsession.rollback()
    return list(
        dbsession.scalars(
            select(AuditEvent.details).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def general(app: Any, dbsession: Any) -> Customer:
    """The general user goro4567 (registered by the master) through FLOW-3, logged in."""
    user = browser(app, dbsession)
    page = log_in(user, GENERAL["user_id"], TEMPORARY, GENERAL["email"])
    assert "/password/initial" in page.request.path
    form = page.forms["password-form"]
    form["current_password"] = TEMPORARY
    form["new_password"] = NEW_PASSWORD
    form["new_password_confirm"] = NEW_PASSWORD
    page = form.submit().maybe_follow()
    if "groups-form" in page.forms:
        page = page.forms["groups-form"].submit("group_id", index=0).maybe_follow()
    assert "DC671101" in page.text
    return user


def post(customer: Customer, url: str, data: dict[str, str], **kw: Any) -> Any:
    """A hand-crafted POST from the customer's browser (its cookies and a same-site Referer)."""
    return customer.app.post(url, data, headers={"Referer": "https://localhost/users"}, **kw)


def csrf_of(customer: Customer) -> str:
    """The CSRF token of ``customer``'s session, as any of its own forms carries it."""
    return str(customer.app.get("/password").forms["password-form"]["csrf_token"].value)


# --- DM493101 ------------------------------------------------------------------------------------


def test_the_master_sees_every_user_of_its_contract(master, dbsession, clock):
    """DM493101: 抽出件数, the columns, 会員(マスター)/会員(一般), 正常, last login in JST; 登録へ(F7)."""
    register_general(master)
    register_general(master, user_id="hanako8900", user_name="労金　花子", email="h@example.com")
    page = master.app.get("/users")
    assert "DM493101" in page.text and "契約ユーザー情報照会" in page.text
    assert "抽出件数：3件" in page.text
    headers = [th.text for th in page.html.find(id="users-table").find("thead").find_all("th")]
    assert headers == [
        "更新",
        "削除",
        "No",
        "ユーザーID",
        "ユーザー名",
        "権限",
        "状態",
        "ロック/閉塞日時",
        "最終ログイン日時",
    ]
    rows = [
        [td.text.strip() for td in tr.find_all("td")]
        for tr in page.html.find(id="users-table").find("tbody").find_all("tr")
    ]
    assert [row[2:7] for row in rows] == [
        ["1", "master01", "労金　太郎", "会員(マスター)", "正常"],
        ["2", "goro4567", "労金　五郎", "会員(一般)", "正常"],
        ["3", "hanako8900", "労金　花子", "会員(一般)", "正常"],
    ]
    assert [row[0] for row in rows] == ["更新へ"] * 3
    assert [row[1] for row in rows] == ["", "削除", "削除"]  # the master cannot delete itself
    last_login = user_row(dbsession, "master01").last_login_at
    assert rows[0][8] == last_login.astimezone(JST).strftime("%Y/%m/%d %H:%M:%S")
    assert rows[1][8] == ""  # never logged in
    button = page.html.find(id="btn-new")
    assert button.text == "登録へ(F7)" and button["data-fkey"] == "F7"


def test_the_employer_contract_shows_employer_roles(employer):
    """ACC-6: 事業主(マスター) / 事業主(一般) for an employer contract."""
    page = register_general(employer, user_id="saburo1234", email="s@example.com")
    assert "事業主(マスター)" in page.text and "事業主(一般)" in page.text


def test_fkeys_script_is_served_and_binds_the_buttons(master):
    """SPEC 8: F4 一覧へ, F7 登録へ, F8 更新 shown on buttons; a static script (CSP: no inline)."""
    script = master.app.get("/static/fkeys.js")
    assert "javascript" in script.content_type
    assert "data-fkey" in script.text and "keydown" in script.text
    register_general(master)
    page = master.app.get("/users/goro4567")
    assert page.html.find(id="btn-list")["data-fkey"] == "F4"
    assert page.html.find(id="btn-list").text == "一覧へ(F4)"
    assert page.html.find(id="btn-update")["data-fkey"] == "F8"
    assert page.html.find(id="btn-update").text == "更新(F8)"
    new = master.app.get("/users/new")
    assert new.html.find(id="btn-list")["data-fkey"] == "F4"
    assert "<script>" not in page.text  # nothing inline


# --- Registration ------------------------------------------------------------------------------


def test_the_master_registers_a_general_user_with_a_temporary_password(master, dbsession):
    """FLOW-3: the user is general, its password temporary; mailed registered; audited user.create."""
    page = register_general(
        master, restriction_wage_ledger="hide", restriction_rokin_deduction="view_only"
    )
    assert "DM493101" in page.text and "一般ユーザー（goro4567）を登録しました。" in page.text
    user = user_row(dbsession, "goro4567")
    assert user.role == "general" and user.password_is_temporary
    assert user.contract.contract_no == "10000001"
    assert (user.name, user.email) == ("労金　五郎", "goro@example.com")
    assert verify_password(user.password_hash, TEMPORARY)
    levels = {r.module_code: r.level for r in user.restrictions}
    assert levels == {"wage_ledger": "hide", "rokin_deduction": "view_only"}  # 表示: no row
    assert mails(dbsession, "registered", "goro@example.com") == 1
    body = master.mail_body(
        dbsession.scalars(
            select(OutboxMessage).where(OutboxMessage.to_addr == "goro@example.com")
        ).one()
    )
    assert "一般ユーザーとしてご登録" in body and TEMPORARY not in body
    [details] = audit_details(dbsession, "user.create")
    assert details["restrictions"] == levels
    assert TEMPORARY not in str(details)


def test_the_restrictions_offered_are_the_contracts_modules_with_their_levels(master, employer):
    """ACC-7: 労金控除 and 賃控元帳 表示/非表示/閲覧のみ, 一斉積立 and 財形 表示/非表示; 表示 by default."""
    form = master.app.get("/users/new").forms["user-form"]
    offered = {
        name: sorted(option for option, _checked, _text in form.fields[name][0].options)
        for name in form.fields
        if name and name.startswith("restriction_")
    }
    assert offered == {
        "restriction_rokin_deduction": ["hide", "show", "view_only"],
        "restriction_wage_ledger": ["hide", "show", "view_only"],
        "restriction_collective_savings": ["hide", "show"],
    }
    assert all(form[name].value == "show" for name in offered)
    page = master.app.get("/users/new")
    assert "表示" in page.text and "非表示" in page.text and "閲覧のみ" in page.text
    employer_form = employer.app.get("/users/new").forms["user-form"]
    names = [name for name in employer_form.fields if name and name.startswith("restriction_")]
    assert names == ["restriction_zaikei"]
    options = [o for o, _c, _t in employer_form.fields["restriction_zaikei"][0].options]
    assert options == ["show", "hide"]


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"user_id": "abcdef"}, "user_id", "ユーザーIDは半角英字と数字を混在"),  # ACC-1
        ({"user_id": "ab12"}, "user_id", "ユーザーIDは半角英字と数字を混在"),
        ({"user_id": "master01"}, "user_id", "このユーザーIDは既に使用されています"),
        ({"password": "Passw0rdd"}, "password", "パスワードは半角英大文字"),  # ACC-2
        ({"password_confirm": "Temp#9999"}, "password_confirm", "一致しません"),
        ({"user_name": "Goro"}, "user_name", "全角20文字以内"),  # ACC-4
        ({"user_name": "ﾛｳｷﾝ"}, "user_name", "全角20文字以内"),
        ({"user_name": "労" * 21}, "user_name", "全角20文字以内"),
        ({"email": "goro@docomo.ne.jp"}, "email", "携帯電話のメールアドレス"),  # ACC-5
        ({"email": "goro@example"}, "email", "正しく入力"),
        ({"email_confirm": "gor0@example.com"}, "email_confirm", "一致しません"),
    ],
)
def test_registration_rules_answer_next_to_the_field_and_store_nothing(
    master, dbsession, values, field, message
):
    """ACC-1, 2, 4, 5, 8: the screen again, the message next to its field, input kept but passwords."""
    page = register_general(master, **values)
    error = page.html.find(id=f"{field}-error")
    assert error is not None and message in error.text, page.text
    form = page.forms["user-form"]
    assert form["user_name"].value == values.get("user_name", GENERAL["user_name"])
    assert form["email"].value == values.get("email", GENERAL["email"])
    assert form["password"].value == "" and form["password_confirm"].value == ""
    dbsession.rollback()
    count = select(func.count()).select_from(User).where(User.role == "general")
    assert dbsession.scalar(count) == 0
    assert not audit_details(dbsession, "user.create")


def test_the_eleventh_general_user_is_refused(master, dbsession):
    """FLOW-5: at most ten general users per contract; deleted ones do not count."""
    dbsession.rollback()
    contract = dbsession.scalars(select(Contract).where(Contract.contract_no == "10000001")).one()
    dbsession.add_all(
        UserFactory(
            contract=contract,
            user_id=f"user{n:02d}x",
            role=Role.GENERAL,
            password_is_temporary=True,
        )
        for n in range(10)
    )
    dbsession.commit()
    assert "10名まで登録できます" in master.app.get("/users/new").text  # told before typing
    page = register_general(master)
    assert "一般ユーザーは1契約につき10名まで登録できます" in page.text
    assert page.forms["user-form"]["user_id"].value == "goro4567"  # input kept
    dbsession.rollback()
    assert (
        dbsession.scalar(select(func.count()).select_from(User).where(User.user_id == "goro4567"))
        == 0
    )
    assert mails(dbsession, "registered", "goro@example.com") == 0

    page = master.app.get("/users/user03x/delete").forms["delete-form"].submit().maybe_follow()
    assert "削除しました" in page.text
    page = register_general(master)
    assert "一般ユーザー（goro4567）を登録しました。" in page.text
    assert "抽出件数：11件" in page.text  # ten general users and the master


def test_a_deleted_users_id_can_never_be_registered_again(master, dbsession):
    """ACC-1: unique in the whole system, deleted users included."""
    register_general(master)
    master.app.get("/users/goro4567/delete").forms["delete-form"].submit()
    page = register_general(master, email="other@example.com")
    assert "このユーザーIDは既に使用されています" in page.html.find(id="user_id-error").text


def test_a_user_id_of_another_contract_is_taken_too(master, employer):
    """ACC-1: unique in the whole system."""
    page = register_general(employer, user_id="master01")
    assert "このユーザーIDは既に使用されています" in page.text


# --- FLOW-3 end to end -------------------------------------------------------------------------


def test_flow3_general_user_initial_registration(master, app, dbsession):
    """FLOW-3: registered with a temporary password; issuance with it (CERT-3: the .p12 opens with it);
    login with it; forced to change it before anything else; then the information screen."""
    register_general(master)
    user = browser(app, dbsession)
    page = user.app.get("/").click(description="一般ユーザーの初期登録").maybe_follow()
    assert "DC586101" in page.text
    data, filename = user.issue(GENERAL["user_id"], TEMPORARY, GENERAL["email"])
    assert filename.startswith("goro4567") and filename.endswith(".p12")
    key, certificate, _ = pkcs12.load_key_and_certificates(data, TEMPORARY.encode())  # CERT-3
    assert key is not None and certificate is not None
    user.app.reset()
    user.use_certificate(data, TEMPORARY)
    page = user.login(TEMPORARY)
    assert page.request.path == "/password/initial"
    assert "仮のパスワードでログインしました" in page.text
    for url in ("/info", "/users", "/users/goro4567", "/password", "/groups"):
        assert user.app.get(url).maybe_follow().request.path == "/password/initial", url
    form = page.forms["password-form"]
    form["current_password"] = TEMPORARY
    form["new_password"] = NEW_PASSWORD
    form["new_password_confirm"] = NEW_PASSWORD
    page = form.submit().maybe_follow()
    assert "DC590101" in page.text  # 会員 with two deposit groups
    page = page.forms["groups-form"].submit("group_id", index=0).maybe_follow()
    assert "DC671101" in page.text
    assert not user_row(dbsession, "goro4567").password_is_temporary


# --- DM492101 ----------------------------------------------------------------------------------


def test_dm492101_shows_id_and_role_unchangeable_and_the_general_users_fields(master, dbsession):
    """DM492101: ユーザーID and 権限 shown, not changeable; name, password, email, state, restrictions."""
    register_general(master, restriction_wage_ledger="hide")
    page = master.app.get("/users/goro4567")
    assert "DM492101" in page.text and "契約ユーザー情報変更" in page.text
    assert page.html.find(id="user-id").text == "goro4567"
    assert page.html.find(id="user-role").text == "会員(一般)"
    assert "変更しない項目は入力不要です" in page.text
    form = page.forms["user-form"]
    assert "user_id" not in form.fields and "role" not in form.fields
    for name in ("user_name", "password", "password_confirm", "email", "email_confirm", "state"):
        assert name in form.fields, name
    assert form["user_name"].value == "" and form["email"].value == ""  # only what changes
    assert form["state"].value == "normal"
    assert page.html.find(id="state-locked").has_attr("disabled")  # ロック中 cannot be chosen
    assert form["restriction_wage_ledger"].value == "hide"
    assert form["restriction_rokin_deduction"].value == "show"


def test_only_the_fields_entered_change(master, dbsession):
    """DM492101: 「変更しない項目は入力不要です」; nothing entered changes nothing."""
    register_general(master)
    before = user_row(dbsession, "goro4567")
    password_hash, email = before.password_hash, before.email
    page = edit(master, "goro4567", user_name="労金　五郎丸")
    assert "契約ユーザー情報（goro4567）を更新しました。" in page.text
    after = user_row(dbsession, "goro4567")
    assert after.name == "労金　五郎丸"
    assert (after.password_hash, after.email) == (password_hash, email)
    assert audit_details(dbsession, "user.update")[-1]["fields"] == ["user_name"]
    page = edit(master, "goro4567")
    assert "変更する項目を入力（または選択）してください。" in page.text
    assert len(audit_details(dbsession, "user.update")) == 1


def test_dm492101_rules_answer_next_to_the_field(master, dbsession):
    """ACC-2, 4, 5, 8 on DM492101: errors next to the field; nothing stored."""
    register_general(master)
    page = edit(master, "goro4567", user_name="Goro", email="goro@docomo.ne.jp")
    assert "全角20文字以内" in page.html.find(id="user_name-error").text
    assert "携帯電話" in page.html.find(id="email-error").text
    assert page.forms["user-form"]["user_name"].value == "Goro"  # input kept
    page = edit(master, "goro4567", password="Short#1", password_confirm="Short#1")
    assert "パスワードは半角英大文字" in page.html.find(id="password-error").text
    page = edit(master, "goro4567", password="Temp#9999", password_confirm="Temp#8888")
    assert "一致しません" in page.html.find(id="password_confirm-error").text
    assert page.forms["user-form"]["password"].value == ""
    page = edit(master, "goro4567", email="new@example.com")
    assert "一致しません" in page.html.find(id="email_confirm-error").text
    assert user_row(dbsession, "goro4567").name == "労金　五郎"
    assert not audit_details(dbsession, "user.update")


def test_the_master_changes_its_own_name_email_and_password(master, dbsession):
    """DM492101 for the master: no state, no restrictions; its own password is not temporary."""
    page = master.app.get("/users/master01")
    assert page.html.find(id="user-role").text == "会員(マスター)"
    form = page.forms["user-form"]
    assert "state" not in form.fields
    assert not [name for name in form.fields if name and name.startswith("restriction_")]
    page = edit(
        master,
        "master01",
        user_name="組合担当",
        email="kumiai@example.com",
        email_confirm="kumiai@example.com",
        password="N3w#Passw",
        password_confirm="N3w#Passw",
    )
    assert "更新しました" in page.text
    row = user_row(dbsession, "master01")
    assert (row.name, row.email, row.password_is_temporary) == (
        "組合担当",
        "kumiai@example.com",
        False,
    )
    assert verify_password(row.password_hash, "N3w#Passw")
    assert mails(dbsession, "password_changed", "kumiai@example.com") == 1
    [details] = audit_details(dbsession, "user.update")
    assert details["fields"] == ["user_name", "email", "password"]
    assert "N3w#Passw" not in str(details)
    assert "DM493101" in master.app.get("/users").text  # still logged in


def test_a_general_user_sees_only_its_row_and_changes_only_its_name_and_email(
    master, app, dbsession
):
    """ACC-6: its own row, no 登録へ, no 削除; its own name and email; not password, state, restrictions."""
    register_general(master, restriction_wage_ledger="hide")
    register_general(master, user_id="hanako8900", user_name="労金　花子", email="h@example.com")
    user = general(app, dbsession)
    page = user.app.get("/users")
    assert "抽出件数：1件" in page.text and "goro4567" in page.text
    assert "hanako8900" not in page.text and "master01" not in page.text
    assert page.html.find(id="btn-new") is None and "削除" not in page.html.find("tbody").text
    page = page.click(description="更新へ")
    form = page.forms["user-form"]
    assert set(form.fields) - {None} == {"csrf_token", "user_name", "email", "email_confirm"}
    assert "パスワード変更" in page.text  # where to change the password
    form["user_name"] = "労金　吾郎"
    form["email"] = "goro2@example.com"
    form["email_confirm"] = "goro2@example.com"
    page = form.submit().maybe_follow()
    assert "更新しました" in page.text
    row = user_row(dbsession, "goro4567")
    assert (row.name, row.email) == ("労金　吾郎", "goro2@example.com")
    hash_before = row.password_hash
    # A hand-crafted POST with the fields it may not change changes none of them.
    post(
        user,
        "/users/goro4567",
        {
            "csrf_token": csrf_of(user),
            "user_name": "労金　五郎",
            "password": "Hack#1234",
            "password_confirm": "Hack#1234",
            "state": "blocked",
            "restriction_wage_ledger": "show",
        },
    )
    row = user_row(dbsession, "goro4567")
    assert row.name == "労金　五郎"
    assert row.password_hash == hash_before and not row.password_is_temporary
    assert row.blocked_at is None
    assert {r.module_code: r.level for r in row.restrictions} == {"wage_ledger": "hide"}


def test_a_general_user_cannot_reach_the_masters_screens(master, app, dbsession):
    """ACC-6: not /users/new, not another user's DM492101, not deletion — 403, nothing changes."""
    register_general(master)
    register_general(master, user_id="hanako8900", user_name="労金　花子", email="h@example.com")
    user = general(app, dbsession)
    token = csrf_of(user)
    user.app.get("/users/new", status=403)
    post(user, "/users/new", {"csrf_token": token, **GENERAL, "user_id": "evil1234"}, status=403)
    user.app.get("/users/master01", status=403)
    user.app.get("/users/hanako8900", status=403)
    post(
        user,
        "/users/hanako8900",
        {"csrf_token": token, "user_name": "悪意", "state": "blocked"},
        status=403,
    )
    user.app.get("/users/hanako8900/delete", status=403)
    post(user, "/users/hanako8900/delete", {"csrf_token": token}, status=403)
    post(user, "/users/goro4567/delete", {"csrf_token": token}, status=403)
    hanako = user_row(dbsession, "hanako8900")
    assert (hanako.name, hanako.blocked_at, hanako.deleted_at) == ("労金　花子", None, None)
    assert user_row(dbsession, "goro4567").deleted_at is None
    assert (
        dbsession.scalar(select(func.count()).select_from(User).where(User.user_id == "evil1234"))
        == 0
    )


# --- FLOW-5 and AUTH-2 -------------------------------------------------------------------------


def test_flow5_forgotten_password_the_master_sets_a_temporary_one(master, app, dbsession):
    """FLOW-5 (001 ①–⑤): the master sets a new temporary password; the user logs in with its existing
    certificate and that password and must change it at once."""
    register_general(master)
    user = general(app, dbsession)
    page = edit(master, "goro4567", password="Kari#0001", password_confirm="Kari#0001")
    assert "更新しました" in page.text
    row = user_row(dbsession, "goro4567")
    assert row.password_is_temporary and verify_password(row.password_hash, "Kari#0001")
    assert mails(dbsession, "password_reset_by_master", "goro@example.com") == 1
    assert audit_details(dbsession, "user.update")[-1]["fields"] == ["password"]
    # The user's open session ended; it logs in again with the same certificate.
    assert user.app.get("/info").maybe_follow().request.path == "/"
    assert "パスワードが正しくありません" in user.login(NEW_PASSWORD).text  # the old one is gone
    page = user.login("Kari#0001")
    assert page.request.path == "/password/initial"
    form = page.forms["password-form"]
    form["current_password"] = "Kari#0001"
    form["new_password"] = "Mine#0002"
    form["new_password_confirm"] = "Mine#0002"
    page = form.submit().maybe_follow()
    assert "DC590101" in page.text
    dbsession.rollback()
    assert dbsession.scalar(select(func.count()).select_from(Certificate)) == 2  # no new one


def test_auth2_the_master_resets_a_locked_general_user(master, app, dbsession, clock):
    """AUTH-1/AUTH-2: six wrong passwords lock the user; the master sets it back to 正常."""
    register_general(master)
    user = general(app, dbsession)
    user.app.reset()  # a new browser session, the same certificate
    for _ in range(6):
        page = user.login("Wrong#999")
    assert "ロックされています" in page.text
    rows = master.app.get("/users").html.find(id="user-goro4567").find_all("td")
    assert rows[6].text == "ロック中"
    assert rows[7].text == clock.now.astimezone(JST).strftime("%Y/%m/%d %H:%M:%S")
    page = master.app.get("/users/goro4567")
    locked = page.html.find(id="state-locked")  # ロック中: shown as the state, not selectable
    assert locked.has_attr("checked") and locked.has_attr("disabled")
    form = page.forms["user-form"]
    form["state"] = "normal"
    page = form.submit().maybe_follow()
    assert "更新しました" in page.text
    row = user_row(dbsession, "goro4567")
    assert (row.failed_count, row.lock_count, row.locked_until, row.blocked_at) == (
        0,
        0,
        None,
        None,
    )
    assert mails(dbsession, "user_unlocked", "goro@example.com") == 1
    details = audit_details(dbsession, "user.update")[-1]
    assert details["state"] == {"from": "locked", "to": "normal"}
    page = user.login(NEW_PASSWORD)
    assert "DC590101" in page.text


def test_a_lock_shows_only_while_it_lasts(master, app, dbsession, clock):
    """DM493101: ロック中 only while locked_until is in the future."""
    register_general(master)
    dbsession.rollback()
    row = dbsession.scalars(select(User).where(User.user_id == "goro4567")).one()
    row.locked_until = clock.now + dt.timedelta(minutes=30)
    dbsession.commit()
    cells = master.app.get("/users").html.find(id="user-goro4567").find_all("td")
    assert cells[6].text == "ロック中"
    clock.advance(minutes=31)
    cells = master.app.get("/users").html.find(id="user-goro4567").find_all("td")
    assert (cells[6].text, cells[7].text) == ("正常", "")


def test_the_master_suspends_a_user_with_block_and_its_session_ends(master, app, dbsession):
    """FLOW-5: 閉塞 suspends (our design); the open session ends at its next request; 正常 lifts it."""
    register_general(master)
    user = general(app, dbsession)
    assert "DC671101" in user.app.get("/info").text
    page = edit(master, "goro4567", state="blocked")
    assert "更新しました" in page.text
    row = user_row(dbsession, "goro4567")
    assert row.blocked_at is not None
    cells = master.app.get("/users").html.find(id="user-goro4567").find_all("td")
    assert cells[6].text == "閉塞" and cells[7].text
    page = user.app.get("/info").maybe_follow()
    assert page.request.path == "/" and "DC581101" in page.text
    page = user.app.get("/login").maybe_follow()
    assert "閉塞されています" in page.text  # AUTH-5: a blocked user never reaches DC582101
    edit(master, "goro4567", state="normal")
    assert mails(dbsession, "user_unlocked", "goro@example.com") == 1
    assert "DC590101" in user.login(NEW_PASSWORD).text


def test_lock_cannot_be_chosen(master, dbsession):
    """FLOW-5: ロック中 arises only from failures."""
    register_general(master)
    master.app.get("/users/goro4567")
    page = post(master, "/users/goro4567", {"csrf_token": csrf_of(master), "state": "locked"})
    assert "「ロック中」は選択できません" in page.text
    assert user_row(dbsession, "goro4567").locked_until is None


def test_restrictions_change_and_show_removes_the_row(master, dbsession):
    """ACC-7: the master changes a general user's restrictions; 表示 is no row."""
    register_general(master, restriction_wage_ledger="hide")
    edit(
        master, "goro4567", restriction_wage_ledger="show", restriction_rokin_deduction="view_only"
    )
    row = user_row(dbsession, "goro4567")
    assert {r.module_code: r.level for r in row.restrictions} == {"rokin_deduction": "view_only"}
    details = audit_details(dbsession, "user.update")[-1]
    assert details["fields"] == ["restrictions"]
    assert details["restrictions"] == {"rokin_deduction": "view_only", "wage_ledger": "show"}
    page = post(
        master,
        "/users/goro4567",
        {"csrf_token": csrf_of(master), "restriction_collective_savings": "view_only"},
    )
    assert "選択肢から選択してください" in page.text  # 一斉積立: 表示/非表示 only
    dbsession.rollback()
    assert (
        dbsession.scalar(
            select(func.count())
            .select_from(UserRestriction)
            .where(UserRestriction.module_code == "collective_savings")
        )
        == 0
    )


# --- Deletion ------------------------------------------------------------------------------------


def test_deletion_revokes_the_certificate_and_ends_the_session_at_once(master, app, dbsession):
    """FLOW-5: a confirmation, then deleted; certificate revoked; sessions ended; history kept."""
    register_general(master)
    user = general(app, dbsession)
    page = master.app.get("/users").click(description="削除", index=0)
    assert "goro4567" in page.text and "削除します" in page.text
    assert user_row(dbsession, "goro4567").deleted_at is None  # the confirmation changes nothing
    page = page.forms["delete-form"].submit().maybe_follow()
    assert "一般ユーザー（goro4567）を削除しました。" in page.text
    assert "goro4567" not in page.html.find(id="users-table").text
    row = user_row(dbsession, "goro4567")
    assert row.deleted_at is not None
    assert [(c.status, c.revocation_reason) for c in row.certificates] == [
        ("revoked", "privilegeWithdrawn")
    ]
    sessions = select(func.count()).select_from(WebSession).where(WebSession.user_pk == row.id)
    assert dbsession.scalar(sessions) == 0  # ended at once, not at the next request
    assert mails(dbsession, "user_deleted", "goro@example.com") == 1
    actions = set(
        dbsession.scalars(select(AuditEvent.action).where(AuditEvent.target == "goro4567"))
    )
    assert {"user.create", "login.success", "cert.revoke", "user.delete"} <= actions
    assert user.app.get("/info").maybe_follow().request.path == "/"
    master.app.get("/users/goro4567", status=404)  # deleted users are 404
    master.app.get("/users/goro4567/delete", status=404)


def test_the_master_cannot_delete_itself(master, dbsession):
    """FLOW-5 / BANK-4: the bank deletes the master."""
    page = master.app.get("/users/master01/delete").maybe_follow()
    assert "マスターユーザーは削除できません" in page.text
    page = post(master, "/users/master01/delete", {"csrf_token": csrf_of(master)}).maybe_follow()
    assert "マスターユーザーは削除できません" in page.text
    assert user_row(dbsession, "master01").deleted_at is None


# --- Tenancy -------------------------------------------------------------------------------------


def test_a_master_cannot_act_on_another_contracts_users(master, employer, dbsession):
    """Tenancy: another contract's user IDs in a URL or a form are 404 and change nothing."""
    register_general(master)
    token = csrf_of(employer)
    for user_id in ("goro4567", "master01"):
        employer.app.get(f"/users/{user_id}", status=404)
        post(
            employer,
            f"/users/{user_id}",
            {
                "csrf_token": token,
                "user_name": "乗っ取り",
                "password": "Hack#1234",
                "password_confirm": "Hack#1234",
                "state": "blocked",
            },
            status=404,
        )
        employer.app.get(f"/users/{user_id}/delete", status=404)
        post(employer, f"/users/{user_id}/delete", {"csrf_token": token}, status=404)
    page = employer.app.get("/users")
    assert "goro4567" not in page.text and "master01" not in page.text
    assert "抽出件数：1件" in page.text
    goro = user_row(dbsession, "goro4567")
    assert (goro.name, goro.blocked_at, goro.deleted_at) == ("労金　五郎", None, None)
    assert verify_password(goro.password_hash, TEMPORARY)
    assert user_row(dbsession, "master01").name == "労金　太郎"
    assert not audit_details(dbsession, "user.update")
    # A contract field slipped into the registration form is ignored: the user is the employer's.
    form = employer.app.get("/users/new").forms["user-form"]
    page = post(
        employer,
        "/users/new",
        {
            "csrf_token": token,
            "user_id": "sneaky123",
            "user_name": "潜入",
            "password": TEMPORARY,
            "password_confirm": TEMPORARY,
            "email": "s@example.com",
            "email_confirm": "s@example.com",
            "contract_id": str(goro.contract_id),
            "restriction_zaikei": "show",
        },
    ).maybe_follow()
    assert form is not None and "登録しました" in page.text
    assert user_row(dbsession, "sneaky123").contract.contract_no == "20000001"


def test_anonymous_requests_go_to_the_top_page(testapp, bank):
    """AUTH-5: no session, no screen."""
    for url in ("/users", "/users/new", "/users/master01", "/users/master01/delete"):
        assert testapp.get(url).maybe_follow().request.path == "/", url
