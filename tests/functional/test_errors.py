"""Error screens: Japanese, no internal detail, the request id to quote (SPEC 8, ACC-8)."""

from __future__ import annotations

import logging

import webtest

from core.app import make_config
from core.db import get_engine
from core.security.client_cert import ClientCertificateMiddleware
from hsm.interfaces import SignerUnavailable


def crash(request):
    raise RuntimeError("secret internal detail")


def no_signer(request):
    raise SignerUnavailable("token gone")


def test_an_unknown_page_answers_in_japanese(testapp):
    page = testapp.get("/no/such/page", status=404)
    assert "お探しのページは見つかりませんでした" in page.text
    assert page.headers["Content-Security-Policy"]


def test_a_form_without_a_valid_token_gets_the_japanese_notice(testapp):
    page = testapp.post(
        "/register/master",
        {"contract_no": "10000001"},
        headers={"Origin": "https://localhost"},
        status=400,
    )
    assert "画面の有効期限が切れたか" in page.text


def test_a_system_error_shows_the_request_id_and_no_detail(app_settings, caplog):
    config = make_config(app_settings)
    config.add_route("crash", "/crash")
    config.add_view(crash, route_name="crash")
    config.add_route("sign", "/sign")
    config.add_view(no_signer, route_name="sign")
    router = config.make_wsgi_app()
    client = webtest.TestApp(
        ClientCertificateMiddleware(router, ()),
        extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"},
    )
    with caplog.at_level(logging.ERROR, logger="core.web.errors"):
        page = client.get("/crash", status=500)
    assert "システムエラーが発生しました" in page.text
    assert "secret internal detail" not in page.text and "Traceback" not in page.text
    request_id = page.headers["X-Request-ID"]
    assert request_id in page.text
    assert any(request_id in r.getMessage() for r in caplog.records)
    page = client.get("/sign", status=503)
    assert "ただいま電子証明書を発行できません" in page.text
    get_engine(router.registry).dispose()
