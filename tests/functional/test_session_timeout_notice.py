"""The session timeout notice (AUTH-6, #15 item 6): a few minutes before the idle limit a notice with
ログインを継続する, whose one request restarts the idle time; without JavaScript the server's own
message at the next request stays the answer (tests/functional/test_issue_login.py)."""

from __future__ import annotations

import pytest
from conftest import MASTER


@pytest.fixture
def logged_in(customer, clock):
    """The demo member contract's master, logged in, its deposit group chosen."""
    customer.register_master()
    customer.app.reset()
    data, _ = customer.issue(MASTER["user_id"], MASTER["password"])
    customer.app.reset()
    customer.use_certificate(data, MASTER["password"])
    page = customer.login(MASTER["password"])
    page.forms["groups-form"].submit("group_id", index=0).maybe_follow()
    return customer


def test_the_logged_in_screens_carry_the_hidden_notice(logged_in):
    """Drawn hidden, timed from cjs.session.idle_minutes (60) with 5 minutes' warning; session.js
    from 'self' shows it; the keep-alive address and the CSRF token are on it."""
    page = logged_in.app.get("/info")
    notice = page.html.find(id="session-timeout")
    assert notice.has_attr("hidden") and notice["role"] == "alertdialog"
    assert (notice["data-idle-seconds"], notice["data-warn-seconds"]) == ("3600", "300")
    assert notice["data-keepalive-url"].endswith("/session/keepalive")
    assert notice["data-expired-url"].endswith("/info")
    assert notice["data-csrf-token"] == page.forms["logout"]["csrf_token"].value
    assert "まもなく自動的にログアウトします" in notice.get_text()
    button = notice.find("button", attrs={"data-keepalive": True})
    assert button["type"] == "button" and button.get_text() == "ログインを継続する"
    assert page.html.find("script", src=lambda src: src and src.endswith("/static/session.js"))
    logged_in.app.reset()
    assert logged_in.app.get("/").html.find(id="session-timeout") is None  # not before login


def test_the_keepalive_restarts_the_idle_time(logged_in, clock):
    """AUTH-6: 55 minutes idle, ログインを継続する, then 55 more: still logged in; without it the
    next request after 60 minutes ends the session with the server's message."""
    token = logged_in.app.get("/info").forms["logout"]["csrf_token"].value
    clock.advance(minutes=55)
    answer = logged_in.app.post(
        "/session/keepalive",
        headers={"X-CSRF-Token": token, "Referer": "https://localhost/info"},
        status=204,
    )
    assert answer.body == b""
    clock.advance(minutes=55)
    assert "DC671101" in logged_in.app.get("/info").text
    clock.advance(minutes=60, seconds=1)
    assert "一定時間操作がなかったため" in logged_in.app.get("/info").maybe_follow().text


def test_the_keepalive_needs_the_csrf_token_and_a_session(logged_in):
    """A POST like any other (CSRF); without a session it gives nothing (the top page)."""
    logged_in.app.post(
        "/session/keepalive", headers={"Referer": "https://localhost/info"}, status=400
    )
    logged_in.app.reset()
    answer = logged_in.app.post(
        "/session/keepalive", headers={"Referer": "https://localhost/info"}, expect_errors=True
    )
    assert answer.status_int in {302, 400, 403}  # never 204: nothing to keep alive
