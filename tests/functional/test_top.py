"""DC581101, the top page: four entrances, the manuals' notices, headers, hours, i18n."""

from __future__ import annotations

import datetime as dt

import pytest
from webtest import TestApp

from core.app import make_app
from core.clock import set_clock
from core.timefmt import JST

BUTTONS = ["ログイン", "マスターユーザーの初期登録", "一般ユーザーの初期登録", "電子証明書発行"]


def test_top_page_has_the_four_buttons_and_the_screen_id(testapp):
    response = testapp.get("/")
    assert response.status_int == 200
    assert "DC581101" in response.text
    for label in BUTTONS:
        assert response.html.find("a", string=label) is not None, label


def test_top_page_shows_the_notices_of_the_manuals(testapp):
    """001 ＜ご注意事項＞: register on the PC you will use; ID and password rules; ID is permanent."""
    text = testapp.get("/").text
    assert "サービスをご利用になるパソコンで登録してください。" in text
    assert "半角英数混在の6～12文字" in text
    assert "半角英大文字・英小文字・数字・記号混在の8～12文字" in text
    assert "「ユーザーID」は一度登録すると変更できません。" in text
    # AUTH-9: ours does not forbid the back button as the old system did.
    assert "使用しないでください" not in text


def test_every_response_carries_the_security_headers(testapp):
    headers = testapp.get("/").headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    assert len(headers["X-Request-ID"]) == 32
    assert testapp.get("/no-such-page", status=404).headers["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_script_or_style(testapp):
    html = testapp.get("/").html
    assert all(script.get("src") for script in html.find_all("script"))
    assert not html.find_all("style")
    assert not [tag for tag in html.find_all(True) if tag.get("style") or tag.get("onclick")]


def test_the_stylesheet_is_served(testapp):
    href = testapp.get("/").html.find("link", rel="stylesheet")["href"]
    response = testapp.get(href)
    assert response.content_type == "text/css"


@pytest.mark.parametrize(
    ("moment", "message"),
    [
        (dt.datetime(2026, 11, 28, 10, 0, tzinfo=JST), "ただいまの時間はご利用いただけません。"),
        (dt.datetime(2026, 11, 24, 21, 0, tzinfo=JST), "ただいまの時間はご利用いただけません。"),
        (dt.datetime(2026, 11, 24, 3, 0, tzinfo=JST), "ただいまの時間はご利用いただけません。"),
    ],
)
def test_outside_service_hours_the_top_page_shows_the_hours_notice(app_settings, moment, message):
    """AUTH-7: Saturday, after 20:00 and before 08:00 Japan time the screens are closed."""
    app = make_app({**app_settings, "cjs.hours.always_open": "false"})
    set_clock(app.registry, lambda: moment)
    response = TestApp(app).get("/", status=503)
    assert message in response.text
    assert "8:00～20:00" in response.text
    assert "マスターユーザーの初期登録" not in response.text


def test_within_service_hours_the_top_page_is_served(app_settings):
    app = make_app({**app_settings, "cjs.hours.always_open": "false"})
    set_clock(app.registry, lambda: dt.datetime(2026, 11, 24, 10, 0, tzinfo=JST))
    assert "マスターユーザーの初期登録" in TestApp(app).get("/").text


def test_maintenance_window_shows_the_maintenance_notice(app_settings):
    app = make_app(
        {
            **app_settings,
            "cjs.hours.always_open": "false",
            "cjs.hours.maintenance": "2026-11-24T09:00/2026-11-24T11:00",
        }
    )
    set_clock(app.registry, lambda: dt.datetime(2026, 11, 24, 10, 0, tzinfo=JST))
    assert "メンテナンス中" in TestApp(app).get("/", status=503).text


def test_text_goes_through_i18n_japanese_first(testapp):
    """SPEC 8: Japanese UI first, English available through the translation catalogue."""
    assert "ログイン" in testapp.get("/").html.find(id="btn-login").text
    english = testapp.get("/", headers={"Accept-Language": "en"})
    assert english.html.find(id="btn-login").text.strip() == "Log in"
    assert english.html.html["lang"] == "en"
