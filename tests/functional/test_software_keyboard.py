"""The ソフトウェアキーボード on every password field (SPEC section 8, #15 item 1; 001 p.8, p.9, p.19,
p.25, p.27: each password field of the manuals' screens has its [ソフトウェアキーボード] button and the
paragraph 「ソフトウェアキーボードについて」).

What the server draws: a toggle next to each password field and one keyboard per page, both hidden
until templates/static/softkbd.js shows them (the field works without JavaScript), every character a
password may hold (ACC-2, the 32 記号 of SPEC section 0) on a key a screen reader can name. The
browser test (tests/e2e/test_browser_software_keyboard.py) types and logs in with it.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import webtest
from conftest import MASTER, Customer

from core.rules import SYMBOLS
from core.web.language import LANGUAGE_COOKIE
from core.web.software_keyboard import SYMBOL_NAMES, typable_characters

ABOUT = (
    "パスワードの入力時に、パソコンのキーボードではなく、画面上のキーボードをクリックすることにより"
    "入力する方法です。パソコンのキーボードで入力した情報を盗み取るスパイウェアに効果があるため、"
    "セキュリティの観点からソフトウェアキーボードによるパスワード入力を推奨しています。"
)
SCRIPT = Path(__file__).resolve().parents[2] / "templates" / "static" / "softkbd.js"
TEMPORARY = "Temp#1234"


def keyboard_fields(page: Any) -> list[str]:
    """The names of the page's password fields, after checking each has its hidden toggle and the
    page its one hidden keyboard and the manual's paragraph."""
    fields = page.html.select("input[type=password]")
    keyboards = page.html.select("#softkbd")
    if not fields:
        assert keyboards == [], page.request.path
        return []
    assert len(keyboards) == 1, page.request.path
    assert keyboards[0].has_attr("hidden")
    for field in fields:
        toggle = page.html.select_one(f'button[data-softkbd-for="{field["id"]}"]')
        assert toggle is not None, (page.request.path, field["name"])
        assert toggle["type"] == "button" and toggle.has_attr("hidden")
        assert toggle["aria-controls"] == "softkbd" and toggle["aria-expanded"] == "false"
        assert "ソフトウェアキーボード" in toggle.get_text()
    about = page.html.select_one(".softkbd-about")
    assert about.h2.get_text() == "ソフトウェアキーボードについて"
    assert about.p.get_text() == ABOUT
    return [field["name"] for field in fields]


def test_every_password_field_of_the_customer_screens_has_the_keyboard(customer, app, dbsession):
    """Each screen with a password field (DC583101, DC584101, DC586101, DC582101, the forced change,
    パスワード変更, user registration, DM492101) has the toggle per field; the others have none."""
    seen: dict[str, list[str]] = {}
    app_ = customer.app
    page = app_.get("/register/master").maybe_follow()
    seen["DC583101"] = keyboard_fields(page)
    form = page.forms[0]
    form["contract_no"], form["initial_password"] = MASTER["contract_no"], "Demo#001"
    seen["DC584101"] = keyboard_fields(form.submit().maybe_follow())
    app_.reset()
    customer.register_master()
    app_.reset()
    seen["DC586101"] = keyboard_fields(app_.get("/cert").maybe_follow())
    code_screen = customer.start_issue(MASTER["user_id"], MASTER["password"])
    assert keyboard_fields(code_screen) == []  # the code is no password
    app_.reset()
    data, _ = customer.issue(MASTER["user_id"], MASTER["password"], MASTER["email"])
    app_.reset()
    customer.use_certificate(data, MASTER["password"])
    seen["DC582101"] = keyboard_fields(app_.get("/login").maybe_follow())
    page = customer.login(MASTER["password"])
    page = page.forms["groups-form"].submit("group_id", index=0).maybe_follow()
    assert keyboard_fields(page) == []  # DC671101
    seen["パスワード変更"] = keyboard_fields(app_.get("/password"))
    seen["DM492101"] = keyboard_fields(app_.get(f"/users/{MASTER['user_id']}"))
    page = app_.get("/users/new")
    seen["登録"] = keyboard_fields(page)
    form = page.forms["user-form"]
    for name, value in {
        "user_id": "goro4567",
        "user_name": "労金　五郎",
        "password": TEMPORARY,
        "password_confirm": TEMPORARY,
        "email": "goro@example.com",
        "email_confirm": "goro@example.com",
    }.items():
        form[name] = value
    form.submit().maybe_follow()

    general = Customer(
        webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}),
        dbsession,
    )
    data, _ = general.issue("goro4567", TEMPORARY, "goro@example.com")
    general.app.reset()
    general.use_certificate(data, TEMPORARY)
    page = general.login(TEMPORARY)
    assert page.request.path == "/password/initial"
    seen["強制変更"] = keyboard_fields(page)

    change = ["current_password", "new_password", "new_password_confirm"]
    assert seen == {
        "DC583101": ["initial_password"],
        "DC584101": ["password", "password_confirm"],
        "DC586101": ["password"],
        "DC582101": ["password"],
        "パスワード変更": change,
        "DM492101": ["password", "password_confirm"],
        "登録": ["password", "password_confirm"],
        "強制変更": change,
    }


def test_the_keyboard_holds_every_character_a_password_may_hold(testapp, bank):
    """ACC-2 and SPEC section 0: A–Z, a–z, 0–9 and the 32 記号, each symbol named for a screen
    reader; shift, 1文字削除, クリア and the shuffle option are buttons (or a checkbox) of their own."""
    page = testapp.get("/register/master").maybe_follow()
    keys = page.html.select("#softkbd .softkbd-key")
    typed = {key["data-char"] for key in keys} | {key["data-shifted-char"] for key in keys}
    expected = set(string.ascii_letters + string.digits) | SYMBOLS
    assert typed == expected == typable_characters()
    assert len(SYMBOLS) == 32
    for key in keys:
        assert key.name == "button" and key["type"] == "button"
        if key["data-char"] in SYMBOLS:
            assert key["aria-label"] == SYMBOL_NAMES[key["data-char"]] != key["data-char"]
    controls = page.html.select_one("#softkbd .softkbd-controls")
    actions = [button["data-softkbd-action"] for button in controls.select("button")]
    assert actions == ["shift", "delete", "clear", "close"]
    assert all(button["type"] == "button" for button in controls.select("button"))
    assert controls.select_one("[data-softkbd-shuffle]")["type"] == "checkbox"
    assert not controls.select_one("[data-softkbd-shuffle]").has_attr("name")  # never submitted
    assert page.html.select_one("#softkbd")["data-shuffle"] == "false"


def test_the_keys_are_named_in_english_on_the_english_screens(testapp, bank):
    """SPEC 8, #15: a screen reader reads each key and group in the screen's language."""
    testapp.set_cookie(LANGUAGE_COOKIE, "en")
    page = testapp.get("/register/master").maybe_follow()
    assert page.html.html["lang"] == "en"
    names = {
        key["data-char"]: key["aria-label"] for key in page.html.select("#softkbd .softkbd-key")
    }
    assert names["!"] == "exclamation mark" and names["~"] == "tilde" and names["7"] == "7"
    letter = page.html.select_one('#softkbd .softkbd-key[data-char="q"]')
    assert (letter["data-label"], letter["data-shifted-label"]) == ("lower-case q", "upper-case Q")
    groups = [group["aria-label"] for group in page.html.select("#softkbd .softkbd-group")]
    assert groups == ["Digits", "Letters", "Symbols"]


def test_the_bank_may_start_the_keyboard_shuffled(app_settings):
    """cjs.software_keyboard.shuffle = true: the keyboard opens with its keys in random order."""
    from core.app import close_app, make_app

    app = make_app({**app_settings, "cjs.software_keyboard.shuffle": "true"})
    try:
        client = webtest.TestApp(
            app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
        )
        page = client.get("/register/master").maybe_follow()
        assert page.html.select_one("#softkbd")["data-shuffle"] == "true"
    finally:
        close_app(app)


def test_the_script_keeps_the_value_in_the_field(testapp):
    """The value leaves the field only by the form's own submit: the script stores and sends
    nothing, and is served from 'self' (the CSP allows no inline script)."""
    source = SCRIPT.read_text(encoding="utf-8")
    for api in (
        "fetch(",
        "XMLHttpRequest",
        "sendBeacon",
        "localStorage",
        "sessionStorage",
        "indexedDB",
        "document.cookie",
        "console.",
        "WebSocket",
        ".submit(",
    ):
        assert api not in source, api
    served = testapp.get("/static/softkbd.js")
    assert served.body.decode("utf-8") == source
    page = testapp.get("/")
    assert page.html.select_one('script[src*="softkbd.js"]').has_attr("defer")
