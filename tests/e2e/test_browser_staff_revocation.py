"""電子証明書の失効 on paper, end to end in Chromium on both listeners (#14 acceptance; BANK-5,
CERT-6, FLOW-2, FLOW-4).

The customers' listener (``deployment``: ``cjs serve``, client certificates optional) and the
staff's (``staff_listener``: the staff app, client certificates required) serve one database. Each
person has a browser context of their own, presenting their own certificate through Playwright:

1. the customer (the demo member contract's master) is logged in and working on DC671101;
2. an operator (取扱者) signs in to the staff console with a staff certificate and files the paper
   request 電子証明書の失効 for that master's certificate; the customer's session goes on;
3. an approver (検印者), another staff member with a certificate of their own, checks the seal and
   approves it;
4. the customer's very next request with that certificate ends the session, and ログイン says the
   certificate is revoked;
5. the customer issues a new certificate (DC586101 → the code from the mail → 発行 → the .p12
   download) and logs in with it.

The staff screens are saved in ``var/screens/ja/desktop/staff-NN-name.png``; ``CJS_DOCS_IMAGES=1`` copies them to
docs/images/staff-*.png, which docs/bank-operations.md shows.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser import (
    VIEWPORT,
    Problems,
    Screens,
    export_doc_images,
    issue_in_browser,
    launch_chromium,
    screen,
)
from conftest import MASTER
from test_staff_listener import staff_listener as staff_listener
from test_staff_listener import staff_member
from test_tls import REVOKED, SESSION_ENDED
from test_tls import issued as issued

from core.staff.roles import StaffRole
from tests.staff_requests_support import PAPER

#: The kinds of paper request (core/staff/requests/kinds.py), each form shown in the docs.
KINDS = (
    "cert_revoke",
    "master_delete",
    "master_unlock",
    "initial_password_change",
    "initial_password_unblock",
    "user_id_change",
)

pytestmark = [
    pytest.mark.e2e,
    # The staff listener serves the same server certificate as the direct deployment.
    pytest.mark.parametrize("e2e_servers", ["direct"], indirect=True),
]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _staff_context(chromium: Any, base_url: str, cert_file: Path, key_file: Path) -> Any:
    context = chromium.new_context(
        viewport=VIEWPORT,
        locale="ja-JP",
        client_certificates=[
            {"origin": _origin(base_url), "certPath": str(cert_file), "keyPath": str(key_file)}
        ],
    )
    context.set_default_timeout(15_000)
    return context


def _start(page: Any, kind: str, contract_no: str) -> None:
    """依頼書の受付's first step: the kind and the contract; the kind's form."""
    page.locator(f"[name=kind][value={kind}]").check()
    page.locator("[name=contract_no]").fill(contract_no)
    page.get_by_role("button", name="次へ").click()
    page.locator("#file-form").wait_for()


def _sign_in(page: Any, base_url: str, password: str, staff_id: str) -> None:
    """The staff sign-in: the certificate is checked, then the password; the home screen."""
    from playwright.sync_api import expect

    page.goto(base_url + "/staff/login")
    page.locator("[name=password]").fill(password)
    page.get_by_role("button", name="サインイン").click()
    expect(page.locator("header dd").first).to_have_text(staff_id)


def test_a_paper_revocation_in_the_console_ends_the_customer_certificate_in_the_browser(
    deployment: Any,
    issued: Any,
    staff_listener: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    operator_cert, operator_key, operator_password = staff_member(
        deployment, staff_listener, "clerk01", (StaffRole.OPERATOR,)
    )
    approver_cert, approver_key, approver_password = staff_member(
        deployment, staff_listener, "chief01", (StaffRole.APPROVER,)
    )
    base = deployment.base_url.rstrip("/")
    staff_base = staff_listener.base_url.rstrip("/")
    problems = Problems()
    shot = Screens("staff-", widths=["desktop"])  # the bank's PCs: Japanese, desktop

    with launch_chromium(deployment, monkeypatch) as chromium:
        # 1. The customer, logged in with the certificate, on DC671101.
        customer = chromium.new_context(
            viewport=VIEWPORT,
            locale="ja-JP",
            accept_downloads=True,
            client_certificates=[
                {
                    "origin": _origin(base),
                    "certPath": str(issued.cert_file),
                    "keyPath": str(issued.key_file),
                }
            ],
        )
        customer.set_default_timeout(15_000)
        page = customer.new_page()
        page.goto(base + "/login")
        screen(page, "DC582101")
        page.locator("[name=password]").fill(MASTER["password"])
        page.get_by_role("button", name="ログイン").click()
        screen(page, "DC590101")
        page.locator("#groups-form").get_by_role("button", name="選択").first.click()
        screen(page, "DC671101")

        # 2. The operator files the paper request on the staff listener.
        operator = _staff_context(chromium, staff_base, operator_cert, operator_key).new_page()
        problems.watch(operator)
        _sign_in(operator, staff_base, operator_password, "clerk01")
        operator.locator(".menu-bar").get_by_role("link", name="依頼書の受付").click()
        shot(operator, "request-start")
        # Every kind's form, as docs/bank-operations.md shows them; then the revocation's.
        for kind in KINDS:
            _start(operator, kind, MASTER["contract_no"])
            shot(operator, f"request-form-{kind}")
            operator.get_by_role("link", name="戻る").click()
        _start(operator, "cert_revoke", MASTER["contract_no"])
        expect(operator.locator("#kind")).to_contain_text("電子証明書の失効")
        operator.get_by_role("button", name="受付").click()  # nothing transcribed yet
        expect(operator.locator("#address-error")).to_be_visible()
        shot(operator, "request-file-errors")
        for name, value in PAPER.items():
            operator.locator(f"[name={name}]").fill(value)
        operator.locator("[name=target_user]").select_option(MASTER["user_id"])
        operator.locator("[name=revocation_reason]").select_option("keyCompromise")
        shot(operator, "request-file")
        operator.get_by_role("button", name="受付").click()
        expect(operator.locator("main")).to_contain_text("検印待ち")
        number = operator.url.rstrip("/").rsplit("/", 1)[1]
        # A request alone changes nothing: the customer works on.
        page.reload()
        screen(page, "DC671101")

        # 3. Another staff member, the approver, checks the seal and approves.
        approver = _staff_context(chromium, staff_base, approver_cert, approver_key).new_page()
        problems.watch(approver)
        _sign_in(approver, staff_base, approver_password, "chief01")
        approver.locator(".menu-bar").get_by_role("link", name="依頼一覧・検印").click()
        row = approver.locator("#pending-requests tr", has_text="電子証明書の失効")
        expect(row.locator("td").first).to_have_text(number)
        shot(approver, "requests-pending")
        row.get_by_role("link", name="詳細").click()
        approver.locator("[name=seal_checked]").check()
        shot(approver, "request-approve")
        approver.get_by_role("button", name="承認（検印）").click()
        expect(approver.locator("main")).to_contain_text("承認済み")
        shot(approver, "request-approved")

        # 4. The customer's very next request with the revoked certificate.
        page.reload()
        screen(page, "DC581101")
        expect(page.locator("main")).to_contain_text(SESSION_ENDED)
        page.get_by_role("link", name="ログイン", exact=True).click()
        screen(page, "DC581101")
        expect(page.locator("main")).to_contain_text(REVOKED)

        # 5. A new certificate, issued in the same browser, and a login with it.
        problems.watch(page)
        page.locator("#btn-cert").click()
        p12_path = issue_in_browser(
            page, deployment, MASTER["user_id"], MASTER["password"], MASTER["email"], tmp_path
        )
        renewed = chromium.new_context(
            viewport=VIEWPORT,
            locale="ja-JP",
            client_certificates=[
                {
                    "origin": _origin(base),
                    "pfxPath": str(p12_path),
                    "passphrase": MASTER["password"],
                }
            ],
        )
        renewed.set_default_timeout(15_000)
        page = renewed.new_page()
        problems.watch(page)
        page.goto(base + "/login")
        screen(page, "DC582101")
        page.locator("[name=password]").fill(MASTER["password"])
        page.get_by_role("button", name="ログイン").click()
        screen(page, "DC590101")
        page.locator("#groups-form").get_by_role("button", name="選択").first.click()
        screen(page, "DC671101")

    assert problems.items == []
    shot.finish()
    if os.environ.get("CJS_DOCS_IMAGES") == "1":
        desktop = shot.paths["desktop"]
        export_doc_images(desktop, {name: f"staff-{name}.png" for name in desktop})
