"""電子証明書の失効 through the staff application's four eyes, seen by a customer over real TLS
(#14 acceptance; BANK-5, CERT-6): an operator files the request, another staff member approves it,
and the customer's very next request with that certificate is refused, in both deployments.

The staff app is ``core.app.make_app(settings, kind="staff")`` on the deployment's database; its
screens are driven through ``tests.staff_support.staff_client`` (the staff sign-in of #14 is not in
this test's scope).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import MASTER
from test_tls import REVOKED, SESSION_ENDED, choose_first_group, log_in
from test_tls import issued as issued

from core.app import close_app, make_app
from core.staff.roles import StaffRole
from tests.staff_requests_support import APPROVER, OPERATOR, approve, file_request
from tests.staff_support import staff_client

pytestmark = pytest.mark.e2e


@pytest.fixture
def staff_app(deployment: Any) -> Iterator[Any]:
    """The staff app on the deployment's database, at the address its WebTest clients use."""
    application = make_app(
        {**deployment.settings, "cjs.staff.service_url": "https://localhost/"}, kind="staff"
    )
    try:
        yield application
    finally:
        close_app(application)


def test_a_revocation_approved_by_a_second_staff_member_is_refused_at_the_next_tls_request(
    deployment: Any, issued: Any, staff_app: Any
) -> None:
    """BANK-5, CERT-6: while the request waits the customer works on; once another staff member
    approves it, the open session ends at its next request over TLS and /login says 失効."""
    browser = log_in(deployment, issued)
    assert "DC671101" in choose_first_group(browser, browser.get("/groups")).text

    operator = staff_client(staff_app, OPERATOR, [StaffRole.OPERATOR])
    approver = staff_client(staff_app, APPROVER, [StaffRole.APPROVER])
    number = file_request(
        operator,
        "cert_revoke",
        MASTER["contract_no"],
        target_user=MASTER["user_id"],
        revocation_reason="keyCompromise",
    )
    assert "DC671101" in browser.get("/info").text  # a request alone changes nothing

    assert "承認済み" in approve(approver, number).text
    page = browser.get("/info")  # the very next request of the open session
    assert page.path == "/" and SESSION_ENDED in page.text and "DC671101" not in page.text
    page = browser.get("/login")
    assert "DC582101" not in page.text and REVOKED in page.text
