"""SPEC 8, #15 item 3: the customer screens in Japanese by default, in English by the browser's
Accept-Language or by the header's switch, whose choice a cookie keeps."""

from __future__ import annotations

import pytest
from conftest import MASTER
from pyramid.request import Request

from core.web.language import LANGUAGE_COOKIE, is_local_path, negotiate_locale


def switch_link(page):
    """The header's link to the other language."""
    return page.html.find("a", class_="language-switch")


def test_japanese_is_the_default(testapp):
    page = testapp.get("/")
    assert page.html.html["lang"] == "ja"
    assert page.html.find(id="btn-login").text == "ログイン"
    assert switch_link(page).text == "English" and switch_link(page)["lang"] == "en"


@pytest.mark.parametrize("header", ["en", "en-US,en;q=0.9,ja;q=0.8", "fr, en-GB;q=0.5"])
def test_accept_language_english_gives_the_top_page_in_english(testapp, header):
    page = testapp.get("/", headers={"Accept-Language": header})
    assert page.html.html["lang"] == "en"
    assert "DC581101" in page.text  # screen IDs stay as they are
    assert page.html.find(id="btn-login").text.strip() == "Log in"
    assert page.html.h1.text == "Login screen"
    assert "Register on the computer you will use the service from." in page.text
    assert page.html.find(id="btn-cert").text == "Issue client certificate"
    assert (
        "Service hours: Mon–Fri 8:00–20:00 (except national holidays, the New Year holidays)"
        in (" ".join(page.html.footer.text.split()))
    )
    assert switch_link(page).text == "日本語" and switch_link(page)["lang"] == "ja"


@pytest.mark.parametrize("header", ["ja", "ja,en;q=0.9", "en;q=0.5, ja", "fr, de", "en;q=0, *"])
def test_accept_language_without_english_first_stays_japanese(testapp, header):
    assert testapp.get("/", headers={"Accept-Language": header}).html.html["lang"] == "ja"


def test_the_switch_keeps_english_and_returns_to_the_screen(testapp):
    page = testapp.get("/register/master").maybe_follow()
    back_to = page.request.path_qs
    switched = testapp.get(switch_link(page)["href"], status=302)
    assert switched.location.endswith(back_to)
    cookie = switched.headers["Set-Cookie"]
    assert cookie.startswith(f"{LANGUAGE_COOKIE}=en;")
    attributes = {attribute.strip().lower() for attribute in cookie.split(";")}
    assert {"secure", "samesite=lax", "path=/"} <= attributes and "httponly" not in attributes
    # Later requests, without Accept-Language, stay English; the cookie beats the header.
    assert testapp.get("/").html.html["lang"] == "en"
    assert testapp.get("/", headers={"Accept-Language": "ja"}).html.html["lang"] == "en"
    # And back to Japanese through the same switch.
    testapp.get(switch_link(testapp.get("/"))["href"], status=302)
    assert testapp.get("/", headers={"Accept-Language": "en"}).html.html["lang"] == "ja"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "",
    ],
)
def test_the_switch_refuses_to_return_off_site(testapp, target):
    response = testapp.get("/language", params={"lang": "en", "next": target}, status=302)
    assert response.location == "https://localhost/"
    assert response.headers["Set-Cookie"].startswith(f"{LANGUAGE_COOKIE}=en;")


def test_the_switch_refuses_an_unknown_language(testapp):
    response = testapp.get("/language", params={"lang": "fr", "next": "/"}, status=400)
    assert "Set-Cookie" not in response.headers


def test_a_forged_cookie_value_is_ignored(testapp):
    testapp.set_cookie(LANGUAGE_COOKIE, "xx")
    assert testapp.get("/", headers={"Accept-Language": "en"}).html.html["lang"] == "en"
    assert testapp.get("/").html.html["lang"] == "ja"


def test_local_paths():
    """The guard refuses control characters before any view; the check refuses them too."""
    assert is_local_path("/users?page=2")
    assert not is_local_path("/\t/evil.example")
    assert not is_local_path("/" + "a" * 3000)


def test_the_login_screen_in_english(customer):
    """The password screen of FLOW-4 (DC582101) answers in English to an English browser."""
    customer.register_master()
    customer.app.reset()
    data, _ = customer.issue(MASTER["user_id"], MASTER["password"])
    customer.app.reset()
    customer.use_certificate(data, MASTER["password"])
    customer.app.extra_environ = {**customer.app.extra_environ, "HTTP_ACCEPT_LANGUAGE": "en"}
    page = customer.app.get("/login").maybe_follow()
    assert page.html.html["lang"] == "en"
    assert "Please enter your login password." in page.text
    assert page.html.find("button", type="submit").text.strip() == "Log in"
    assert page.html.find("a", string="Cancel") is not None


def test_the_negotiator_without_cookie_or_header():
    assert negotiate_locale(Request.blank("/")) == "ja"
    assert negotiate_locale(Request.blank("/", headers={"Accept-Language": "en"})) == "en"


# --- Messages written in Python (core.i18n) -------------------------------------------------------


def test_a_refused_form_in_english_names_its_field_in_english(customer):
    """A required-field message is built from the field's label: in English both are English
    (SPEC 8, #15); the same form in Japanese keeps the manual's wording (ACC-8)."""
    english = {"HTTP_ACCEPT_LANGUAGE": "en"}
    page = customer.app.get("/register/master", extra_environ=english).maybe_follow()
    form = page.forms[0]
    form["contract_no"] = "1234"
    refused = form.submit(extra_environ=english)
    errors = [error.text for error in refused.html.select("p.error")]
    assert errors == [
        "Please enter the contract number as 8 half-width digits.",
        "Initial password is required.",
    ]
    assert refused.html.find("label", attrs={"for": "contract_no"}).text == "Contract number"
    page = customer.app.get("/register/master").maybe_follow()
    japanese = page.forms[0].submit()
    assert [error.text for error in japanese.html.select("p.error")] == [
        "契約番号を入力してください。",
        "初期パスワードを入力してください。",
    ]


def test_a_flashed_notice_is_kept_in_the_language_it_was_given_in(customer):
    """The logout notice (FLOW-7) is stored in the screen's language and shown on the next one."""
    customer.register_master()
    customer.app.reset()
    data, _ = customer.issue(MASTER["user_id"], MASTER["password"])
    customer.app.reset()
    customer.use_certificate(data, MASTER["password"])
    customer.app.set_cookie(LANGUAGE_COOKIE, "en")
    page = customer.login(MASTER["password"])
    while "logout" not in [form.id for form in page.forms.values()]:
        page = page.forms["groups-form"].submit().maybe_follow()
    top = page.forms["logout"].submit().maybe_follow()
    assert top.html.find(role="status").text.strip() == "You have logged out."


def test_the_request_guard_refuses_in_the_browser_language(testapp):
    """A refusal drawn before the app reads the request (#12) follows the language cookie or
    Accept-Language too; without either it is Japanese."""
    english = testapp.get("/?q=%FF", headers={"Accept-Language": "en"}, status=400)
    assert english.html.html["lang"] == "en"
    assert english.html.h1.text == "The request cannot be processed"
    assert "Reference number for enquiries: " in english.text
    japanese = testapp.get("/?q=%FF", status=400)
    assert japanese.html.html["lang"] == "ja"
    assert japanese.html.h1.text == "リクエストを処理できません"
