"""The ソフトウェアキーボード in a real browser (SPEC section 8, #15 item 1 and its acceptance).

A new master of the demo member contract registers, gets its certificate and logs in, every password
typed ONLY through the software keyboard (the password inputs are never filled nor typed into):
DC583101's 初期パスワード, DC584101's パスワード (keys shuffled by the option) and its re-entry (keys
pressed from the computer's keyboard: Tab/Enter reach them, as a keyboard or screen-reader user
would), DC586101 and DC582101. The password holds 記号 that are awkward elsewhere (" < & \\ ` ~ | }).
Shift, 1文字削除 and クリア are used on the way. While the keyboard types, the page sends nothing
and stores nothing: the value leaves the field only by the form's own submit. Once logged in, the
page's clock is moved on to show the session timeout notice (AUTH-6) and its ログインを継続する.

The cheroot deployment only (the keyboard is the same page behind nginx). Without Playwright or
/usr/bin/chromium the test is skipped, or fails when ``CI=true``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser import (
    VIEWPORT,
    Problems,
    Screens,
    heading,
    launch_chromium,
    screen,
)

from core.web.software_keyboard import SYMBOL_NAMES

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("e2e_servers", ["direct"], indirect=True),
]

CONTRACT_NO = "10000001"
INITIAL_PASSWORD = "Demo#001"
USER_ID = "master01"
PASSWORD = 'Kb7"<&\\`~|}'
USER_NAME = "労金　太郎"
EMAIL = "taro@example.com"


@pytest.fixture
def chromium_browser(deployment: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Headless Debian Chromium for this deployment (see browser.launch_chromium)."""
    with launch_chromium(deployment, monkeypatch) as chromium:
        yield chromium


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _key_name(char: str) -> str:
    """The accessible name of the key that types ``char`` (shift set accordingly)."""
    if char in SYMBOL_NAMES:
        return SYMBOL_NAMES[char]
    if char.isdigit():
        return char
    return f"英大文字 {char}" if char.isupper() else f"英小文字 {char}"


class SoftwareKeyboard:
    """Types into a password field through the page's software keyboard only."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.keyboard = page.locator("#softkbd")
        self.requests: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))

    def open(self, field: str) -> None:
        toggle = self.page.locator(f'[data-softkbd-for="{field}"]')
        _expect()(toggle).to_be_visible()
        if toggle.get_attribute("aria-expanded") != "true":  # a second press closes it
            toggle.click()
        _expect()(self.keyboard).to_be_visible()
        _expect()(toggle).to_have_attribute("aria-expanded", "true")

    def press(self, name: str, *, from_keyboard: bool) -> None:
        button = self.keyboard.get_by_role("button", name=name, exact=True)
        if from_keyboard:
            button.focus()
            self.page.keyboard.press("Enter")
        else:
            button.click()

    def type(self, field: str, text: str, *, from_keyboard: bool = False) -> None:
        """Open the keyboard of ``field`` and type ``text`` with its keys; shift as needed."""
        self.open(field)
        shift = self.keyboard.locator('[data-softkbd-action="shift"]')
        for char in text:
            wanted = "true" if char.isupper() else "false"
            if char.isalpha() and shift.get_attribute("aria-pressed") != wanted:
                self.press(shift.inner_text(), from_keyboard=from_keyboard)
                _expect()(shift).to_have_attribute("aria-pressed", wanted)
            self.press(_key_name(char), from_keyboard=from_keyboard)
        _expect()(self.page.locator(f"[name={field}]")).to_have_value(text)
        _expect()(self.keyboard.locator("[data-softkbd-count]")).to_have_text(
            f"{len(text)}文字入力済み"
        )

    def close(self) -> None:
        self.keyboard.get_by_role("button", name="閉じる", exact=True).click()
        _expect()(self.keyboard).to_be_hidden()

    def nothing_left_the_field(self) -> None:
        """No request went out while typing; nothing of the page's storage holds the password."""
        assert self.requests == [], self.requests
        stored = self.page.evaluate(
            "() => [localStorage.length, sessionStorage.length, document.cookie]"
        )
        assert stored[:2] == [0, 0] and PASSWORD not in stored[2]


def test_a_password_with_symbols_typed_only_on_the_software_keyboard_logs_in(
    deployment: Any, chromium_browser: Any, tmp_path: Path
) -> None:
    """SPEC section 8, ACC-2, FLOW-1, FLOW-2, FLOW-4: set, issue and log in by software keyboard."""
    expect = _expect()
    shot = Screens("softkbd-")
    problems = Problems()
    base = deployment.base_url.rstrip("/") + "/"
    parts = urlsplit(base)

    first = chromium_browser.new_context(viewport=VIEWPORT, locale="ja-JP", accept_downloads=True)
    first.set_default_timeout(15_000)
    page = first.new_page()
    problems.watch(page)
    page.goto(base)
    page.get_by_role("link", name="マスターユーザーの初期登録").click()

    screen(page, "DC583101")
    expect(page.locator(".softkbd-about h2")).to_have_text("ソフトウェアキーボードについて")
    page.locator("[name=contract_no]").fill(CONTRACT_NO)
    keys = SoftwareKeyboard(page)
    keys.type("initial_password", "x")  # a wrong start: クリア empties the field
    keys.keyboard.get_by_role("button", name="クリア", exact=True).click()
    expect(page.locator("[name=initial_password]")).to_have_value("")
    keys.type("initial_password", INITIAL_PASSWORD + "9")
    keys.keyboard.get_by_role("button", name="1文字削除", exact=True).click()  # one too many
    expect(page.locator("[name=initial_password]")).to_have_value(INITIAL_PASSWORD)
    shot(page, "initial-password")
    keys.nothing_left_the_field()
    page.get_by_role("button", name="次へ").click()

    screen(page, "DC584101")
    keys = SoftwareKeyboard(page)
    keys.open("password")
    in_order = keys.keyboard.locator('[data-softkbd-group="symbols"] .softkbd-key')
    drawn = in_order.evaluate_all("keys => keys.map(key => key.dataset.char)")
    assert drawn == sorted(SYMBOL_NAMES)
    keys.keyboard.get_by_label("キーの配置をランダムにする").check()  # the shuffle option
    shuffled = in_order.evaluate_all("keys => keys.map(key => key.dataset.char)")
    assert sorted(shuffled) == drawn and shuffled != drawn
    keys.type("password", PASSWORD)
    shot(page, "register-shuffled")
    keys.close()
    keys.type("password_confirm", PASSWORD, from_keyboard=True)
    keys.nothing_left_the_field()
    page.locator("[name=user_id]").fill(USER_ID)
    page.locator("[name=user_name]").fill(USER_NAME)
    page.locator("[name=email]").fill(EMAIL)
    page.locator("[name=email_confirm]").fill(EMAIL)
    page.get_by_role("button", name="登録").click()
    heading(page, "マスターユーザー初期登録結果")
    page.get_by_role("link", name="電子証明書発行").click()

    screen(page, "DC586101")
    page.locator("[name=user_id]").fill(USER_ID)
    keys = SoftwareKeyboard(page)
    keys.type("password", PASSWORD)
    keys.nothing_left_the_field()
    page.get_by_role("button", name="認証").click()
    page.locator("[name=code]").fill(deployment.read_code(EMAIL))
    page.get_by_role("button", name="認証").click()
    with page.expect_download(timeout=15_000) as download_info:
        page.get_by_role("button", name="発行").click()
        page.wait_for_url("**/cert/result")
    p12_path = tmp_path / "master01.p12"
    download_info.value.save_as(p12_path)
    first.close()

    second = chromium_browser.new_context(
        viewport=VIEWPORT,
        locale="ja-JP",
        client_certificates=[
            {
                "origin": f"{parts.scheme}://{parts.netloc}",
                "pfxPath": str(p12_path),
                "passphrase": PASSWORD,
            }
        ],
    )
    second.set_default_timeout(15_000)
    second.clock.install()  # the page's timers, for the session timeout notice below
    page = second.new_page()
    problems.watch(page)
    page.goto(base + "login")
    screen(page, "DC582101")
    keys = SoftwareKeyboard(page)
    keys.type("password", PASSWORD)
    shot(page, "login")
    keys.nothing_left_the_field()
    page.get_by_role("button", name="ログイン").click()
    screen(page, "DC590101")  # logged in: the deposit group selection of the member contract
    expect(page.locator("main")).to_contain_text(re.compile(r"登録件数：2件"))

    # AUTH-6, #15 item 6: five minutes before the 60-minute idle limit the notice appears; its
    # ログインを継続する asks the server once (the idle time restarts) and the notice goes away.
    notice = page.locator("#session-timeout")
    expect(notice).to_be_hidden()
    page.clock.fast_forward("54:00")
    expect(notice).to_be_hidden()
    page.clock.fast_forward("01:01")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("まもなく自動的にログアウトします")
    shot(page, "session-timeout-notice")
    with page.expect_response("**/session/keepalive") as kept:
        notice.get_by_role("button", name="ログインを継続する").click()
    assert kept.value.status == 204
    expect(notice).to_be_hidden()
    page.clock.fast_forward("54:00")
    expect(notice).to_be_hidden()  # counted afresh from the keep-alive
    second.close()
    assert problems.items == []
    shot.finish()
