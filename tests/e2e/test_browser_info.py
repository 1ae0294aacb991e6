"""The information screen in a real browser (#13, SPEC 6.5, BANK-6): on the demo's messages and
schedules (``cjs demo`` loads them through the bank's loaders), the master of the demo member contract
registers, gets its certificate, logs in with it, chooses 東支部 and sees on DC671101 the
【スケジュール】 of each cycle (a 締切中 and an 入力中 month), the お知らせ for everyone, 会員, its
contract and 東支部 — newest first, never the withdrawn one nor another contract's — and the note.

Twice: in Japanese with cheroot directly, in English behind nginx (the browser's Accept-Language);
Debian's Chromium driven by Playwright. Every page must load without a console error, a CSP
violation or an HTTP error answer. Screenshots at a desktop's and a phone's width go to
``var/screens/<ja|en>/<desktop|phone>/info-NN-name.png``; ``CJS_DOCS_IMAGES=1`` copies the one
docs/customer-guide.md shows to docs/images from the Japanese run. Without Playwright or /usr/bin/chromium the
test is skipped, or fails when ``CI=true``.
"""

from __future__ import annotations

import os
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
    export_doc_images,
    heading,
    launch_chromium,
    screen,
)
from test_browser_users import (
    CONTRACT_NO,
    GROUP,
    INITIAL_PASSWORD,
    MASTER_EMAIL,
    MASTER_ID,
    MASTER_NAME,
    MASTER_PASSWORD,
    _choose_group,
    _fill,
    _issue,
    _login,
    _save_p12,
)

from core.cli.demo import demo_contracts
from core.cli.demo_information import seed_demo_information
from core.clock import utcnow

pytestmark = [pytest.mark.e2e]

#: The screenshot docs/customer-guide.md shows: ``CJS_DOCS_IMAGES=1`` copies it.
DOC_IMAGES = {"member-info": "dc671101-info-member.png"}
#: The notices of the demo, newest first: the bank writes them (data, in Japanese whatever the
#: screen's language).
SUBJECTS = [
    "システムメンテナンスのお知らせ",
    "控除依頼データの締切について",
    "デモ労働組合連合会様へ",
    "東支部の皆様へ",
]
#: (deployment, language) of each walk: Japanese directly, English behind nginx (whose walk
#: photographs the English screen: nginx changes no screen).
WALKS = [
    pytest.param("direct", "ja", id="direct-ja"),
    pytest.param("nginx", "en", id="nginx-en"),
]


@pytest.fixture
def chromium_browser(deployment: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Headless Debian Chromium for this deployment (see browser.launch_chromium)."""
    with launch_chromium(deployment, monkeypatch) as chromium:
        yield chromium


@pytest.mark.parametrize(("e2e_servers", "language"), WALKS, indirect=["e2e_servers"])
def test_a_member_master_sees_the_schedule_and_the_messages(
    deployment: Any, chromium_browser: Any, tmp_path: Path, language: str
) -> None:
    """SPEC 6.5, BANK-6 (#13): DC671101 on the demo data, over real TLS, in Japanese and in
    English (the browser asks for it: Accept-Language)."""
    from playwright.sync_api import expect

    seed_demo_information(deployment.settings, demo_contracts(), utcnow())
    t = Language(language)
    shot = Screens(
        "info-",
        t,
        data=(MASTER_NAME, *GROUP, "デモ労働組合連合会"),
        data_selectors="#info-messages td.wrap",  # the notices: the bank writes them
    )
    problems = Problems()
    base = deployment.base_url.rstrip("/") + "/"
    parts = urlsplit(base)

    registering = chromium_browser.new_context(
        viewport=VIEWPORT, locale=t.locale, accept_downloads=True
    )
    registering.set_default_timeout(15_000)
    page = registering.new_page()
    problems.watch(page)
    page.goto(base + "register/master")
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
    page.get_by_role("link", name=t("電子証明書発行")).click()
    download = _issue(page, deployment, shot, "master", MASTER_ID, MASTER_PASSWORD, MASTER_EMAIL)
    p12 = _save_p12(download, tmp_path, MASTER_ID, MASTER_PASSWORD)
    registering.close()

    context = chromium_browser.new_context(
        viewport=VIEWPORT,
        locale=t.locale,
        client_certificates=[
            {
                "origin": f"{parts.scheme}://{parts.netloc}",
                "pfxPath": str(p12),
                "passphrase": MASTER_PASSWORD,
            }
        ],
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems.watch(page)
    _login(page, base, MASTER_PASSWORD, t)
    _choose_group(page, t)  # 東支部

    schedule = page.locator("#info-schedule")
    expect(schedule).to_contain_text(t("【スケジュール】"))
    for cycle in ("monthly", "summer", "winter"):
        rows = page.locator(f"#schedule-{cycle} tr.schedule-row")
        expect(rows).to_have_count(2)
        expect(rows.nth(0).locator("td").nth(1)).to_have_text(t("締切中"))
        expect(rows.nth(1).locator("td").nth(1)).to_have_text(t("入力中"))
    messages = page.locator("#info-messages tbody tr")
    expect(messages).to_have_count(4)
    assert messages.locator("td:nth-child(2)").all_inner_texts() == SUBJECTS
    expect(page.locator("main")).not_to_contain_text("臨時休業")  # withdrawn
    expect(page.locator("main")).not_to_contain_text("株式会社デモ商事様へ")  # another contract
    expect(page.locator("main")).to_contain_text(
        t("※サービスのお申込状況により、表示される項目が異なります。")
    )
    shot(page, "member-info")
    context.close()
    assert problems.items == []
    if language == "ja" and os.environ.get("CJS_DOCS_IMAGES") == "1":
        export_doc_images(shot.paths["desktop"], DOC_IMAGES)
    print(f"\n{deployment.mode} {language}: {shot}")
    shot.finish()
