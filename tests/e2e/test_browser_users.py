"""User administration in a real browser: the master and a general user, two client certificates.

Two runs (``WALKS``): in Japanese with cheroot directly, in English behind nginx (the browsers ask
for it: Accept-Language; the texts awaited are the catalogue's). Debian's Chromium driven by
Playwright, the browser contexts of two people on two PCs:

A. The master (demo member contract 10000001): registration (DC583101 → DC584101) and issuance
   (DC586101 → the code mailed to it → 発行 → the ``.p12``) in a context without a certificate;
   then a context with that ``.p12``: login → DC590101 → DC671101 → システム管理機能 → 契約ユーザー
   情報照会 (DM493101) → **F7** (登録へ(F7)) → 契約ユーザー登録 → **F4** (一覧へ(F4)) back to the
   list → F7 again → a general user with a temporary password and ユーザー別機能制限 労金控除 閲覧のみ,
   一斉積立 非表示, 賃控元帳 表示 (ACC-7) → 登録 → DM493101 shows it, 会員(一般), 正常.
B. The general user, on its own PC (FLOW-3): top page → 一般ユーザーの初期登録 → DC586101 with its user
   ID and the temporary password → the code mailed to *its* address → 発行 → its ``.p12``, whose
   passphrase is the temporary password (CERT-3); a context with it logs in with the temporary
   password and lands on the forced パスワード変更 (no menu; /info leads back to it); after the change:
   DC590101 → DC671101, whose menu bar shows 労金控除事務 and 賃控元帳事務 but not 一斉積立事務 (ACC-7;
   the master's shows all three) and no 操作ログ照会; DM493101 shows its own row only, without 登録へ,
   and /users/new answers 403 (ACC-6).
A. The master resets the forgotten password (FLOW-5): DM492101 of the general user → a new temporary
   password → **F8** (更新(F8)) → DM493101 「…を更新しました」; the general user is mailed.
B. The general user's session has ended; its existing certificate and the old password are refused
   at DC582101, the new temporary password logs in and forces a change again; then DC671101.

Every page must load without a console error, a CSP violation, an uncaught script error or an HTTP
error answer (the 403 above is asked for through the context's API client, not a page). Screenshots
of every screen at a desktop's and a phone's width go to
``var/screens/<ja|en>/<desktop|phone>/users-NN-name.png``; ``CJS_DOCS_IMAGES=1`` copies those of
docs/customer-guide.md's chapter 7 to docs/images from the Japanese run.

Without Playwright or /usr/bin/chromium the test is skipped, or fails when ``CI=true``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser import (
    JAPANESE_LANGUAGE,
    VIEWPORT,
    Language,
    Laps,
    Problems,
    Screens,
    certificate_came_through_tls,
    csp_violations_are_seen,
    export_doc_images,
    heading,
    launch_chromium,
    screen,
)
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

pytestmark = [pytest.mark.e2e]

CONTRACT_NO = "10000001"
INITIAL_PASSWORD = "Demo#001"
GROUP = ("00000002", "東支部")  # the second deposit group of the demo member contract

MASTER_ID = "master01"
MASTER_PASSWORD = "Passw0rd!"
MASTER_NAME = "労金　太郎"
MASTER_EMAIL = "taro@example.com"

GENERAL_ID = "ippan01"
GENERAL_NAME = "労金　花子"
GENERAL_EMAIL = "hanako@example.com"
TEMPORARY_PASSWORD = "Kari#Pass1"  # the master's: the .p12 passphrase too (CERT-3)
GENERAL_PASSWORD = "Hanako#001"  # the general user's own, after FLOW-3
RESET_PASSWORD = "Kari#Pass2"  # the master's new temporary one (FLOW-5)
GENERAL_PASSWORD_2 = "Hanako#002"

#: ユーザー別機能制限 (ACC-7) of the general user, by module code; 賃控元帳 stays 表示.
RESTRICTIONS = {"rokin_deduction": "view_only", "collective_savings": "hide"}
MENUS_SHOWN = ("労金控除事務", "賃控元帳事務")
MENU_HIDDEN = "一斉積立事務"
#: Two messages the walk waits for (catalogue msgids: the walk shows them in its language).
ISSUE_CONFIRM = "ユーザーID %(id)s の電子証明書を発行します。「発行」ボタンを押してください。"
TEMPORARY_LOGIN = (
    "仮のパスワードでログインしました。ご利用の前に、ご自身で決めたパスワードに変更してください。"
)
#: The data the screens show in Japanese whatever the language: the customers' names.
DATA = (MASTER_NAME, GENERAL_NAME, *GROUP, "デモ労働組合連合会")

#: Screenshots docs/customer-guide.md shows (chapter 7): ``CJS_DOCS_IMAGES=1`` copies them.
DOC_IMAGES = {
    "master-users": "dm493101-users.png",
    "master-register": "users-register.png",
    "master-registered": "dm493101-registered.png",
    "general-issue-password": "users-general-issue.png",
    "general-password-initial": "users-password-initial.png",
    "general-info": "users-general-info.png",
    "general-users": "dm493101-general.png",
    "master-edit": "dm492101-edit.png",
}


@pytest.fixture
def chromium_browser(deployment: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Headless Debian Chromium for this deployment (see browser.launch_chromium)."""
    with launch_chromium(deployment, monkeypatch) as chromium:
        yield chromium


# --- Steps ---------------------------------------------------------------------------------------


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _fill(page: Any, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.locator(f"[name={name}]").fill(value)


def _open_menu(page: Any, menu: str, item: str, t: Language = JAPANESE_LANGUAGE) -> None:
    """A submenu link of the menu bar: its heading is a disclosure button that opens it."""
    page.locator(".menu-bar").get_by_role("button", name=t(menu), exact=True).click()
    page.locator(".menu-bar").get_by_role("link", name=t(item), exact=True).click()


def _menu_titles(page: Any) -> list[str]:
    """The top-level entries of the menu bar, as their own text (submenus left out)."""
    titles: list[str] = page.locator(".menu-bar > ul > li").evaluate_all(
        "items => items.map(li => (li.firstChild && li.firstChild.textContent || '').trim())"
    )
    return titles


def _wait_for_mail(
    deployment: Any, to: str, subject: str, t: Language = JAPANESE_LANGUAGE, timeout: float = 10.0
) -> None:
    """A mail to ``to`` whose subject contains ``subject`` (the msgid) arrives, in Japanese or in
    the walk's language (the language of a mail is the addressee's: core/mail); the sender thread
    polls."""
    deadline = time.monotonic() + timeout
    service = t("ろうきん賃金控除事務支援サービス")  # a mail's subject: 【service】subject
    wanted = {subject, t(f"【%(service_name)s】{subject}", service_name=service)}
    while True:
        subjects = [str(m["Subject"]) for m in deployment.mails(to)]
        if any(w in s for s in subjects for w in wanted):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail {subject!r} to {to} within {timeout} s: {subjects}")
        time.sleep(0.05)


def _issue(
    page: Any, deployment: Any, shot: Screens, who: str, user_id: str, password: str, email: str
) -> Any:
    """DC586101 (reached already) → the mailed code → 発行 → the download; returns the download."""
    expect = _expect()
    t = shot.language
    screen(page, "DC586101")
    _fill(page, {"user_id": user_id, "password": password})
    shot(page, f"{who}-issue-password")
    page.get_by_role("button", name=t("認証")).click()
    heading(page, t("認証コード入力"))
    page.locator("[name=code]").fill(deployment.read_code(email))  # the mail the SMTP server got
    shot(page, f"{who}-issue-code")
    page.get_by_role("button", name=t("認証")).click()
    heading(page, t("電子証明書発行"))
    expect(page.locator("main")).to_contain_text(t(ISSUE_CONFIRM, id=user_id))
    with page.expect_download(timeout=15_000) as download_info:
        page.get_by_role("button", name=t("発行")).click()
        page.wait_for_url("**/cert/result")
        heading(page, t("電子証明書発行結果"))
        shot(page, f"{who}-issue-result")
    download = download_info.value
    assert download.failure() is None
    assert re.fullmatch(rf"{user_id}\d{{14}}\.p12", download.suggested_filename)  # CERT-3
    return download


def _save_p12(download: Any, folder: Path, user_id: str, passphrase: str) -> Path:
    """Save the download; check it opens with ``passphrase`` and names ``user_id`` (CERT-2/3)."""
    path = folder / download.suggested_filename
    download.save_as(path)
    key, certificate, _chain = pkcs12.load_key_and_certificates(
        path.read_bytes(), passphrase.encode()
    )
    assert key is not None and certificate is not None
    common_name = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert str(common_name).startswith(user_id)
    return path


def _login(page: Any, base: str, password: str, t: Language = JAPANESE_LANGUAGE) -> None:
    """Top page → ログイン → DC582101 (the certificate names the user) → the password."""
    expect = _expect()
    page.goto(base)
    screen(page, "DC581101")
    page.get_by_role("link", name=t("ログイン"), exact=True).click()
    screen(page, "DC582101")
    expect(page.locator("[name=user_id]")).to_have_count(0)
    page.locator("[name=password]").fill(password)
    page.get_by_role("button", name=t("ログイン")).click()


def _choose_group(page: Any, t: Language = JAPANESE_LANGUAGE) -> None:
    """DC590101 → the group → DC671101 with the group in the header."""
    expect = _expect()
    screen(page, "DC590101")
    chosen = page.locator("#groups-form tr", has_text=GROUP[1])
    chosen.get_by_role("button", name=t("選択")).click()
    screen(page, "DC671101")
    expect(page.locator("header .header-status")).to_contain_text(f"{GROUP[0]} {GROUP[1]}")


def _forced_change(page: Any, base: str, current: str, new: str, shot: Screens, name: str) -> None:
    """FLOW-3: the temporary password leads to パスワード変更 and nowhere else until changed."""
    expect = _expect()
    t = shot.language
    page.wait_for_url("**/password/initial")
    heading(page, t("パスワード変更"))
    expect(page.get_by_role("status")).to_contain_text(t(TEMPORARY_LOGIN))
    expect(page.locator(".menu-bar")).to_have_count(0)  # no menu before the change
    answer = page.goto(base + "info")  # anything else leads back here
    page.wait_for_url("**/password/initial")
    assert answer is not None and answer.request.redirected_from is not None
    assert answer.request.redirected_from.url == base + "info"
    heading(page, t("パスワード変更"))
    page.goto(base + "users")
    page.wait_for_url("**/password/initial")
    _fill(page, {"current_password": current, "new_password": new, "new_password_confirm": new})
    shot(page, name)
    page.get_by_role("button", name=t("変更")).click()


def role(t: Language, which: str) -> str:
    """権限 (ACC-6) as DM493101 shows it for a member contract: 会員(マスター), 会員(一般)."""
    return t("${kind}(${role})", kind=t("会員"), role=t(which))


def _fkey_button(page: Any, selector: str, key: str) -> None:
    """SPEC section 8: the button carries the key and shows it."""
    expect = _expect()
    button = page.locator(selector)
    expect(button).to_have_attribute("data-fkey", key)
    expect(button).to_contain_text(f"({key})")


# --- The walk ------------------------------------------------------------------------------------


#: (deployment, language) of each walk: Japanese directly, English behind nginx (whose walk
#: photographs the English screens: nginx changes no screen, and one walk per language is enough).
WALKS = [
    pytest.param("direct", "ja", id="direct-ja"),
    pytest.param("nginx", "en", id="nginx-en"),
]


@pytest.mark.parametrize(("e2e_servers", "language"), WALKS, indirect=["e2e_servers"])
def test_the_master_and_a_general_user_in_two_browsers(
    deployment: Any, chromium_browser: Any, tmp_path: Path, language: str
) -> None:
    """FLOW-3, FLOW-5, ACC-6, ACC-7 and the F-keys (SPEC section 8) over real TLS, in Japanese
    and in English (the browser asks for it: Accept-Language)."""
    expect = _expect()
    t = Language(language)
    name = deployment.mode
    shot = Screens("users-", t, data=DATA)
    problems = Problems()
    base = deployment.base_url.rstrip("/") + "/"
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}"
    laps = Laps()

    def context(p12: Path | None = None, passphrase: str = "") -> tuple[Any, Any]:
        options: dict[str, Any] = {"viewport": VIEWPORT, "locale": t.locale}
        if p12 is None:
            options["accept_downloads"] = True
        else:
            options["client_certificates"] = [
                {"origin": origin, "pfxPath": str(p12), "passphrase": passphrase}
            ]
        new = chromium_browser.new_context(**options)
        new.set_default_timeout(15_000)
        page = new.new_page()
        problems.watch(page)
        return new, page

    # A. The master: registration and issuance without a certificate.
    registering, page = context()
    csp_violations_are_seen(registering, base)
    page.goto(base)
    screen(page, "DC581101")
    page.get_by_role("link", name=t("マスターユーザーの初期登録")).click()
    screen(page, "DC583101")
    _fill(page, {"contract_no": CONTRACT_NO, "initial_password": INITIAL_PASSWORD})
    page.get_by_role("button", name=t("次へ")).click()
    screen(page, "DC584101")
    _fill(
        page,
        {
            "user_id": MASTER_ID,
            "password": MASTER_PASSWORD,
            "password_confirm": MASTER_PASSWORD,
            "user_name": MASTER_NAME,
            "email": MASTER_EMAIL,
            "email_confirm": MASTER_EMAIL,
        },
    )
    page.get_by_role("button", name=t("登録")).click()
    heading(page, t("マスターユーザー初期登録結果"))
    shot(page, "master-registered-self")
    page.get_by_role("link", name=t("電子証明書発行")).click()
    download = _issue(page, deployment, shot, "master", MASTER_ID, MASTER_PASSWORD, MASTER_EMAIL)
    master_p12 = _save_p12(download, tmp_path, MASTER_ID, MASTER_PASSWORD)
    registering.close()
    laps("master: registration and issuance")

    # A. The master with its certificate: DM493101 → F7 → a general user with restrictions.
    master, mpage = context(master_p12, MASTER_PASSWORD)
    _login(mpage, base, MASTER_PASSWORD, t)
    _choose_group(mpage, t)
    master_menus = _menu_titles(mpage)
    for title in (*MENUS_SHOWN, MENU_HIDDEN, "システム管理機能"):
        assert t(title) in master_menus, master_menus
    _open_menu(mpage, "システム管理機能", "契約ユーザー情報照会", t)
    screen(mpage, "DM493101")
    heading(mpage, t("契約ユーザー情報照会"))
    expect(mpage.locator("main")).to_contain_text(t("抽出件数：%(count)s件", count=1))
    expect(mpage.locator(f"#user-{MASTER_ID}")).to_contain_text(role(t, "マスター"))
    _fkey_button(mpage, "#btn-new", "F7")
    shot(mpage, "master-users")

    mpage.keyboard.press("F7")  # 登録へ(F7)
    mpage.wait_for_url("**/users/new")
    heading(mpage, t("契約ユーザー登録"))
    _fkey_button(mpage, "#btn-list", "F4")
    mpage.keyboard.press("F4")  # 一覧へ(F4)
    mpage.wait_for_url(re.compile(r"/users$"))
    screen(mpage, "DM493101")
    mpage.keyboard.press("F7")
    mpage.wait_for_url("**/users/new")
    heading(mpage, t("契約ユーザー登録"))
    restrictions = mpage.locator("#restrictions")
    for module in ("労金控除", "賃控元帳", "一斉積立"):  # 001 p.27: 賃控元帳 on the user screens
        expect(restrictions).to_contain_text(t(module))
    # 一斉積立 offers 表示 / 非表示 only (ACC-7)
    expect(mpage.locator("[name=restriction_collective_savings]")).to_have_count(2)
    expect(mpage.locator("[name=restriction_rokin_deduction]")).to_have_count(3)
    _fill(
        mpage,
        {
            "user_id": GENERAL_ID,
            "user_name": GENERAL_NAME,
            "password": TEMPORARY_PASSWORD,
            "password_confirm": TEMPORARY_PASSWORD,
            "email": GENERAL_EMAIL,
            "email_confirm": GENERAL_EMAIL,
        },
    )
    for code, level in RESTRICTIONS.items():
        mpage.locator(f"[name=restriction_{code}][value={level}]").check()
    expect(mpage.locator("[name=restriction_wage_ledger][value=show]")).to_be_checked()
    shot(mpage, "master-register")
    mpage.locator("#btn-register").click()

    mpage.wait_for_url(re.compile(r"/users$"))
    screen(mpage, "DM493101")
    expect(mpage.get_by_role("status")).to_contain_text(
        t("一般ユーザー（${user_id}）を登録しました。", user_id=GENERAL_ID)
    )
    expect(mpage.locator("main")).to_contain_text(t("抽出件数：%(count)s件", count=2))
    row = mpage.locator(f"#user-{GENERAL_ID}")
    expect(row).to_contain_text(GENERAL_NAME)
    expect(row).to_contain_text(role(t, "一般"))
    expect(row.locator("td").nth(6)).to_have_text(t("正常"))
    expect(row.get_by_role("link", name=t("削除"))).to_be_visible()
    delete = mpage.locator(f"#user-{MASTER_ID}").get_by_role("link", name=t("削除"))
    expect(delete).to_have_count(0)
    shot(mpage, "master-registered")
    _wait_for_mail(deployment, GENERAL_EMAIL, "ユーザー登録完了のお知らせ", t)
    laps("master: login, F7/F4, registration")

    # B. The general user on its own PC: 一般ユーザーの初期登録 → its certificate.
    issuing, gpage = context()
    gpage.goto(base)
    screen(gpage, "DC581101")
    gpage.get_by_role("link", name=t("一般ユーザーの初期登録")).click()
    download = _issue(
        gpage, deployment, shot, "general", GENERAL_ID, TEMPORARY_PASSWORD, GENERAL_EMAIL
    )
    general_p12 = _save_p12(download, tmp_path, GENERAL_ID, TEMPORARY_PASSWORD)
    issuing.close()
    laps("general: issuance")

    # B. Login with the temporary password: forced change (FLOW-3), then the restricted menu.
    general, gpage = context(general_p12, TEMPORARY_PASSWORD)
    _login(gpage, base, TEMPORARY_PASSWORD, t)
    _forced_change(
        gpage, base, TEMPORARY_PASSWORD, GENERAL_PASSWORD, shot, "general-password-initial"
    )
    _choose_group(gpage, t)
    expect(gpage.get_by_role("status")).to_contain_text(t("パスワードを変更しました。"))
    menus = _menu_titles(gpage)
    for title in MENUS_SHOWN:
        assert t(title) in menus, menus  # 表示 and 閲覧のみ keep the menu (ACC-7)
    assert t(MENU_HIDDEN) not in menus, menus  # 非表示 hides it
    expect(gpage.locator(".menu-bar")).not_to_contain_text(t("操作ログ照会"))  # the master's only
    expect(gpage.locator("header .header-status")).to_contain_text(
        t("%(name)s（%(user_id)s）", name=GENERAL_NAME, user_id=GENERAL_ID)
    )
    shot(gpage, "general-info")
    _open_menu(gpage, "システム管理機能", "契約ユーザー情報照会", t)
    screen(gpage, "DM493101")
    # its own row only (ACC-6)
    expect(gpage.locator("main")).to_contain_text(t("抽出件数：%(count)s件", count=1))
    expect(gpage.locator("#users-table tbody tr")).to_have_count(1)
    expect(gpage.locator(f"#user-{GENERAL_ID}")).to_be_visible()
    expect(gpage.locator("#btn-new")).to_have_count(0)
    shot(gpage, "general-users")
    for path in ("users/new", f"users/{MASTER_ID}", f"users/{GENERAL_ID}/delete"):
        answer = general.request.get(base + path, max_redirects=0)
        assert answer.status == 403, (path, answer.status)  # the server refuses, not the menu
    laps("general: login, forced change, restrictions")

    # A. The general user forgot its password: the master sets a new temporary one (FLOW-5).
    mpage.locator(f"#user-{GENERAL_ID}").get_by_role("link", name=t("更新へ")).click()
    screen(mpage, "DM492101")
    expect(mpage.locator("#user-id")).to_have_text(GENERAL_ID)
    expect(mpage.locator("#state-normal")).to_be_checked()
    expect(mpage.locator("#state-locked")).to_be_disabled()
    for code, level in RESTRICTIONS.items():
        expect(mpage.locator(f"[name=restriction_{code}][value={level}]")).to_be_checked()
    _fkey_button(mpage, "#btn-update", "F8")
    _fill(mpage, {"password": RESET_PASSWORD, "password_confirm": RESET_PASSWORD})
    shot(mpage, "master-edit")
    mpage.keyboard.press("F8")  # 更新(F8)
    mpage.wait_for_url(re.compile(r"/users$"))
    screen(mpage, "DM493101")
    expect(mpage.get_by_role("status")).to_contain_text(
        t("契約ユーザー情報（${user_id}）を更新しました。", user_id=GENERAL_ID)
    )
    shot(mpage, "master-updated")
    _wait_for_mail(deployment, GENERAL_EMAIL, "仮パスワード設定のお知らせ", t)
    laps("master: DM492101, F8")

    # B. Its session ended; the existing certificate and the new temporary password log in.
    gpage.goto(base + "info")
    screen(gpage, "DC581101")
    _login(gpage, base, GENERAL_PASSWORD, t)  # the old password is no longer valid
    screen(gpage, "DC582101")
    expect(gpage.get_by_role("alert")).to_contain_text(t("パスワードが正しくありません。"))
    shot(gpage, "general-old-password")
    gpage.locator("[name=password]").fill(RESET_PASSWORD)
    gpage.get_by_role("button", name=t("ログイン")).click()
    _forced_change(gpage, base, RESET_PASSWORD, GENERAL_PASSWORD_2, shot, "general-password-again")
    _choose_group(gpage, t)
    expect(gpage.get_by_role("status")).to_contain_text(t("パスワードを変更しました。"))
    gpage.locator("#logout").get_by_role("button", name=t("ログアウト")).click()
    screen(gpage, "DC581101")
    general.close()

    # A. The master's list: still 正常, the last login of the general user shown.
    mpage.reload()
    row = mpage.locator(f"#user-{GENERAL_ID}")
    expect(row.locator("td").nth(6)).to_have_text(t("正常"))
    expect(row.locator("td").nth(8)).to_have_text(re.compile(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d"))
    mpage.locator("#logout").get_by_role("button", name=t("ログアウト")).click()
    screen(mpage, "DC581101")
    master.close()
    laps("general: reset password, forced change again")

    assert problems.items == []
    certificate_came_through_tls(deployment)  # both users' /info
    certificate_came_through_tls(deployment, "/users")
    for item in problems.tolerated:
        print(f"\ntolerated: {item}")
    if language == "ja" and os.environ.get("CJS_DOCS_IMAGES") == "1":
        export_doc_images(shot.paths["desktop"], DOC_IMAGES)
    print(f"\n{name} {language}: {laps}; {shot}")
    shot.finish()
