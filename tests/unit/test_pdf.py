"""Generated PDFs (BANK-7; SPEC 6 「PDF lists (Japanese fonts, A4)」): IPA fonts embedded, the Japanese
text exactly as written (read back with poppler's pdftotext), A4, reproducible; the forms of 001/003
and the sample manuals carry their fields."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from core.bank import paper_forms as bankforms
from core.db.models import ContractKind
from core.outputs import pdf


def _poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        reason = f"{tool} not found: install Debian's poppler-utils"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return path


def run(tool: str, data: bytes, tmp_path: Path, *args: str) -> str:
    source = tmp_path / "document.pdf"
    source.write_bytes(data)
    result = subprocess.run(
        [_poppler(tool), *args, str(source), *(["-"] if tool == "pdftotext" else [])],
        capture_output=True,
        check=True,
    )
    return result.stdout.decode("utf-8")


def text_of(data: bytes, tmp_path: Path) -> str:
    return run("pdftotext", data, tmp_path, "-enc", "UTF-8")


def fonts_of(data: bytes, tmp_path: Path) -> dict[str, str]:
    """pdffonts: font name (subset prefix removed) → its 'emb' column."""
    lines = run("pdffonts", data, tmp_path).splitlines()[2:]
    fonts = {}
    for line in lines:
        parts = line.split()
        fonts[parts[0].split("+")[-1]] = parts[-5]
    return fonts


def info_of(data: bytes, tmp_path: Path) -> dict[str, str]:
    out = run("pdfinfo", data, tmp_path)
    return dict(line.split(":", 1) for line in out.splitlines() if ":" in line)


def flat(text: str) -> str:
    """Without white space: pdftotext breaks wrapped lines where the layout did."""
    return re.sub(r"\s+", "", text)


def assert_contains(text: str, *expected: str) -> None:
    for item in expected:
        assert flat(item) in flat(text), f"{item!r} not in the PDF text"


def test_the_ipa_fonts_are_the_debian_files():
    paths = pdf.register_fonts()
    assert paths[pdf.GOTHIC].name in {"ipag.ttf", "fonts-japanese-gothic.ttf", "ipaexg.ttf"}
    assert paths[pdf.MINCHO].name in {"ipam.ttf", "fonts-japanese-mincho.ttf", "ipaexm.ttf"}


def test_missing_fonts_name_the_package(monkeypatch):
    monkeypatch.setitem(pdf.FONT_CANDIDATES, pdf.GOTHIC, ("/nonexistent/ipag.ttf",))
    with pytest.raises(pdf.PdfFontError, match="fonts-ipafont"):
        pdf.font_paths()


SAMPLE = [
    "操作マニュアル【会員編】",
    "電子証明書を選択し、パスワードを入力して「ログイン」ボタンをクリックします。",
    "労金 太郎（半角カナ ｶﾅ、記号 !\"#$%&'()）",
    "①～⑩ ㈱ 髙橋 〒100-0001",
]


@pytest.fixture(scope="module")
def sample_pdf() -> bytes:
    doc = pdf.PdfDocument("サンプル文書", subject="テスト", header="ヘッダー")
    doc.title_block(SAMPLE[0], "抜粋")
    doc.heading("1. ログイン")
    for line in SAMPLE[1:]:
        doc.text(line)
    doc.text("ゴシック体の段落", "gothic")
    doc.text("<b>太字ではない</b> & そのまま")
    doc.table(
        ["No", "氏名", "金額"],
        [[i, f"労金 花子{i}", f"{i * 1000:,}"] for i in range(1, 121)],
        col_widths=[15 * pdf.mm, 60 * pdf.mm, 30 * pdf.mm],
        align_right=[0, 2],
    )
    return doc.build()


def test_japanese_text_comes_back_exactly(sample_pdf, tmp_path):
    """pdftotext returns the text as written (U+3000 comes back as an ASCII space)."""
    text = text_of(sample_pdf, tmp_path)
    lines = text.splitlines()
    for expected in SAMPLE:
        assert expected.replace("\u3000", " ") in lines, expected
    assert "<b>太字ではない</b> & そのまま" in lines  # data never becomes markup
    assert "労金 花子120" in lines and "120,000" in lines  # the table's last row


def test_fonts_are_embedded_subsets_and_nothing_else(sample_pdf, tmp_path):
    """pdffonts: IPA Gothic and IPA Mincho, emb yes; no unembedded standard font."""
    assert fonts_of(sample_pdf, tmp_path) == {pdf.GOTHIC: "yes", pdf.MINCHO: "yes"}
    assert re.search(rb"/FontFile2", sample_pdf)  # TrueType outlines in the file


def test_pages_are_a4_with_metadata_and_numbers(sample_pdf, tmp_path):
    info = info_of(sample_pdf, tmp_path)
    assert "(A4)" in info["Page size"]
    assert info["Title"].strip() == "サンプル文書"
    assert int(info["Pages"]) >= 3
    pages = int(info["Pages"])
    assert f"1 / {pages}" in text_of(sample_pdf, tmp_path)


def test_the_same_story_gives_the_same_bytes():
    one = bankforms.initial_password_form(ContractKind.MEMBER)
    two = bankforms.initial_password_form(ContractKind.MEMBER)
    assert one == two


def test_a_character_the_font_lacks_is_drawn_as_geta(tmp_path):
    """Never an invisible box: U+2611 (☑) is not in IPA Gothic."""
    assert pdf.missing_glyphs("☑ABC") == {"☑"}
    doc = pdf.PdfDocument("t")
    doc.text("☑済み")
    assert "〓済み" in text_of(doc.build(), tmp_path).splitlines()


# --- The forms and sample manuals ------------------------------------------------------------------


@pytest.fixture(scope="module")
def documents() -> dict[str, bytes]:
    return {
        "member_form": bankforms.initial_password_form(ContractKind.MEMBER),
        "employer_form": bankforms.initial_password_form(ContractKind.EMPLOYER),
        "request": bankforms.request_form(bankforms.DEMO_BANK),
        "member_manual": bankforms.operation_manual(ContractKind.MEMBER),
        "employer_manual": bankforms.operation_manual(ContractKind.EMPLOYER),
    }


@pytest.mark.parametrize(
    "name",
    ["member_form", "employer_form", "request", "member_manual", "employer_manual"],
)
def test_every_generated_document_embeds_its_fonts(documents, name, tmp_path):
    data = documents[name]
    assert data.startswith(b"%PDF-")
    assert fonts_of(data, tmp_path) == {pdf.GOTHIC: "yes", pdf.MINCHO: "yes"}
    assert "(A4)" in info_of(data, tmp_path)["Page size"]
    assert "〓" not in text_of(data, tmp_path)  # every character of our own texts has a glyph


@pytest.mark.parametrize(
    ("name", "audience", "organisation"),
    [("member_form", "会員向け", "団体名"), ("employer_form", "事業主向け", "事業所名")],
)
def test_initial_password_form(documents, name, audience, organisation, tmp_path):
    """BANK-7 / SPEC 0: 初期パスワード届出書 — contract number, organisation, the 8 boxes, date, seal."""
    data = documents[name]
    text = text_of(data, tmp_path)
    assert f"初期パスワード届出書（{audience}）" in text.splitlines()
    assert_contains(
        text,
        "ろうきん賃金控除事務支援サービス",
        "労働金庫 御中",
        "届出日",
        "ご契約番号",
        organisation,
        "代表者名（肩書および氏名）",
        "お申込印（代表者印）",
        "初期パスワード（8文字）",
        "1 2 3 4 5 6 7 8",
        "大・小・数・記",
        "半角の英大文字・英小文字・数字・記号をそれぞれ1文字以上含む8文字",
        f"記号は次の32種類です：{bankforms.SYMBOLS}",
        "ろうきん使用欄",
        "受付者",
        "取扱者",
        "印鑑照合",
        "検印",
    )
    assert info_of(data, tmp_path)["Pages"].strip() == "1"


def test_request_form_has_the_fields_of_seed_003(documents, tmp_path):
    """SPEC section 5: マスターユーザー削除・電子証明書失効等依頼書 (BANK-2/3/4/5)."""
    data = documents["request"]
    text = text_of(data, tmp_path)
    assert "マスターユーザー削除・電子証明書失効等依頼書" in text.splitlines()
    assert_contains(
        text,
        "デモ労働金庫 御中",
        "依頼日",
        "〒",
        "ご住所",
        "団体名",
        "代表者名（肩書および氏名）",
        "電話番号",
        "FAX番号",
        "ご担当者",
        "ご契約番号",
        "お申込印（代表者印）",
        "標記の件につき下記のとおり手続きを依頼します。",
        "貴金庫の責任は一切問いません。",
        "＜手続依頼区分＞",
        "ご契約番号照会",
        "初期パスワードの閉塞（ロックアウト）解除",
        "マスターユーザーの削除",
        "□パスワード誤入力による閉鎖",
        "□パスワード失念",
        "□その他",
        "電子証明書の失効",
        "□マスターユーザー",
        "□一般ユーザー",
        "一般ユーザーのユーザー名",
        "【訂正が必要な場合】",
        "《FAX送信先》",
        "FAX 00-0000-0000",
        "ろうきん使用欄",
        "受付者",
        "取扱者",
        "印鑑照合",
        "検印",
    )
    assert info_of(data, tmp_path)["Pages"].strip() == "1"


def test_sample_manuals_describe_login_and_issuance_for_their_audience(documents, tmp_path):
    member = text_of(documents["member_manual"], tmp_path)
    employer = text_of(documents["employer_manual"], tmp_path)
    assert "操作マニュアル【会員編】" in member.splitlines()
    assert "操作マニュアル【事業主編】" in employer.splitlines()
    for text in (member, employer):
        assert_contains(
            text,
            "2. マスターユーザーの初期登録",
            "3. 電子証明書の発行",
            "4. ログイン",
            "認証コード（半角数字6桁、有効期限30分）",
            "発行者が「Rokin-KW CA」",
            "DC586101",
            "DC582101",
        )
    assert "DC590101" in member and "DC590101" not in employer  # no group selection (FLOW-4)
    assert "労金控除事務" in member and "財形貯蓄事務" in employer


def test_sample_manuals_agree_with_seed_001(documents, tmp_path):
    """BANK-7: what the generated manuals tell customers is what seed 001 says — the contract number
    comes from the ご利用開始（変更）のお知らせ (001 p.8), the initial password from the
    初期パスワード届出書; a certificate is valid 366 days counting the issue day and mails go 30 days
    before and after expiry (001 p.3, p.45); the service is closed on Saturdays, Sundays and national
    holidays (001 p.3: 年末年始 is the help desk's, not the service's)."""
    for name in ("member_manual", "employer_manual"):
        text = flat(text_of(documents[name], tmp_path))
        assert (
            flat(
                "「ご利用開始（変更）のお知らせ」に記載されているご契約番号（半角数字8桁）と、"
                "「初期パスワード届出書」に記入いただいた初期パスワード（8桁）"
            )
            in text
        )
        assert "届出書」でお届けいただいたご契約番号" not in text
        assert flat("発行日を含めて366日") in text and "1年間" not in text
        assert flat("有効期限が過ぎたときに、メールでお知らせします") in text
        assert flat("土・日・祝休日はご利用いただけません") in text and "年末年始" not in text
