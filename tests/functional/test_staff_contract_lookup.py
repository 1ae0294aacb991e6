"""ご契約番号照会 (BANK-2, seed 001 p.44): staff find a contract by number, organisation name or a
telephone number from a filed request, and print its ご利用開始（変更）のお知らせ as a PDF (contract
number, URL, deposit groups, modules; fonts embedded). A direct, audited action: it changes nothing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from conftest import MASTER, Customer
from sqlalchemy import select

from core.db.models import AuditEvent
from tests.staff_requests_support import OPERATOR, PAPER, file_request
from tests.staff_requests_support import approver as approver
from tests.staff_requests_support import operator as operator
from tests.staff_requests_support import staff_app as staff_app
from tests.staff_support import csrf_token


def search(operator: Any, **criteria: str) -> Any:
    form = operator.get("/staff/requests/lookup").forms["lookup-form"]
    for name, value in criteria.items():
        form[name] = value
    return form.submit()


def found(page: Any) -> list[str]:
    return [tr.select("td")[0].text for tr in page.html.select("#lookup-results tbody tr")]


def test_a_contract_is_found_by_number_name_or_telephone_and_its_notice_printed(
    customer: Customer, operator: Any, dbsession: Any, tmp_path: Path
) -> None:
    """BANK-2: by contract number (exact), organisation name (part), or the 電話番号 written on an
    earlier 依頼書 (hyphens or not); the notice PDF carries the contract number, the URL, the
    deposit groups and their modules, and the print is audited as the bank."""
    assert found(search(operator, contract_no="10000001")) == ["10000001"]
    assert found(search(operator, organisation_name="デモ")) == ["10000001", "20000001"]
    assert found(search(operator, organisation_name="商事")) == ["20000001"]
    assert "該当するご契約はありません" in search(operator, organisation_name="100%").text
    assert found(search(operator, phone="09099999999")) == []
    file_request(
        operator,
        "initial_password_change",
        MASTER["contract_no"],
        initial_password="Next#002",
        initial_password_confirm="Next#002",
    )
    assert found(search(operator, phone="09099999999")) == ["10000001"]
    page = search(operator, phone=PAPER["phone"])
    assert found(page) == ["10000001"]

    pdf = page.forms["notice-10000001"].submit()
    assert pdf.content_type == "application/pdf"
    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf.body)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "ご利用開始（変更）のお知らせ" in text and "10000001" in text
    assert "https://localhost/" in text and "デモ労働組合連合会" in text
    assert "00000001" in text and "本部" in text and "東支部" in text
    assert "労金控除(明細更新)" in text
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
    assert "IPA" in fonts and " yes " in fonts  # embedded

    dbsession.rollback()
    printed = dbsession.scalars(
        select(AuditEvent).where(AuditEvent.action == "contract.notice.print")
    ).one()
    assert (printed.actor, printed.actor_kind, printed.contract_no) == (
        OPERATOR,
        "bank",
        "10000001",
    )


def test_bad_lookup_input_shows_the_screen_again_with_the_message(
    customer: Customer, operator: Any, dbsession: Any
) -> None:
    """BANK-2: nothing entered, a malformed number or telephone: the screen again with a Japanese
    message, the input kept; nothing audited."""
    page = search(operator)
    assert "ご契約番号・団体名・電話番号のいずれかを入力してください。" in page.text
    page = search(operator, contract_no="12ab", phone="03-ABCD")
    assert page.html.find(id="contract_no-error") is not None
    assert (
        page.html.find(id="phone-error").text
        == "電話番号は半角数字（ハイフン可）で入力してください。"
    )
    assert page.forms["lookup-form"]["phone"].value == "03-ABCD"
    assert "lookup-results" not in page.text
    token = csrf_token(operator)
    operator.post("/staff/requests/lookup/99999999/notice", {"csrf_token": token}, status=404)
    dbsession.rollback()
    assert not dbsession.scalars(
        select(AuditEvent).where(AuditEvent.action.like("contract.%"))
    ).all()
