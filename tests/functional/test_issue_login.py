"""FLOW-2 certificate issuance and FLOW-4 login through WebTest, the certificate handed to the app as
the TLS server does (``SSL_CLIENT_*``); real TLS is exercised in tests/e2e."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import event, func, select

from core.app import make_app
from core.db import get_engine
from core.db.models import AuditEvent, Certificate, EmailCode, OutboxMessage, User, WebSession

PASSWORD = "Passw0rd!"

#: CERT-1: every test here runs with the software CA key and with the key on a SoftHSM2 token.
pytestmark = pytest.mark.signers


@pytest.fixture
def master(customer):
    """The demo member contract's master, registered."""
    customer.register_master()
    customer.app.reset()
    return customer


def issued(master):
    data, filename = master.issue("master01", PASSWORD)
    return data, filename


def test_issuance_with_the_emailed_code_then_login_to_the_information_screen(master, dbsession):
    """FLOW-2 then FLOW-4: DC586101 → code → 発行 → result + download → login → DC590101 → DC671101.

    CERT-7 (issuance well under a second) is measured by bench/issue_cert.py, not timed here.
    """
    page = master.start_issue("master01", PASSWORD)
    assert "認証コード入力" in page.text
    form = page.forms[0]
    form["code"] = master.latest_code("taro@example.com")
    page = form.submit().maybe_follow()
    assert "電子証明書発行" in page.text and "発行" in page.text
    issuing = page.forms[0].submit().maybe_follow()
    assert "電子証明書発行中" in issuing.text
    result = issuing.forms["issuing-form"].submit().maybe_follow()
    assert "電子証明書発行結果" in result.text
    assert result.headers["Refresh"].endswith("/cert/download")  # the automatic download
    assert result.html.find(id="download-link") is not None  # and the plain link
    download = master.app.get("/cert/download")
    assert download.content_type == "application/x-pkcs12"
    filename = re.search(r'filename="(.+)"', download.headers["Content-Disposition"]).group(1)
    assert re.fullmatch(r"master01\d{14}\.p12", filename)  # CERT-3
    key, certificate, chain = pkcs12.load_key_and_certificates(download.body, PASSWORD.encode())
    assert key is not None and certificate is not None and chain
    # The page starts the download once; a reload shows the link, which still works (the browser
    # may have dropped the first download, or the customer cancelled saving it).
    again = master.app.get("/cert/result")
    assert "Refresh" not in again.headers and again.html.find(id="download-link") is not None
    assert master.app.get("/cert/download").body == download.body

    master.app.reset()
    master.use_certificate(download.body, PASSWORD)
    page = master.login(PASSWORD)
    assert "DC590101" in page.text  # 会員 with two deposit groups
    assert "労金控除(明細更新)・賃金控除元帳・一斉積立" in page.text
    page = page.forms["groups-form"].submit("group_id", index=1).maybe_follow()
    assert "DC671101" in page.text and "今回が初めてのログインです。" in page.text
    assert "東支部" in page.text  # the selected group in the header
    dbsession.rollback()
    actions = set(dbsession.scalars(select(AuditEvent.action)))
    assert {"issue.password", "code.send", "code.accept", "cert.issue", "login.success"} <= actions


def _session_data(dbsession) -> str:
    """Every session row's data, as stored."""
    dbsession.rollback()
    return "\n".join(json.dumps(row.data) for row in dbsession.scalars(select(WebSession)))


def test_the_issued_file_rests_only_sealed_and_closing_the_result_wipes_it(master, dbsession):
    """FLOW-2, CERT-3: while the result screen is open its link gives the file again (the fallback
    when the browser dropped the automatic download); the session row holds it only encrypted under
    the cookie's key; 閉じる wipes it and goes to the top page."""
    data, _ = issued(master)
    stored = _session_data(dbsession)
    assert '"pkcs12"' in stored  # held, sealed
    assert base64.b64encode(data).decode()[:64] not in stored and PASSWORD not in stored
    result = master.app.get("/cert/result")
    assert master.app.get("/cert/download").body == data
    page = result.forms["close-form"].submit().maybe_follow()
    assert page.request.path == "/"
    assert '"pkcs12"' not in _session_data(dbsession)
    assert master.app.get("/cert/download").maybe_follow().request.path == "/"
    assert master.app.get("/cert/result").maybe_follow().request.path == "/"


def test_another_flow_wipes_the_issued_file(master, dbsession):
    """FLOW-2: logging in (or starting any flow) in the same browser wipes a file still held."""
    data, _ = issued(master)
    master.use_certificate(data, PASSWORD)
    assert "DC590101" in master.login(PASSWORD).text
    assert '"pkcs12"' not in _session_data(dbsession)
    assert master.app.get("/cert/download").status_int == 302


def test_the_download_writes_nothing(master, app):
    """AUTH-6: a request within seconds of the last one leaves the idle timer and the database as
    they are; the download of the issued file is a read."""
    master.issue("master01", PASSWORD)
    writes = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            writes.append(statement)

    event.listen(get_engine(app.registry), "before_cursor_execute", record)
    try:
        assert master.app.get("/cert/download").content_type == "application/x-pkcs12"
    finally:
        event.remove(get_engine(app.registry), "before_cursor_execute", record)
    assert writes == []


def test_the_emailed_code_is_stored_only_hashed_and_single_use(master, dbsession):
    """AUTH-3."""
    master.start_issue("master01", PASSWORD)
    code = master.latest_code("taro@example.com")
    record = dbsession.scalars(select(EmailCode)).one()
    assert code not in record.code_hash
    events = " ".join(
        str(e.details) + (e.message or "") for e in dbsession.scalars(select(AuditEvent))
    )
    assert code not in events


def test_a_new_code_voids_the_previous_one(master, dbsession):
    """AUTH-3: a new request voids the previous code."""
    master.start_issue("master01", PASSWORD)
    first = master.latest_code("taro@example.com")
    page = master.start_issue("master01", PASSWORD)  # 電子証明書発行 again
    second = master.latest_code("taro@example.com")
    form = page.forms[0]
    form["code"] = first if first != second else "000000"
    page = form.submit().maybe_follow()
    assert "認証コードが正しくありません。" in page.text


def test_five_wrong_codes_restart_the_flow(master):
    """AUTH-3: 5 wrong entries restart from DC586101."""
    page = master.start_issue("master01", PASSWORD)
    code = master.latest_code("taro@example.com")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        form = page.forms[0]
        form["code"] = wrong
        page = form.submit().maybe_follow()
        assert "認証コードが正しくありません。" in page.text
    form = page.forms[0]
    form["code"] = wrong
    page = form.submit().maybe_follow()
    assert "DC586101" in page.text and "規定回数に達しました" in page.text


def test_an_expired_code_restarts_the_flow(master, clock):
    """AUTH-3: valid 30 minutes."""
    page = master.start_issue("master01", PASSWORD)
    form = page.forms[0]
    form["code"] = master.latest_code("taro@example.com")
    clock.advance(minutes=30, seconds=1)
    page = form.submit().maybe_follow()
    assert "有効期限が切れました" in page.text and "DC586101" in page.text


def test_cancel_on_the_code_screen_returns_to_dc586101(master):
    """FLOW-2."""
    page = master.start_issue("master01", PASSWORD)
    page = page.click(description="キャンセル").maybe_follow()
    assert "DC586101" in page.text


def test_issuance_without_the_email_code_when_the_bank_configures_it(app_settings, bank, dbsession):
    """AUTH-8: a pipeline without the email code; the flow adapts."""
    import webtest
    from conftest import Customer

    app = make_app({**app_settings, "cjs.pipeline.issue": "password"})
    customer = Customer(
        webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}),
        dbsession,
    )
    customer.register_master()
    customer.app.reset()
    page = customer.start_issue("master01", PASSWORD)
    assert "認証コード" not in page.text and "発行" in page.text
    data, _ = customer.issue("master01", PASSWORD)
    assert pkcs12.load_key_and_certificates(data, PASSWORD.encode())[1] is not None
    assert dbsession.scalar(select(func.count()).select_from(EmailCode)) == 0
    get_engine(app.registry).dispose()


def test_issuance_is_refused_while_a_valid_certificate_is_held(master):
    """AUTH-4: refused while held, outside the renewal window (after the certificate was used)."""
    data, _ = issued(master)
    master.app.reset()
    master.use_certificate(data, PASSWORD)
    master.login(PASSWORD)
    master.app.reset()
    page = master.start_issue("master01", PASSWORD)
    assert "有効な電子証明書が発行済みのため" in page.text and "DC586101" in page.text


def test_a_never_used_certificate_may_be_replaced(master, dbsession):
    """CERT-8: the unused one is revoked and the user emailed."""
    first, _ = issued(master)
    master.app.reset()
    issued(master)
    dbsession.rollback()
    statuses = dbsession.scalars(select(Certificate.status).order_by(Certificate.id)).all()
    assert statuses == ["revoked", "valid"]
    kinds = set(dbsession.scalars(select(OutboxMessage.kind)))
    assert "cert_replaced" in kinds
    master.app.reset()
    master.use_certificate(first, PASSWORD)
    page = master.app.get("/login").maybe_follow()
    assert "失効しています" in page.text  # AUTH-5: the revoked one never reaches DC582101


def test_login_needs_a_certificate(master):
    """AUTH-5: no certificate never reaches DC582101; the top page explains what to do."""
    page = master.app.get("/login").maybe_follow()
    assert "DC581101" in page.text and "電子証明書が確認できませんでした" in page.text


def test_an_expired_certificate_never_reaches_the_password_screen(master, clock):
    data, _ = issued(master)
    master.app.reset()
    master.use_certificate(data, PASSWORD)
    clock.advance(days=367)
    page = master.app.get("/login").maybe_follow()
    assert "有効期限が切れています" in page.text


def test_wrong_passwords_lock_login_and_issuance_alike(master, dbsession, clock):
    """AUTH-1: the login and the issuance password share one credential and its counters."""
    data, _ = issued(master)
    master.app.reset()
    master.use_certificate(data, PASSWORD)
    for _ in range(3):
        assert "パスワードが正しくありません。" in master.login("Wrong#999").text
    for _ in range(2):
        page = master.start_issue("master01", "Wrong#999")
        assert "ユーザーIDまたはパスワードが正しくありません。" in page.text
    page = master.login("Wrong#999")
    assert "ロックされています" in page.text
    assert "ロックされています" in master.login(PASSWORD).text  # refused, not revealed
    dbsession.rollback()
    mail = dbsession.scalars(select(OutboxMessage).where(OutboxMessage.kind == "locked")).one()
    assert mail.to_addr == "taro@example.com"
    clock.advance(minutes=60)
    assert "DC590101" in master.login(PASSWORD).text


def test_a_blocked_master_cannot_log_in_and_its_sessions_end(master, dbsession, clock):
    """AUTH-1: the 3rd lock blocks; no time-based reset; AUTH-5: blocked never reaches DC582101."""
    data, _ = issued(master)
    master.app.reset()
    master.use_certificate(data, PASSWORD)
    for _ in range(3):
        for _ in range(6):
            page = master.login("Wrong#999")
        clock.advance(minutes=61)
    page = master.app.get("/login").maybe_follow()
    assert "閉塞されています" in page.text and "DC581101" in page.text
    dbsession.rollback()
    assert dbsession.scalars(select(User.blocked_at)).one() is not None
    assert "blocked" in set(dbsession.scalars(select(OutboxMessage.kind)))


def test_password_change_then_logout_ends_the_session(master, dbsession):
    """FLOW-6 and FLOW-7."""
    data, _ = issued(master)
    master.app.reset()
    master.use_certificate(data, PASSWORD)
    master.login(PASSWORD).forms["groups-form"].submit("group_id", index=0).maybe_follow()
    page = master.app.get("/password")
    form = page.forms["password-form"]
    form["current_password"] = PASSWORD
    form["new_password"] = "N3w#Passw"
    form["new_password_confirm"] = "N3w#Passw"
    page = form.submit().maybe_follow()
    assert "パスワードを変更しました。" in page.text
    dbsession.rollback()
    assert "password_changed" in set(dbsession.scalars(select(OutboxMessage.kind)))
    page = page.forms["logout"].submit().maybe_follow()  # ログアウト
    assert "ログアウトしました。" in page.text
    dbsession.rollback()
    logged_in = select(func.count()).select_from(WebSession).where(WebSession.user_pk.is_not(None))
    assert dbsession.scalar(logged_in) == 0
    assert master.app.get("/info").maybe_follow().request.path == "/"


def test_the_session_times_out_after_sixty_idle_minutes(master, clock):
    """AUTH-6: 60 minutes idle, then forced logout with a message."""
    data, _ = issued(master)
    master.app.reset()
    master.use_certificate(data, PASSWORD)
    master.login(PASSWORD).forms["groups-form"].submit("group_id", index=0)
    clock.advance(minutes=59)
    assert "DC671101" in master.app.get("/info").text  # a click resets the count
    clock.advance(minutes=59)
    assert "DC671101" in master.app.get("/info").text
    clock.advance(minutes=60)
    page = master.app.get("/info").maybe_follow()
    assert "一定時間操作がなかったため" in page.text


def test_the_idle_limit_counts_from_at_most_five_seconds_before_the_last_request(
    master, clock, dbsession
):
    """AUTH-6: a request less than 5 s after the recorded activity does not move it (no write), so
    a session may end up to 5 s early, never late."""
    data, _ = issued(master)
    master.app.reset()
    master.use_certificate(data, PASSWORD)
    master.login(PASSWORD).forms["groups-form"].submit("group_id", index=0)

    def last_seen():
        dbsession.rollback()
        logged_in = select(WebSession).where(WebSession.user_pk.is_not(None))
        return dbsession.scalars(logged_in).one().last_seen_at

    clock.advance(minutes=10)
    master.app.get("/info")
    assert last_seen() == clock.now
    clock.advance(seconds=4)
    assert "DC671101" in master.app.get("/info").text
    assert last_seen() == clock.now - dt.timedelta(seconds=4)  # not moved: 4 s < 5 s
    clock.advance(seconds=2)
    master.app.get("/info")
    assert last_seen() == clock.now  # 6 s: moved
    recorded = clock.now
    clock.advance(seconds=4)
    assert "DC671101" in master.app.get("/info").text  # the last request, not recorded
    clock.now = recorded + dt.timedelta(minutes=60)  # 59 min 56 s after it
    assert "一定時間操作がなかったため" in master.app.get("/info").maybe_follow().text


def test_session_id_changes_at_login_and_cookies_are_locked_down(master):
    """AUTH-6: renewed at login; __Host-, Secure, HttpOnly, SameSite."""
    data, _ = issued(master)
    master.app.reset()
    master.use_certificate(data, PASSWORD)
    page = master.app.get("/login").maybe_follow()
    before = master.app.cookies["__Host-cjs_session"]
    form = page.forms[0]
    form["password"] = PASSWORD
    response = form.submit()
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie or "secure" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert master.app.cookies["__Host-cjs_session"] != before


def test_a_revoked_certificate_ends_an_open_session_at_the_next_request(master, dbsession):
    """CERT-6: refused at the next request, not at the next login."""
    data, _ = issued(master)
    master.app.reset()
    master.use_certificate(data, PASSWORD)
    master.login(PASSWORD).forms["groups-form"].submit("group_id", index=0)
    assert "DC671101" in master.app.get("/info").text
    dbsession.rollback()
    certificate = dbsession.scalars(select(Certificate)).one()
    certificate.status = "revoked"
    certificate.revoked_at = dt.datetime.now(dt.UTC)
    dbsession.commit()
    page = master.app.get("/info").maybe_follow()
    assert "DC581101" in page.text and "電子証明書が確認できなくなったため" in page.text
    dbsession.rollback()
    logged_in = select(func.count()).select_from(WebSession).where(WebSession.user_pk.is_not(None))
    assert dbsession.scalar(logged_in) == 0  # the session row is gone, not only the cookie


def test_a_session_cannot_be_used_without_its_certificate(master):
    """AUTH-5: the session is bound to the certificate it logged in with."""
    data, _ = issued(master)
    master.app.reset()
    master.use_certificate(data, PASSWORD)
    master.login(PASSWORD).forms["groups-form"].submit("group_id", index=0)
    master.app.extra_environ = {**master.app.extra_environ, "SSL_CLIENT_VERIFY": "NONE"}
    master.app.extra_environ.pop("SSL_CLIENT_CERT")
    page = master.app.get("/info").maybe_follow()
    assert "DC581101" in page.text


def test_a_failed_proxy_verification_is_refused_everywhere(testapp):
    """AUTH-5 behind nginx: $ssl_client_verify FAILED never reaches the app's screens."""
    testapp.get("/", extra_environ={"SSL_CLIENT_VERIFY": "FAILED:certificate revoked"}, status=400)


def test_proxy_headers_from_an_untrusted_peer_are_refused(testapp):
    testapp.get(
        "/",
        headers={"X-SSL-Client-Verify": "SUCCESS"},
        extra_environ={"REMOTE_ADDR": "192.0.2.9"},
        status=400,
    )


def _certificates(dbsession) -> int:
    dbsession.rollback()
    return int(dbsession.scalar(select(func.count()).select_from(Certificate)) or 0)


def test_issue_answers_with_the_issuing_screen_that_moves_on_by_itself(master, dbsession):
    """FLOW-2 (001 p.10 (9), 000 「③ 発行中」, 002 「⑦ 発行中」): 発行 answers with 電子証明書発行中
    and the manual's note; its form is sent by templates/static/autosubmit.js (from 'self', no inline
    script) and, without JavaScript, by its 次へ button; the certificate is made when it is sent."""
    page = master.start_issue("master01", PASSWORD)
    form = page.forms[0]
    form["code"] = master.latest_code("taro@example.com")
    confirm = form.submit().maybe_follow()
    assert master.app.get("/cert/issuing").maybe_follow().request.path == "/cert/issue"
    issuing = confirm.forms[0].submit().maybe_follow()
    assert issuing.request.path == "/cert/issuing"
    assert issuing.html.find("h1").get_text() == "電子証明書発行中"
    assert "電子証明書を発行しています。そのままお待ちください。" in issuing.text
    assert "※ 電子証明書の発行は、数十秒かかる場合があります。" in issuing.text
    issuing_form = issuing.html.find("form", id="issuing-form")
    assert issuing_form.has_attr("data-autosubmit") and issuing_form["method"] == "post"
    assert issuing_form.find("button", type="submit").get_text() == "次へ"
    script = issuing.html.find("script", src=re.compile(r"/static/autosubmit\.js$"))
    assert script is not None and script.has_attr("defer")
    assert "requestSubmit" in master.app.get("/static/autosubmit.js").text
    assert issuing.html.find("script", src=False) is None  # no inline script
    assert _certificates(dbsession) == 0  # nothing made before the screen's form goes
    result = issuing.forms["issuing-form"].submit().maybe_follow()
    assert result.request.path == "/cert/result" and "電子証明書発行結果" in result.text
    assert _certificates(dbsession) == 1


def test_a_double_submit_of_issue_issues_once(master, dbsession):
    """AUTH-9: 発行 pressed twice shows 電子証明書発行中 once more; its form sent twice (a click
    beside the script, a reload of the POST) issues one certificate and lands on the result, and so
    does a reload of the issuing screen afterwards."""
    page = master.start_issue("master01", PASSWORD)
    form = page.forms[0]
    form["code"] = master.latest_code("taro@example.com")
    confirm = form.submit().maybe_follow()
    first = confirm.forms[0].submit()
    second = confirm.forms[0].submit()  # the same form again, as a second click sends it
    assert first.status_int == second.status_int == 302
    issuing = second.maybe_follow()
    assert issuing.request.path == "/cert/issuing"
    once = issuing.forms["issuing-form"].submit()
    twice = issuing.forms["issuing-form"].submit()
    assert once.status_int == twice.status_int == 302
    assert twice.maybe_follow().request.path == "/cert/result"
    assert master.app.get("/cert/issuing").maybe_follow().request.path == "/cert/result"
    assert _certificates(dbsession) == 1


def test_back_and_reload_keep_the_flow_where_it_is(master):
    """AUTH-9: going back to DC586101 while the code is due shows the code screen again; a reload of
    the code screen does not send a new code."""
    page = master.start_issue("master01", PASSWORD)
    code = master.latest_code("taro@example.com")
    back = master.app.get("/cert").maybe_follow()
    assert "認証コード入力" in back.text
    reloaded = master.app.get(page.request.url)
    assert "認証コード入力" in reloaded.text
    assert master.latest_code("taro@example.com") == code
    form = reloaded.forms[0]
    form["code"] = code
    assert "電子証明書発行" in form.submit().maybe_follow().text


def test_a_session_open_at_closing_time_ends_with_the_hours_notice(master, app, clock, dbsession):
    """AUTH-7: outside hours every screen shows the notice, and the open session ends with it."""
    import dataclasses

    from core.hours import get_service_hours, set_service_hours
    from core.timefmt import JST

    hours = get_service_hours(app.registry)
    set_service_hours(app.registry, dataclasses.replace(hours, always_open=False))
    clock.now = dt.datetime(2026, 11, 24, 19, 30, tzinfo=JST)  # a Tuesday, open
    data, _ = issued(master)
    master.app.reset()
    master.use_certificate(data, PASSWORD)
    master.login(PASSWORD).forms["groups-form"].submit("group_id", index=0)
    assert "DC671101" in master.app.get("/info").text
    clock.now = dt.datetime(2026, 11, 24, 20, 0, tzinfo=JST)
    closed = master.app.get("/info", status=503)
    assert "ただいまの時間はご利用いただけません。" in closed.text
    dbsession.rollback()
    logged_in = select(func.count()).select_from(WebSession).where(WebSession.user_pk.is_not(None))
    assert dbsession.scalar(logged_in) == 0
    clock.now = dt.datetime(2026, 11, 25, 8, 0, tzinfo=JST)
    assert master.app.get("/info").maybe_follow().request.path == "/"  # log in again
