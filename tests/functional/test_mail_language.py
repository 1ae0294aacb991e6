"""SPEC 8, #15 item 3: each mail is written once, in one language (docs/emails.md).

A mail the customer's own request causes is in the language of that request; a mail their own
request did not cause (the daily job's expiry notice) is in the language they last used on the
screens (``users.language``). Japanese by default.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from conftest import MASTER
from sqlalchemy import select

from core.cli import jobs
from core.db.models import Certificate, OutboxMessage, User
from core.settings import validate
from core.web.language import LANGUAGE_COOKIE


def _mail(customer: Any, kind: str) -> tuple[str, str]:
    """Subject and body of the newest outbox mail ``kind`` to the master."""
    customer.db.rollback()
    row = customer.db.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.to_addr == MASTER["email"], OutboxMessage.kind == kind)
        .order_by(OutboxMessage.id.desc())
    ).first()
    assert row is not None, f"no {kind} mail"
    return row.subject, customer.mail_body(row)


def _language_of(customer: Any, user_id: str) -> str:
    customer.db.rollback()
    language: str = customer.db.scalars(select(User.language).where(User.user_id == user_id)).one()
    return language


def _issue_in_english(customer: Any) -> None:
    """FLOW-2 on the English screens, to the result: the code read from the English mail."""
    customer.app.set_cookie(LANGUAGE_COOKIE, "en")
    top = customer.app.get("/")
    page = customer.app.get(top.html.find(id="btn-cert")["href"]).maybe_follow()
    assert page.html.html["lang"] == "en"
    form = page.forms[0]
    form["user_id"] = MASTER["user_id"]
    form["password"] = MASTER["password"]
    page = form.submit().maybe_follow()
    form = page.forms[0]
    form["code"] = customer.latest_code(MASTER["email"])
    page = form.submit().maybe_follow()
    page = page.forms[0].submit().maybe_follow()  # Issue
    page.forms["issuing-form"].submit().maybe_follow()


def test_mails_are_japanese_by_default(customer):
    customer.register_master()
    subject, body = _mail(customer, "registered")
    assert subject == "【ろうきん賃金控除事務支援サービス】ユーザー登録完了のお知らせ"
    assert body.startswith("労金　太郎 様\n")
    assert _language_of(customer, MASTER["user_id"]) == "ja"
    customer.app.reset()
    customer.issue(MASTER["user_id"], MASTER["password"])
    subject, body = _mail(customer, "email_code")
    assert subject == "【ろうきん賃金控除事務支援サービス】認証コードのお知らせ"
    assert "　認証コード：" in body


def test_a_customer_on_the_english_screens_gets_the_code_mail_in_english(customer):
    """The code mail answers the customer's own request: in its language, English here, though
    the master registered on the Japanese screens; the language becomes the user's last-used."""
    customer.register_master()
    customer.app.reset()
    _issue_in_english(customer)

    subject, body = _mail(customer, "email_code")
    assert subject == "[Rokin Payroll Deduction Support Service] Your authentication code"
    assert body.startswith("Dear 労金　太郎,\n")
    assert "  Authentication code: " in body and "認証コード" not in body
    assert "valid for 30 minutes" in body
    subject, body = _mail(customer, "cert_issued")
    assert (
        subject
        == "[Rokin Payroll Deduction Support Service] Your client certificate has been issued"
    )
    assert " JST\n" in body  # the expiry in English, e.g. "24 December 2027 23:59 JST"
    assert _language_of(customer, MASTER["user_id"]) == "en"
    # The mail registered before stays as it was written.
    assert _mail(customer, "registered")[0].startswith("【ろうきん賃金控除事務支援サービス】")


def _expiry_notice_after_login(customer: Any, app_settings: dict[str, str], language: str) -> str:
    """Register, issue and log in on the screens of ``language``, then run the daily job 10 days
    before the certificate expires; the body of the expiry notice it wrote."""
    customer.register_master()
    customer.app.reset()
    data, _ = customer.issue(MASTER["user_id"], MASTER["password"])
    customer.app.reset()
    customer.use_certificate(data, MASTER["password"])
    customer.app.set_cookie(LANGUAGE_COOKIE, language)
    customer.login(MASTER["password"])
    assert _language_of(customer, MASTER["user_id"]) == language

    customer.db.rollback()
    not_after = customer.db.scalars(select(Certificate.not_after)).one()
    counts = jobs.run_daily(validate(app_settings), now=not_after - dt.timedelta(days=10))
    assert counts["cert_expiring"] == 1
    return "\n".join(_mail(customer, "cert_expiring"))


def test_the_daily_jobs_notice_is_in_the_language_the_user_last_used(customer, app_settings):
    """Not the user's own request: written in ``users.language``, which the logged-in English
    screens set."""
    text = _expiry_notice_after_login(customer, app_settings, "en")
    assert text.startswith("[Rokin Payroll Deduction Support Service] Your client certificate")
    assert "(10 days left)" in text and "How to issue a client certificate" in text
    assert "有効期限" not in text


def test_the_daily_jobs_notice_to_a_japanese_user_is_japanese(customer, app_settings):
    text = _expiry_notice_after_login(customer, app_settings, "ja")
    assert text.startswith("【ろうきん賃金控除事務支援サービス】電子証明書の有効期限のお知らせ")
    assert "（あと10日）" in text
