"""FLOW-1 master initial registration: DC583101 → DC584101 → result, with every input rule."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.auth.passwords import verify_password
from core.db.models import AuditEvent, Contract, OutboxMessage, User

GOOD = {
    "user_id": "master01",
    "password": "Passw0rd!",
    "password_confirm": "Passw0rd!",
    "user_name": "労金　太郎",
    "email": "taro@example.com",
    "email_confirm": "taro@example.com",
}


def dc583101(testapp, contract_no="10000001", initial_password="Demo#001"):
    page = testapp.get("/register/master").maybe_follow()
    assert "DC583101" in page.text
    form = page.forms[0]
    form["contract_no"] = contract_no
    form["initial_password"] = initial_password
    return form.submit().maybe_follow()


def dc584101(page, **values):
    form = page.forms[0]
    for name, value in {**GOOD, **values}.items():
        form[name] = value
    return form.submit().maybe_follow()


def count_users(dbsession):
    dbsession.rollback()
    return dbsession.scalar(select(func.count()).select_from(User))


def test_master_registration_from_the_top_page_to_the_result(testapp, bank, dbsession):
    """FLOW-1: the result shows what was registered, the password masked, and leads to issuance."""
    top = testapp.get("/")
    page = top.click(description="マスターユーザーの初期登録").maybe_follow()
    assert "マスターユーザー初期登録ログイン" in page.text
    page = dc583101(testapp)
    assert "DC584101" in page.text
    result = dc584101(page)
    assert "マスターユーザーの登録を完了しました" in result.text
    assert "master01" in result.text and "労金　太郎" in result.text
    assert "Passw0rd!" not in result.text and "********" in result.text
    assert result.html.find(id="btn-cert")["href"].endswith("/cert")
    user = dbsession.scalars(select(User).where(User.user_id == "master01")).one()
    assert (user.role, user.contract.contract_no, user.password_is_temporary) == (
        "master",
        "10000001",
        False,
    )
    assert verify_password(user.password_hash, "Passw0rd!")
    mail = dbsession.scalars(select(OutboxMessage).where(OutboxMessage.kind == "registered")).one()
    assert mail.to_addr == "taro@example.com"
    actions = set(dbsession.scalars(select(AuditEvent.action)))
    assert {"register.initial_password.ok", "register.master"} <= actions


def test_the_result_screen_survives_a_reload(testapp, bank):
    """AUTH-9: reloading the result neither fails nor registers twice."""
    result = dc584101(dc583101(testapp))
    again = testapp.get(result.request.url)
    assert "マスターユーザーの登録を完了しました" in again.text


def test_a_contract_with_a_master_is_refused_with_the_explanation(testapp, bank, dbsession):
    """FLOW-1: once registered, DC583101 refuses the contract until the bank deletes the master."""
    dc584101(dc583101(testapp))
    testapp.reset()
    page = dc583101(testapp)
    assert "マスターユーザーは登録済みです" in page.text
    assert "DC583101" in page.text
    assert count_users(dbsession) == 1


def test_registration_page_needs_the_initial_password_step(testapp, bank):
    """AUTH-9 and FLOW-1: DC584101 cannot be reached by its address alone."""
    page = testapp.get("/register/master/user").maybe_follow()
    assert "DC583101" in page.text


@pytest.mark.parametrize(
    ("contract_no", "initial_password"),
    [("10000001", "Wrong#001"), ("19999999", "Demo#001")],
)
def test_wrong_contract_or_initial_password_says_neither_which(
    testapp, bank, contract_no, initial_password
):
    page = dc583101(testapp, contract_no, initial_password)
    assert "契約番号または初期パスワードが正しくありません。" in page.text
    assert page.forms[0]["contract_no"].value == contract_no  # input kept
    assert page.forms[0]["initial_password"].value == ""  # password not


def test_contract_number_must_be_eight_digits(testapp, bank):
    page = dc583101(testapp, "1234567", "Demo#001")
    assert "契約番号は半角数字8桁で入力してください。" in page.text


def test_initial_password_locks_after_six_failures_and_blocks_at_the_third_lock(
    testapp, bank, clock, dbsession
):
    """AUTH-1 for the initial password, per contract; AUTH-2: audited, shown to bank staff."""
    for _ in range(5):
        assert "正しくありません" in dc583101(testapp, initial_password="Wrong#001").text
    assert "ロックされています" in dc583101(testapp, initial_password="Wrong#001").text
    # Locked: even the right password is refused, and not counted.
    assert "ロックされています" in dc583101(testapp).text
    clock.advance(minutes=60)
    assert "DC584101" in dc583101(testapp).text  # the lock ran out; success resets the counters
    testapp.reset()
    for lock in range(3):
        for _ in range(6):
            page = dc583101(testapp, initial_password="Wrong#001")
        if lock < 2:
            assert "ロックされています" in page.text
            clock.advance(minutes=61)
    assert "閉塞されています" in page.text
    clock.advance(days=400)
    assert "閉塞されています" in dc583101(testapp).text  # no time-based reset of a block
    dbsession.rollback()
    contract = dbsession.scalars(select(Contract).where(Contract.contract_no == "10000001")).one()
    assert contract.initial_blocked_at is not None
    actions = list(dbsession.scalars(select(AuditEvent.action)))
    assert "register.initial_password.blocked_now" in actions
    assert actions.count("register.initial_password.locked_now") == 3


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("user_id", "abc12", "ユーザーIDは半角英字と数字を混在させて6～12文字で入力してください。"),
        (
            "user_id",
            "abcdefgh",
            "ユーザーIDは半角英字と数字を混在させて6～12文字で入力してください。",
        ),
        (
            "user_id",
            "ａｂｃ１２３",
            "ユーザーIDは半角英字と数字を混在させて6～12文字で入力してください。",
        ),
        (
            "password",
            "Passw0rd",
            "パスワードは半角英大文字・英小文字・数字・記号を混在させて8～12文字",
        ),
        ("password", "Pa0!", "パスワードは半角英大文字・英小文字・数字・記号を混在させて8～12文字"),
        (
            "password",
            "Passw0rd!long",
            "パスワードは半角英大文字・英小文字・数字・記号を混在させて8～12文字",
        ),
        (
            "password",
            "Passw0rd !",
            "パスワードは半角英大文字・英小文字・数字・記号を混在させて8～12文字",
        ),
        ("password_confirm", "Passw0rd?", "パスワードと再入力したパスワードが一致しません。"),
        ("user_name", "ﾛｳｷﾝ ﾀﾛｳ", "ユーザー名は全角20文字以内で入力してください。"),
        ("user_name", "Taro", "ユーザー名は全角20文字以内で入力してください。"),
        ("user_name", "あ" * 21, "ユーザー名は全角20文字以内で入力してください。"),
        ("email", "taro@example", "メールアドレスは半角50文字以内で正しく入力してください。"),
        (
            "email",
            "a" * 40 + "@example.com",
            "メールアドレスは半角50文字以内で正しく入力してください。",
        ),
        ("email", "taro@docomo.ne.jp", "携帯電話のメールアドレスはご利用いただけません。"),
        (
            "email_confirm",
            "taro@example.org",
            "メールアドレスと再入力したメールアドレスが一致しません。",
        ),
        ("user_id", "", "ユーザーIDを入力してください。"),
    ],
)
def test_each_input_rule_answers_next_to_its_field_and_stores_nothing(
    testapp, bank, dbsession, field, value, message
):
    """ACC-1, ACC-2, ACC-4, ACC-5, ACC-8."""
    page = dc584101(dc583101(testapp), **{field: value})
    assert "DC584101" in page.text
    error = page.html.find(id=f"{field}-error")
    assert error is not None and message in error.text
    form = page.forms[0]
    for name in ("user_id", "user_name", "email", "email_confirm"):
        assert form[name].value == {**GOOD, field: value}[name]  # input kept
    assert form["password"].value == "" and form["password_confirm"].value == ""
    assert count_users(dbsession) == 0


def test_a_full_width_space_is_allowed_in_a_user_name(testapp, bank, dbsession):
    """ACC-4: 「労金　五郎」."""
    dc584101(dc583101(testapp), user_name="労金　五郎")
    dbsession.rollback()
    assert dbsession.scalars(select(User.name)).one() == "労金　五郎"


def test_a_user_id_in_use_is_refused(testapp, bank, dbsession):
    """ACC-1: unique in the whole system."""
    dc584101(dc583101(testapp))
    testapp.reset()
    page = dc583101(testapp, "20000001", "Demo#002")
    page = dc584101(page)
    assert "このユーザーIDは既に使用されています" in page.text
    assert count_users(dbsession) == 1
    assert "MASTER01" not in page.text
    page = dc584101(page, user_id="MASTER01")  # case-sensitive: a different ID
    assert "マスターユーザーの登録を完了しました" in page.text


def test_a_post_without_the_csrf_token_is_refused(testapp, bank):
    page = testapp.get("/register/master").maybe_follow()
    testapp.post(
        page.request.url, {"contract_no": "10000001", "initial_password": "Demo#001"}, status=400
    )
