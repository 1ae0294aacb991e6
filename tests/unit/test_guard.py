"""The request guard (#12, ACC-8, SPEC section 7) on a small Pyramid app of its own: what it refuses
before anything decodes the request, the limits, the ``accepts_upload`` view option, the public
address. The real applications are covered by tests/functional/test_hostile_input.py."""

from __future__ import annotations

import io
from typing import Any

import pytest
import webtest
from pyramid.config import Configurator
from pyramid.response import Response

from core.security import guard
from core.security.client_cert import CERTIFICATE_REFUSED, ClientCertificateMiddleware
from core.security.headers import SECURITY_HEADERS
from core.settings import ConfigurationError, public_url, validate

HTTPS = {"wsgi.url_scheme": "https", "HTTP_HOST": "cjs.example.jp"}
LIMITS = {
    "cjs.request.max_form_bytes": "1024",
    "cjs.request.max_upload_bytes": "8192",
    "cjs.request.max_fields": "20",
}


def _echo(request: Any) -> Response:
    """What the view got: the form fields, and the address the app believes it serves."""
    fields = "&".join(f"{name}={value!r}" for name, value in request.POST.items())
    return Response(f"{request.route_url('form')}|{fields}|{request.GET.get('q', '')}")


def _upload(request: Any) -> Response:
    return Response(f"upload {len(request.body)}")


def make_guarded(**settings: str) -> webtest.TestApp:
    """``/form`` (GET, POST), ``/import`` (POST takes files, GET does not) behind the guard."""
    config = Configurator(
        settings=validate(
            {
                "sqlalchemy.url": "sqlite://",
                "cjs.environment": "development",
                "cjs.service_url": "https://cjs.example.jp/",
                **LIMITS,
                **settings,
            }
        )
    )
    config.include("core.security.guard")
    config.add_route("form", "/form")
    config.add_view(_echo, route_name="form")
    config.add_route("import", "/import/{kind}")
    config.add_view(_upload, route_name="import", request_method="POST", accepts_upload=True)
    config.add_view(_echo, route_name="import", request_method="GET")
    router = config.make_wsgi_app()
    return webtest.TestApp(guard.wrap(router, router.registry), extra_environ=HTTPS)


@pytest.fixture
def client() -> webtest.TestApp:
    return make_guarded()


def assert_refused(response: Any, status: int) -> None:
    """A Japanese page with the status, every security header and a request id; nothing cached."""
    assert response.status_int == status
    assert response.content_type == "text/html"
    assert '<html lang="ja">' in response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Request-ID"] in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/?reason=%FF",  # invalid UTF-8 in the query
        "/form?q=%ED%A0%80",  # an encoded lone surrogate in the query
        "/%FF",  # invalid UTF-8 in the path
        "/users/%ED%A0%80",  # an encoded surrogate in the path
        "/form/%C0%AF",  # an overlong encoding of "/"
        "/form%00",  # NUL in the path
        "/form?q=a%00b",  # NUL in the query
        "/form?q=a%0Ab",  # a line feed in the query
        "/form?q=%1B[31m",  # an escape in the query
        "/form?q=%C2%85",  # a C1 control (NEL) in the query
        "/form?"
        + "&".join(f"f{n}=1" for n in range(21)),  # more fields than cjs.request.max_fields
    ],
)
def test_a_path_or_query_that_is_not_clean_utf8_is_refused_before_decoding(client, path):
    assert_refused(client.get(path, status=400), 400)


def test_a_clean_query_and_path_reach_the_view(client):
    assert client.get("/form?q=%E5%8A%B4%E9%87%91").text.endswith("|労金")


@pytest.mark.parametrize("charset", ["shift_jis", "utf-7", "latin-1", "iso-2022-jp"])
def test_a_form_in_a_foreign_charset_is_refused(client, charset):
    response = client.post(
        "/form",
        b"name=%82%A0",
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
        status=400,
    )
    assert_refused(response, 400)


def test_a_form_in_utf8_is_read(client):
    response = client.post(
        "/form",
        "name=労金".encode(),
        content_type='application/x-www-form-urlencoded; charset="UTF-8"',
    )
    assert "name='労金'" in response.text


@pytest.mark.parametrize(
    "body",
    [
        b"name=%FF",  # not UTF-8
        b"name=%ED%A0%80",  # an encoded surrogate
        b"name=\xff",  # a raw byte that is not UTF-8
        b"%FF=value",  # in a field's name
        b"name=a%00b",  # NUL
        b"name=a%07b",  # a bell
        b"name=a%7Fb",  # DEL
    ],
)
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", ""])
def test_a_form_value_that_is_not_clean_utf8_is_refused(client, body, content_type):
    """No Content-Type at all: WebOb reads the body as a form, so the guard checks it as one."""
    environ = {"CONTENT_TYPE": content_type} if content_type == "" else {}
    response = client.post(
        "/form", body, content_type=content_type or None, extra_environ=environ, status=400
    )
    assert_refused(response, 400)


def test_tab_line_feed_and_carriage_return_are_kept_in_form_values(client):
    """Textareas send them; the form's own rules judge them."""
    response = client.post("/form", {"note": "一行目\r\n\t二行目"})
    assert "note='一行目\\r\\n\\t二行目'" in response.text


def test_more_fields_than_the_limit_are_refused(client):
    body = "&".join(f"f{n}=x" for n in range(21)).encode()
    assert_refused(client.post("/form", body, status=400), 400)
    assert client.post("/form", "&".join(f"f{n}=x" for n in range(20)).encode()).status_int == 200


def test_a_multipart_post_to_a_screen_without_files_is_refused(client):
    """The issue's case: a text field sent as a file part gave WTForms a cgi.FieldStorage (500)."""
    response = client.post(
        "/form", {"csrf_token": "x"}, upload_files=[("name", "a.txt", b"hello")], status=400
    )
    assert_refused(response, 400)
    assert "ファイルを送信できません" in response.text


def test_a_body_over_the_form_limit_is_refused_by_its_content_length(client):
    response = client.post("/form", b"a=" + b"x" * 1100, status=413)
    assert_refused(response, 413)
    assert "上限 1 KB" in response.text


def _post_stream(client: webtest.TestApp, data: bytes) -> tuple[Any, io.BytesIO]:
    body = io.BytesIO(data)
    request = webtest.TestRequest.blank("/form", method="POST", environ=dict(HTTPS))
    request.environ.update(
        {
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.input": body,
        }
    )
    return client.do_request(request, status=413), body


def test_a_refused_body_is_read_to_its_end_so_the_client_gets_the_answer(client):
    """A lingering close (ACC-8): the client still sending a body too large for the screen gets
    the 413 page, not a connection reset; what is read stops at the server's upload limit."""
    response, body = _post_stream(client, b"a=" + b"x" * 3000)
    assert_refused(response, 413)
    assert body.tell() == 3002
    _response, huge = _post_stream(client, b"a=" + b"x" * 100_000)
    assert huge.tell() == int(LIMITS["cjs.request.max_upload_bytes"])


def _chunked(body: bytes) -> dict[str, Any]:
    """The environ of a chunked body as a WSGI server hands it over: no Content-Length."""
    return {
        "REQUEST_METHOD": "POST",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "wsgi.input": io.BytesIO(body),
    }


def test_a_chunked_body_is_read_through_a_bounded_reader(client):
    oversize = webtest.TestRequest.blank(
        "/form", environ={**HTTPS, **_chunked(b"a=" + b"x" * 2000)}
    )
    oversize.environ.pop("CONTENT_LENGTH", None)
    assert_refused(client.do_request(oversize, status=413), 413)

    small = webtest.TestRequest.blank("/form", environ={**HTTPS, **_chunked(b"a=1&b=%E5%8A%B4")})
    small.environ.pop("CONTENT_LENGTH", None)
    assert "a='1'&b='労'" in client.do_request(small).text


def test_a_view_declared_accepts_upload_takes_multipart_up_to_the_upload_limit(client):
    """The opt-in: ``accepts_upload=True`` raises the route's limit and allows multipart."""
    files = [("file", "data.csv", b"x" * 4000)]
    assert client.post("/import/csv", upload_files=files).text.startswith("upload ")
    big = [("file", "data.csv", b"x" * 9000)]
    assert_refused(client.post("/import/csv", upload_files=big, status=413), 413)


def test_the_other_views_of_an_upload_route_still_refuse_multipart_and_large_bodies(client):
    """The GET view of the upload route declares nothing: the view deriver refuses before the
    security policy and the CSRF check read the body."""
    body = (
        b'--b\r\nContent-Disposition: form-data; name="q"; filename="a.txt"\r\n\r\nx\r\n--b--\r\n'
    )
    response = client.request(
        "/import/csv",
        method="GET",
        body=body,
        headers={"Content-Type": "multipart/form-data; boundary=b"},
        environ=dict(HTTPS),
        status=400,
    )
    assert_refused(response, 400)
    assert "ファイルを送信できません" in response.text
    large = client.request(
        "/import/csv", method="GET", body=b"a=" + b"x" * 2000, environ=dict(HTTPS), status=413
    )
    assert_refused(large, 413)


@pytest.mark.parametrize(
    "host",
    ["evil.example", "cjs.example.jp.evil.example", "evil.example:443", "cjs.example.jp@evil", ""],
)
def test_a_request_for_another_host_is_refused(client, host):
    response = client.get("/form", extra_environ={"HTTP_HOST": host}, status=400)
    assert_refused(response, 400)
    assert "このアドレスではご利用いただけません" in response.text


def test_urls_are_built_from_the_public_address_whatever_the_request_said(client):
    """The Host's case and port, the scheme the server saw and forwarded host headers change
    nothing: every URL the app builds is ``cjs.service_url``'s."""
    response = client.get(
        "/form",
        extra_environ={
            "HTTP_HOST": "CJS.Example.JP:8443",
            "wsgi.url_scheme": "http",
            "HTTP_X_FORWARDED_HOST": "evil.example",
            "HTTP_FORWARDED": "host=evil.example;proto=http",
        },
    )
    assert response.text.startswith("https://cjs.example.jp/form|")


def test_a_public_address_with_a_port_keeps_it():
    client = make_guarded(**{"cjs.service_url": "https://localhost:8443"})
    response = client.get("/form", extra_environ={"HTTP_HOST": "localhost:8443"})
    assert response.text.startswith("https://localhost:8443/form|")


@pytest.mark.parametrize(
    "environ",
    [
        {"HTTP_X_SSL_CLIENT_VERIFY": "SUCCESS", "REMOTE_ADDR": "192.0.2.9"},  # untrusted peer
        {"SSL_CLIENT_VERIFY": "FAILED:certificate revoked"},
    ],
)
def test_the_client_certificate_refusals_are_pages_with_the_security_headers(environ):
    """AUTH-5's refusals (forged proxy headers, a FAILED verification) answer like the guard's."""
    router = make_guarded().app.app
    client = webtest.TestApp(
        guard.wrap(ClientCertificateMiddleware(router, ()), router.registry), extra_environ=HTTPS
    )
    response = client.get("/form", extra_environ=environ, status=400)
    assert_refused(response, 400)
    assert CERTIFICATE_REFUSED in response.text


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("https://CJS.example.jp", "https://cjs.example.jp/"),
        ("https://cjs.example.jp:443/", "https://cjs.example.jp/"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/"),
        ("https://[::1]:8443/", "https://[::1]:8443/"),
    ],
)
def test_the_public_url_setting_is_normalised(value, normalised):
    assert public_url(value) == normalised


@pytest.mark.parametrize(
    "value",
    ["cjs.example.jp", "ftp://cjs.example.jp/", "https://cjs.example.jp/cjs/", "https://h:x/"],
)
def test_a_public_url_that_is_no_base_url_stops_the_start(value):
    with pytest.raises(ConfigurationError, match=r"^cjs\.service_url: "):
        validate({"sqlalchemy.url": "sqlite://", "cjs.service_url": value})
