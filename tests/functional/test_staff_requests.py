"""Paper requests with four-eyes approval (#14 item 2, seed 003): the framework's screens and the
first kind, 電子証明書の失効 (BANK-5, CERT-6).

The customer app and the staff app run on one database: an operator (受付者) files the request as
written on the 依頼書, a second staff member approves it with the seal check (検印, 印鑑照合), and
the customer's browser sees the effect at its next request.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import MASTER, Customer
from cryptography import x509
from sqlalchemy import func, select

from core.db.models import AuditEvent, Certificate, StaffRequest
from core.pki.crl import der_path, get_publication_worker
from core.pki.signers import get_signer
from core.pki.x509 import CA_CERT_FILE
from hsm.software import CA_KEY_FILE
from tests.staff_requests_support import (
    APPROVER,
    OPERATOR,
    PAPER,
    approve,
    audit_of,
    file_form,
    file_request,
    mails,
    request_row,
)
from tests.staff_requests_support import approver as approver
from tests.staff_requests_support import operator as operator
from tests.staff_requests_support import staff_app as staff_app


@pytest.fixture
def app_settings(app_settings: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The usual settings on a copy of the CA folder: the CRL files asserted on are this test's."""
    folder = tmp_path / "ca"
    folder.mkdir()
    for name in (CA_CERT_FILE, CA_KEY_FILE):
        shutil.copy2(Path(app_settings["cjs.ca.dir"]) / name, folder / name)
    return {**app_settings, "cjs.ca.dir": str(folder)}


def logged_in_master(customer: Customer) -> x509.Certificate:
    """FLOW-1, FLOW-2, FLOW-4: the master registered, its certificate issued and logged in."""
    customer.register_master()
    data, _ = customer.issue(MASTER["user_id"], MASTER["password"], MASTER["email"])
    customer.app.reset()
    certificate = customer.use_certificate(data, MASTER["password"])
    page = customer.login(MASTER["password"])
    page.forms["groups-form"].submit("group_id", index=0)
    assert "DC671101" in customer.app.get("/info").text
    return certificate


def certificate_row(dbsession: Any, certificate: x509.Certificate) -> Certificate:
    dbsession.rollback()
    return dbsession.scalars(
        select(Certificate).where(Certificate.serial == format(certificate.serial_number, "x"))
    ).one()


def test_a_revocation_applies_only_once_another_staff_member_approves_it(
    customer: Customer, operator: Any, approver: Any, staff_app: Any, dbsession: Any
) -> None:
    """BANK-5, CERT-6, #14 item 2: the operator files 電子証明書の失効 for the master (picked by user ID
    from the contract's list) with an RFC 5280 reason; the request alone changes nothing; the filer
    may not approve it (refused and audited); another staff member approves with the seal checked,
    which revokes the certificate in the same transaction, publishes the CRL and mails the user;
    the customer's very next request is refused, and the login with that certificate too."""
    certificate = logged_in_master(customer)
    number = file_request(
        operator,
        "cert_revoke",
        MASTER["contract_no"],
        requested_on="2026-11-30",
        target_user=MASTER["user_id"],
        revocation_reason="keyCompromise",
    )

    row = request_row(dbsession, number)
    assert (row.state, row.filed_by, row.target_user.user_id) == ("pending", OPERATOR, "master01")
    assert (row.phone, row.representative_title) == (PAPER["phone"], PAPER["representative_title"])
    assert certificate_row(dbsession, certificate).status == "valid"  # a request alone: nothing
    assert "DC671101" in customer.app.get("/info").text
    pending = operator.get("/staff/requests/")
    assert f"/staff/requests/{number}" in pending.text and "電子証明書の失効" in pending.text

    page = approve(operator, number)  # the filer, though an approver too
    assert "受付者ご本人は検印できません" in page.text
    assert request_row(dbsession, number).state == "pending"
    assert certificate_row(dbsession, certificate).status == "valid"

    page = approve(approver, number, seal_checked=False)  # 印鑑照合 not done
    assert page.html.find(id="seal_checked-error").text == "印鑑照合を確認してください。"
    assert certificate_row(dbsession, certificate).status == "valid"

    page = approve(approver, number)
    assert page.html.find(id="state").text == "承認済み（実施済み）"
    assert page.html.find(id="decided-by").text.startswith(APPROVER)
    row = certificate_row(dbsession, certificate)
    assert (row.status, row.revocation_reason) == ("revoked", "keyCompromise")
    assert audit_of(dbsession, number) == [
        ("staff_request.file", OPERATOR, "bank", "success"),
        ("staff_request.approve", OPERATOR, "bank", "refused"),
        ("staff_request.approve", APPROVER, "bank", "success"),
    ]
    revocation = dbsession.scalars(
        select(AuditEvent).where(AuditEvent.action == "cert.revoke")
    ).one()
    assert (revocation.actor, revocation.actor_kind, revocation.target) == (
        APPROVER,
        "bank",
        "master01",
    )
    assert mails(dbsession, "cert_revoked") == [MASTER["email"]]

    # The customer: the open session ends at its next request, the certificate logs in no more.
    assert customer.app.get("/info").maybe_follow().request.path == "/"
    assert "失効しています" in customer.app.get("/login").maybe_follow().text
    # The CRL nginx reads lists it, with the reason.
    assert get_publication_worker(staff_app.registry).wait()
    signer = get_signer(staff_app.registry)
    crl = x509.load_der_x509_crl(
        der_path(
            Path(staff_app.registry.settings["cjs.ca.dir"]), signer.ca_certificate
        ).read_bytes()
    )
    entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason == x509.ReasonFlags.key_compromise


def test_a_rejected_or_withdrawn_request_changes_nothing(
    customer: Customer, operator: Any, approver: Any, dbsession: Any
) -> None:
    """#14 item 2, BANK-5: 却下 needs a reason and is not the filer's; 取下げ is the filer's only;
    neither applies anything, both are audited, and a decided request cannot be approved."""
    certificate = logged_in_master(customer)
    fields = {"target_user": MASTER["user_id"], "revocation_reason": "superseded"}
    first = file_request(operator, "cert_revoke", MASTER["contract_no"], **fields)
    second = file_request(operator, "cert_revoke", MASTER["contract_no"], **fields)

    page = approver.get(f"/staff/requests/{first}")
    page = page.forms["reject-form"].submit()
    assert page.html.find(id="note-error").text == "却下の理由を入力してください。"
    form = operator.get(f"/staff/requests/{first}").forms["reject-form"]
    form["note"] = "印鑑相違"
    assert "受付者ご本人は却下できません" in form.submit().text
    form = approver.get(f"/staff/requests/{first}").forms["reject-form"]
    form["note"] = "お申込印が届出印と相違"
    page = form.submit().maybe_follow()
    assert page.html.find(id="state").text == "却下"
    assert page.html.find(id="decision-note").text == "お申込印が届出印と相違"

    assert "withdraw-form" not in approver.get(f"/staff/requests/{second}").forms
    page = operator.get(f"/staff/requests/{second}").forms["withdraw-form"].submit().maybe_follow()
    assert page.html.find(id="state").text == "取下げ"

    assert "approve-form" not in approver.get(f"/staff/requests/{first}").forms
    assert certificate_row(dbsession, certificate).status == "valid"
    assert "DC671101" in customer.app.get("/info").text
    assert [a[0] for a in audit_of(dbsession, first)] == [
        "staff_request.file",
        "staff_request.reject",
        "staff_request.reject",
    ]
    assert audit_of(dbsession, second)[-1] == (
        "staff_request.withdraw",
        OPERATOR,
        "bank",
        "success",
    )
    assert mails(dbsession, "cert_revoked") == []


def test_bad_input_on_the_filing_screens_shows_them_again_and_stores_nothing(
    customer: Customer, operator: Any, dbsession: Any
) -> None:
    """#14 acceptance, BANK-5: every field wrong or missing: the screen again, a Japanese message
    at each field, the input kept, nothing stored."""
    customer.register_master()
    page = operator.get("/staff/requests/new", {"kind": "nonsense", "contract_no": "99999999"})
    assert page.html.find(id="kind-error").text == "選択肢から選択してください。"
    assert page.html.find(id="contract_no-error").text == "このご契約番号のご契約はありません。"
    assert page.forms["start-form"]["contract_no"].value == "99999999"

    form = file_form(operator, "cert_revoke", MASTER["contract_no"]).forms["file-form"]
    form["requested_on"] = "2026/13/01"
    form["postal_code"] = "1234"
    form["address"] = ""
    form["phone"] = "03-ABCD"
    form["representative_name"] = "労金　花子"
    page = form.submit()
    errors = {p["id"]: p.text for p in page.html.select("p.error")}
    assert errors["requested_on-error"].startswith("依頼日はYYYY-MM-DDの形式")
    assert errors["postal_code-error"] == "郵便番号は「123-4567」の形式で入力してください。"
    assert errors["address-error"] == "ご住所を入力してください。"
    assert errors["phone-error"].startswith("電話番号は半角数字とハイフンで")
    assert errors["fax-error"] == "FAX番号を入力してください。"
    assert errors["target_user-error"] == "選択肢から選択してください。"
    form = page.forms["file-form"]
    assert (form["postal_code"].value, form["representative_name"].value) == ("1234", "労金　花子")

    for name, value in PAPER.items():
        form[name] = value
    form["requested_on"] = "2026-11-30"
    form["target_user"] = MASTER["user_id"]  # a master without a certificate
    page = form.submit()
    assert (
        page.html.find(id="target_user-error").text
        == "このユーザーには有効な電子証明書がありません。"
    )

    dbsession.rollback()
    assert dbsession.scalar(select(func.count()).select_from(StaffRequest)) == 0
    assert not dbsession.scalars(
        select(AuditEvent).where(AuditEvent.action.startswith("staff_request."))
    ).all()


def test_the_request_screens_answer_only_the_roles_that_may_use_them(
    customer: Customer, staff_app: Any, dbsession: Any
) -> None:
    """#14 item 2: operators file (REQUEST_FILE), approvers approve (REQUEST_APPROVE)."""
    from core.staff.roles import StaffRole
    from tests.staff_support import csrf_token, staff_client

    only_approver = staff_client(staff_app, "staff03", [StaffRole.APPROVER])
    only_operator = staff_client(staff_app, "staff04", [StaffRole.OPERATOR])
    administrator = staff_client(staff_app, "staff05", [StaffRole.ADMINISTRATOR])
    only_approver.get("/staff/requests/new", status=403)
    administrator.get("/staff/requests/new", status=403)
    assert only_operator.get("/staff/requests/new").status_int == 200
    assert "依頼書の受付" in only_operator.get("/staff/").text
    assert "依頼書の受付" not in only_approver.get("/staff/").text
    assert only_operator.get("/staff/requests/new/cert_revoke/10000001").status_int == 200
    only_operator.get("/staff/requests/new/nonsense/10000001", status=404)
    token = csrf_token(only_operator)
    only_operator.post("/staff/requests/1/approve", {"csrf_token": token}, status=403)
