"""一斉積立 in a real browser on the demo data (#13 acceptance; SPEC 6.3, ACC-7).

The demo contracts and the demo's 一斉積立 files (``cjs_demo_files``, loaded through the module's
loaders as ``cjs demo`` does). Users and certificates are made directly in the database (the ways in
have their own browser tests); then Debian's Chromium, driven by Playwright, with each user's
client certificate:

- the master of 10000001: login → DC590101 → 本部 → DC671101 shows 最新受信情報 (014 特別積立,
  臨時作成) → 一斉積立事務 → 一斉積立内訳明細照会: 300 employees, a search by kana, the round picker →
  一斉積立内訳明細表出力: the PDF downloaded (its text extracted: the names as on the screen) →
  一斉積立内訳明細データエクスポート: the CSV downloaded and decoded as cp932;
- a general user with 一斉積立 非表示: no 一斉積立 in the menu bar or on DC671101, and 403 on every
  URL of the module (asked through the context's API client).

Each test runs twice (``WALKS``): in Japanese with cheroot directly, in English behind nginx (the
browser's Accept-Language). Screenshots of each screen at a desktop's and a phone's width go to
``var/screens/<ja|en>/<desktop|phone>/savings-NN-name.png`` (``zaikei-NN-name.png``);
``CJS_DOCS_IMAGES=1`` copies those of docs/customer-guide.md's 一斉積立 and 財形 chapters to
docs/images from the Japanese run.
Without Playwright or /usr/bin/chromium the test is skipped, or fails when ``CI=true``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import subprocess
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
    launch_chromium,
    screen,
)
from sqlalchemy import select

from core.auth.passwords import hash_password
from core.bank.loaders import load_demo_files
from core.db import get_session_factory
from core.db.models import Contract, User, UserRestriction
from core.pki.certificates import issue_certificate
from core.pki.signers import get_signer
from core.plugins import get_modules

pytestmark = [pytest.mark.e2e]

PASSWORD = "Passw0rd!"
CODE = "collective_savings"
URLS = ("/", "/outputs", "/export", "/output/details-pdf", "/output/details-csv")
DOC_IMAGES = {
    "info": "savings-info.png",
    "inquiry": "savings-inquiry.png",
    "outputs": "savings-outputs.png",
    "export": "savings-export.png",
}
#: The data the screens show in Japanese whatever the language: names of the users, the contracts
#: and the groups; the employees' names and the rounds' names in the lists (the bank's files).
DATA = (
    "労金　太郎",
    "労金　花子",
    "デモ労働組合連合会",
    "株式会社デモ商事",
    "本部",
    "東支部",
    "特別積立",
)
DATA_SELECTORS = "#details-table tbody, #round option"
#: (deployment, language) of each walk: Japanese directly, English behind nginx (whose walk
#: photographs the English screens: nginx changes no screen).
WALKS = [
    pytest.param("direct", "ja", id="direct-ja"),
    pytest.param("nginx", "en", id="nginx-en"),
]
#: The 財形 screenshots docs/customer-guide.md § 9 shows.
ZAIKEI_DOC_IMAGES = {
    "info": "zaikei-info.png",
    "inquiry": "zaikei-inquiry.png",
    "outputs": "zaikei-outputs.png",
    "export": "zaikei-export.png",
}


@pytest.fixture
def chromium_browser(deployment: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    with launch_chromium(deployment, monkeypatch) as chromium:
        yield chromium


def _user_with_certificate(
    app: Any, user_id: str, role: str, hidden: bool, folder: Path, contract_no: str = "10000001"
) -> Path:
    """A user of ``contract_no`` (its password PASSWORD) and the .p12 of a certificate issued to it."""
    with get_session_factory(app.registry)() as session:
        contract = session.scalars(
            select(Contract).where(Contract.contract_no == contract_no)
        ).one()
        user = User(
            contract=contract,
            user_id=user_id,
            role=role,
            name="労金　太郎" if role == "master" else "労金　花子",
            email=f"{user_id}@example.com",
            password_hash=hash_password(PASSWORD),
        )
        if hidden:
            user.restrictions.append(UserRestriction(module_code=CODE, level="hide"))
        session.add(user)
        session.flush()
        issued = issue_certificate(
            session,
            get_signer(app.registry),
            user,
            PASSWORD,
            key_type="ec-p256",
            now=dt.datetime.now(dt.UTC),
            actor=user_id,
            kdf_rounds=1,
        )
        session.commit()
    path = folder / f"{user_id}.p12"
    path.write_bytes(issued.pkcs12)
    return path


def _logged_in(
    browser: Any,
    deployment: Any,
    p12: Path,
    problems: Problems,
    t: Language,
    group: str | None = "本部",
) -> tuple[Any, Any]:
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(deployment.base_url))
    context = browser.new_context(
        viewport=VIEWPORT,
        locale=t.locale,
        accept_downloads=True,
        client_certificates=[{"origin": origin, "pfxPath": str(p12), "passphrase": PASSWORD}],
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems.watch(page)
    page.goto(deployment.base_url + "/login")
    page.locator("[name=password]").fill(PASSWORD)
    page.get_by_role("button", name=t("ログイン")).click()
    if group is not None:  # a 事業主 contract has no 入金グループ選択 (SPEC 6.4)
        screen(page, "DC590101")
        chosen = page.locator("#groups-form tr", has_text=group)
        chosen.get_by_role("button", name=t("選択")).click()
    screen(page, "DC671101")
    return context, page


def _open_menu(page: Any, t: Language, item: str, menu: str = "一斉積立事務") -> None:
    """A submenu link of ``menu`` in the menu bar: its heading button opens the submenu."""
    page.locator(".menu-bar").get_by_role("button", name=t(menu), exact=True).click()
    page.locator(".menu-bar").get_by_role("link", name=t(item), exact=True).click()


def _text_of_pdf(path: Path) -> str:
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        return ""
    return subprocess.run(
        [pdftotext, "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize(("e2e_servers", "language"), WALKS, indirect=["e2e_servers"])
def test_a_master_reads_savings_and_a_hidden_user_sees_no_trace(
    deployment: Any, chromium_browser: Any, tmp_path: Path, language: str
) -> None:
    from playwright.sync_api import expect

    app = deployment.app
    loaded = load_demo_files(
        get_session_factory(app.registry), get_modules(app.registry), now=dt.datetime.now(dt.UTC)
    )
    assert any(line.startswith(f"{CODE} details") for line in loaded), loaded
    master_p12 = _user_with_certificate(app, "master01", "master", False, tmp_path)
    general_p12 = _user_with_certificate(app, "ippan01", "general", True, tmp_path)
    name = deployment.mode
    t = Language(language)
    shot = Screens("savings-", t, data=DATA, data_selectors=DATA_SELECTORS)
    problems = Problems()

    # The master: DC671101's 最新受信情報, then the three screens.
    context, page = _logged_in(chromium_browser, deployment, master_p12, problems, t)
    expect(page.locator("#latest-round")).to_contain_text("014 特別積立")
    if language == "ja":  # written by plugins/collective_savings (its English: branch modules)
        expect(page.locator("#latest-round")).to_contain_text("2026年10月14日　臨時作成")
    shot(page, "info")
    _open_menu(page, t, "一斉積立内訳明細照会")
    expect(page.locator("#result-count")).to_contain_text(t.pattern("抽出件数：%(count)s件"))
    first_kana = page.locator("#details-table tbody tr").first.locator("td").nth(2).inner_text()
    page.locator("#kana").fill(first_kana.split(" ")[0])
    page.locator("#btn-search").click()
    rows = page.locator("#details-table tbody tr")
    expect(rows.first).to_contain_text(first_kana.split(" ")[0])
    shot(page, "inquiry")
    page.locator("#round").select_option("013")
    page.locator("#btn-round").click()
    expect(page.locator("#round")).to_have_value("013")

    _open_menu(page, t, "一斉積立内訳明細表出力")
    shot(page, "outputs")
    with page.expect_download() as pdf_info:
        page.locator("#btn-details-pdf").click()
    pdf = tmp_path / "details.pdf"
    pdf_info.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert pdf_info.value.suggested_filename.startswith(f"{t('一斉積立内訳明細表')}_")
    text = _text_of_pdf(pdf)
    if text:
        assert t("一斉積立内訳明細表") in text and "デモ労働組合連合会" in text

    _open_menu(page, t, "一斉積立内訳明細データエクスポート")
    shot(page, "export")
    with page.expect_download() as csv_info:
        page.locator("#btn-details-csv").click()
    data = Path(csv_info.value.path()).read_bytes().decode("cp932")
    records = list(csv.reader(io.StringIO(data)))
    assert records[0][:3] == ["回号", "一斉積立名", "職員番号"]
    assert len(records) > 250 and records[1][0] == "014"
    if text:
        kana = records[1][3]
        assert kana in text  # the same names in the PDF and the CSV
    context.close()

    # The general user with 一斉積立 非表示: no trace, and 403 on the module's URLs.
    context, page = _logged_in(chromium_browser, deployment, general_p12, problems, t)
    expect(page.locator("nav.menu-bar")).not_to_contain_text(t("一斉積立"))
    expect(page.locator("main")).not_to_contain_text(t("一斉積立"))
    for url in URLS:
        answer = context.request.get(f"{deployment.base_url}/m/{CODE}{url}")
        assert answer.status == 403, url
    context.close()

    assert problems.items == []
    if language == "ja" and os.environ.get("CJS_DOCS_IMAGES") == "1":
        export_doc_images(shot.paths["desktop"], DOC_IMAGES)
    print(f"\n{name} {language}: {shot}")
    shot.finish()


@pytest.mark.parametrize(("e2e_servers", "language"), WALKS, indirect=["e2e_servers"])
def test_an_employer_reads_the_zaikei_screen_and_downloads_the_statement(
    deployment: Any, chromium_browser: Any, tmp_path: Path, language: str
) -> None:
    """#13 acceptance (SPEC 6.4): a 事業主 user sees the 財形 information screen (作成基準日) and
    downloads the 財形積立明細書."""
    from playwright.sync_api import expect

    app = deployment.app
    load_demo_files(
        get_session_factory(app.registry), get_modules(app.registry), now=dt.datetime.now(dt.UTC)
    )
    p12 = _user_with_certificate(app, "employer01", "master", False, tmp_path, "20000001")
    problems = Problems()
    t = Language(language)
    shot = Screens("zaikei-", t, data=DATA, data_selectors=DATA_SELECTORS)
    context, page = _logged_in(chromium_browser, deployment, p12, problems, t, group=None)
    dates = page.locator("#zaikei-basis-dates")
    # 預入依頼書（月例）, the newest of the demo, as the manual writes it (001 p.24: 2012年10月16日)
    expect(dates).to_contain_text(t("${year}年${month}月${day}日", year=2026, month="10", day="20"))
    expect(dates).to_contain_text(t("加入者残高一覧表"))
    shot(page, "info")
    _open_menu(page, t, "財形積立明細照会", menu="財形貯蓄事務")
    expect(page.locator("#result-count")).to_contain_text(t.pattern("抽出件数：%(count)s件"))
    shot(page, "inquiry")
    _open_menu(page, t, "財形積立明細データエクスポート", menu="財形貯蓄事務")
    expect(page.locator("#btn-details-csv")).to_be_visible()
    shot(page, "export")
    _open_menu(page, t, "財形積立明細書出力", menu="財形貯蓄事務")
    shot(page, "outputs")
    with page.expect_download() as pdf_info:
        page.locator("#btn-details-pdf").click()
    pdf = tmp_path / "zaikei.pdf"
    pdf_info.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert pdf_info.value.suggested_filename.startswith(f"{t('財形積立明細書')}_")
    text = _text_of_pdf(pdf)
    if text:
        assert t("財形積立明細書") in text and "株式会社デモ商事" in text
    context.close()
    assert problems.items == []
    if language == "ja" and os.environ.get("CJS_DOCS_IMAGES") == "1":
        export_doc_images(shot.paths["desktop"], ZAIKEI_DOC_IMAGES)
    print(f"\n{deployment.mode} {language}: {shot}")
    shot.finish()
