"""The customer screens no journey walks through, in a real browser, in Japanese and in English (#15).

The journeys (test_browser.py, test_browser_users.py, test_browser_info.py,
test_browser_collective_savings.py) photograph the screens of their steps; this walk photographs the
others, so that ``var/screens/<ja|en>/<desktop|phone>/`` holds every customer screen: マニュアル照会
(the demo's manuals), 操作ログ照会, the 削除 confirmation of DM493101, the session timeout notice
(AUTH-6, the page's clock moved on), 403 (a general user on a module hidden from it, ACC-7), 404 and
the notice outside service hours. The users and their certificates are made in the database (the
ways in have their own walks). Each screen is checked by axe-core at both widths; in English, the
texts awaited are the catalogue's and no screen may show Japanese but data
(``browser.Screens``).

Twice (``WALKS``): in Japanese with cheroot directly, in English behind nginx (the browser's
Accept-Language). Screenshots: ``more-NN-name.png``. Without Playwright or /usr/bin/chromium the test
is skipped, or fails when ``CI=true``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser import (
    VIEWPORT,
    Language,
    Problems,
    Screens,
    heading,
    launch_chromium,
    screen,
)
from test_browser_collective_savings import PASSWORD, _user_with_certificate

from core.bank.manuals import seed_demo_manuals_with_settings, visible_manuals
from core.clock import get_clock, set_clock
from core.db import get_session_factory
from core.hours import get_service_hours, set_service_hours
from core.timefmt import JST

pytestmark = [pytest.mark.e2e]

#: The data the screens show in Japanese whatever the language: the users', contract's and groups'
#: names (the manuals' titles are added from the database).
DATA = ("労金　太郎", "労金　花子", "デモ労働組合連合会", "本部", "東支部")
#: (deployment, language) of each walk: Japanese directly, English behind nginx (whose walk
#: photographs the English screens: nginx changes no screen).
WALKS = [
    pytest.param("direct", "ja", id="direct-ja"),
    pytest.param("nginx", "en", id="nginx-en"),
]
#: A Sunday night: the demo's hours (weekdays 8:00–20:00) are closed then.
CLOSED_AT = dt.datetime(2026, 11, 22, 3, 0, tzinfo=JST)


@pytest.fixture
def chromium_browser(deployment: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Headless Debian Chromium for this deployment (see browser.launch_chromium)."""
    with launch_chromium(deployment, monkeypatch) as chromium:
        yield chromium


def _logged_in(
    browser: Any, deployment: Any, p12: Path, t: Language, problems: Problems
) -> tuple[Any, Any]:
    """A browser with the ``p12`` logged in on DC671101 of 本部; its page's clock is Playwright's."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(deployment.base_url))
    context = browser.new_context(
        viewport=VIEWPORT,
        locale=t.locale,
        client_certificates=[{"origin": origin, "pfxPath": str(p12), "passphrase": PASSWORD}],
    )
    context.set_default_timeout(15_000)
    context.clock.install()  # the page's timers, for the session timeout notice
    page = context.new_page()
    problems.watch(page)
    page.goto(deployment.base_url + "/login")
    page.locator("[name=password]").fill(PASSWORD)
    page.get_by_role("button", name=t("ログイン")).click()
    screen(page, "DC590101")
    chosen = page.locator("#groups-form tr", has_text="本部")
    chosen.get_by_role("button", name=t("選択")).click()
    screen(page, "DC671101")
    return context, page


def _open_menu(page: Any, t: Language, menu: str, item: str) -> None:
    """A submenu link of the menu bar: its heading is a disclosure button that opens it."""
    page.locator(".menu-bar").get_by_role("button", name=t(menu), exact=True).click()
    page.locator(".menu-bar").get_by_role("link", name=t(item), exact=True).click()


@pytest.mark.parametrize(("e2e_servers", "language"), WALKS, indirect=["e2e_servers"])
def test_the_screens_no_journey_walks_through(
    deployment: Any, chromium_browser: Any, tmp_path: Path, language: str
) -> None:
    """BANK-7, AUTH-6, ACC-6/7 and the error and closed pages, photographed (#15, SPEC 8)."""
    from playwright.sync_api import expect

    app = deployment.app
    seed_demo_manuals_with_settings(deployment.settings)
    with get_session_factory(app.registry)() as session:
        titles = [manual.title for manual in visible_manuals(session, "member")]
    master_p12 = _user_with_certificate(app, "master01", "master", False, tmp_path)
    general_p12 = _user_with_certificate(app, "ippan01", "general", True, tmp_path)
    t = Language(language)
    shot = Screens(
        "more-",
        t,
        data=(*DATA, *titles),  # the titles are in the links' names too
        data_selectors="#manuals-table tbody td",  # the manuals: the bank writes them
    )
    problems = Problems()
    base = deployment.base_url

    # The master: マニュアル照会, 操作ログ照会, a user's 削除 confirmation, the timeout notice.
    context, page = _logged_in(chromium_browser, deployment, master_p12, t, problems)
    _open_menu(page, t, "共通機能", "マニュアル照会")
    heading(page, t("マニュアル照会"))
    expect(page.locator("#manual-count")).to_have_text(
        t("登録件数：%(count)s件", count=len(titles))
    )
    shot(page, "manuals")
    _open_menu(page, t, "システム管理機能", "操作ログ照会")
    heading(page, t("操作ログ照会"))
    expect(page.locator("#oplog-count")).to_contain_text(t.pattern("抽出件数：%(count)s件"))
    shot(page, "oplog")
    _open_menu(page, t, "システム管理機能", "契約ユーザー情報照会")
    page.locator("#user-ippan01").get_by_role("link", name=t("削除")).click()
    heading(page, t("契約ユーザー削除"))
    expect(page.locator("table.summary")).to_contain_text("ippan01")
    shot(page, "user-delete")
    page.keyboard.press("F4")  # 一覧へ(F4): nothing deleted
    screen(page, "DM493101")
    expect(page.locator("#user-ippan01")).to_be_visible()
    page.clock.fast_forward("55:00")  # AUTH-6: a few minutes before the 60-minute limit
    notice = page.locator("#session-timeout")
    expect(notice).to_be_visible()
    shot(page, "session-timeout")
    notice.get_by_role("button", name=t("ログインを継続する")).click()
    expect(notice).to_be_hidden()

    # Pages answered with an error status, in a page of their own (not watched for them): 404.
    errors = context.new_page()
    answer = errors.goto(base + "/no-such-screen")
    assert answer is not None and answer.status == 404
    heading(errors, t("ページが見つかりません"))
    shot(errors, "not-found")
    context.close()

    # 403: a general user asks for the module its master hid from it (ACC-7).
    context, page = _logged_in(chromium_browser, deployment, general_p12, t, problems)
    errors = context.new_page()
    answer = errors.goto(base + "/m/collective_savings/")
    assert answer is not None and answer.status == 403
    shot(errors, "forbidden")
    context.close()

    # Outside service hours: the top page is the notice (the app's hours and clock, then back).
    hours, clock = get_service_hours(app.registry), get_clock(app.registry)
    set_service_hours(app.registry, dataclasses.replace(hours, always_open=False))
    set_clock(app.registry, lambda: CLOSED_AT)
    try:
        context = chromium_browser.new_context(viewport=VIEWPORT, locale=t.locale)
        closed = context.new_page()
        closed.goto(base + "/")
        expect(closed.get_by_role("alert")).to_contain_text(
            t("ただいまの時間はご利用いただけません。")
        )
        shot(closed, "closed")
        context.close()
    finally:
        set_service_hours(app.registry, hours)
        set_clock(app.registry, clock)

    assert problems.items == []
    print(f"\n{deployment.mode} {language}: {shot}")
    shot.finish()
