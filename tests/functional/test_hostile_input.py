"""Hostile input generated from the route table (#12, ACC-8, SPEC section 7): no 500, ever.

Every route of the customer app and of the staff app, with every method its views answer, is sent
invalid UTF-8 and encoded lone surrogates in the path and the query, NUL and other control characters,
forms in foreign charsets (shift_jis, utf-7, latin-1), multipart bodies (a text field sent as a file
part, with a valid CSRF token from a real form), bodies over the limit (by Content-Length and
chunked), 10,000 fields and a foreign Host — once as an anonymous visitor and once as a logged-in
master with a certificate. Then Hypothesis posts generated values (any unicode without surrogates,
control characters, huge strings) with a valid CSRF token to every form either of them is shown.

Each answer must be below 500 and carry every security header and an X-Request-ID; a request the
service refused (400, 413) must have stored nothing (the row count of every table is unchanged). The
number of cases tried is printed (``pytest -s``) and shown in the terminal summary.
"""

from __future__ import annotations

import io
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import webob
import webtest
from conftest import MASTER, Customer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyramid.interfaces import IRoutesMapper
from sqlalchemy import inspect, text

from core.app import close_app, make_app
from core.db import make_engine
from core.security.headers import SECURITY_HEADERS
from tests.staff_support import staff_client

HTTPS = {"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
MAX_FORM_BYTES = 1048576  # the default of cjs.request.max_form_bytes
MARK = "HOSTILEPLACEHOLDER"
#: Placeholder values that make each route's path valid (the master's own user, the first manual).
VALID = {"user_id": MASTER["user_id"], "manual_id": "1", "issuer": "0", "subpath": "cjs.css"}
VALID_STAR = {"subpath": ("cjs.css",), "encoded": ("MEIw",)}

#: Appended to a path, or put in a placeholder: bytes no UTF-8 decoder accepts, or control characters.
REFUSED_IN_PATH = ["%FF", "%ED%A0%80", "%C0%AF", "%00", "%1B%5B31m", "%0D%0A", "%C2%85"]
#: Put in a placeholder: valid UTF-8 the views must judge themselves (never a 500).
ODD_IN_PLACEHOLDER = ["..%2F..%2Fetc%2Fpasswd", "%E2%80%AE%E3%81%82", "%27%22%3C%3E", "9" * 5000]
REFUSED_QUERIES = [
    "reason=%FF",
    "restart=%ED%A0%80",
    "q=a%00b",
    "q=%0D%0ASet-Cookie:%20x=1",
    "q=%C2%85",
    "&".join(f"f{n}=1" for n in range(10_000)),
]


@dataclass
class Tally:
    """How many hostile requests were sent."""

    cases: int = 0
    refused: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, refused: bool) -> None:
        self.cases += 1
        self.refused += refused
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1


@dataclass
class Target:
    """One route and method, with its valid path and the paths with a hostile placeholder."""

    app_kind: str
    route: str
    method: str
    path: str
    hostile_paths: list[str]


def _methods(registry: Any, route_name: str) -> list[str]:
    """The methods the route's views answer (every common one when a view takes any)."""
    introspector = registry.introspector
    route = introspector.get("routes", route_name)
    methods: set[str] = set()
    for related in introspector.related(route) if route is not None else []:
        if related.category_name != "views":
            continue
        declared = related["request_methods"]
        if declared is None:
            methods.update({"GET", "POST"})
        else:
            methods.update([declared] if isinstance(declared, str) else declared)
    return sorted(methods - {"HEAD"}) or ["GET"]


def _generate(route: Any, values: dict[str, Any]) -> str:
    path = route.generate(values)
    return path if path.startswith("/") else "/" + path


def targets(app: Any, app_kind: str) -> list[Target]:
    """Every route of ``app`` and method, from the route mapper and the view introspector."""
    found = []
    for route in app.registry.getUtility(IRoutesMapper).get_routes():
        names = re.findall(r"\{(\w+)", route.pattern)
        stars = re.findall(r"\*(\w+)", route.pattern)
        path = _generate(
            route, {**{n: VALID.get(n, "x") for n in names}, **{s: VALID_STAR[s] for s in stars}}
        )
        hostile_paths = []
        if names or stars:
            marked = _generate(route, {**dict.fromkeys(names, MARK), **{s: (MARK,) for s in stars}})
            hostile_paths = [marked.replace(MARK, value) for value in REFUSED_IN_PATH]
            hostile_paths += [marked.replace(MARK, value) for value in ODD_IN_PLACEHOLDER]
        for method in _methods(app.registry, route.name):
            found.append(Target(app_kind, route.name, method, path, hostile_paths))
    return found


class Database:
    """The row count of every table, in one query."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url, sqlite_begin_immediate=False)
        tables = sorted(inspect(self.engine).get_table_names())
        self.query = text(
            "SELECT "  # noqa: S608 (table names from the database itself)
            + ", ".join(f'(SELECT count(*) FROM "{name}")' for name in tables)  # noqa: S608
        )

    def counts(self) -> tuple[int, ...]:
        with self.engine.connect() as connection:
            return tuple(connection.execute(self.query).one())


def assert_answered(response: Any, what: str) -> None:
    """Below 500, with every security header and a request id."""
    assert response.status_int < 500, f"{what}: {response.status}"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, f"{what}: {name} missing"
    assert response.headers.get("X-Request-ID"), f"{what}: no X-Request-ID"


def _multipart(csrf_token: str) -> tuple[str, bytes]:
    """A form whose text field ``user_id`` comes as a file part, beside a valid CSRF token."""
    boundary = "cjs-hostile"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf_token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="user_id"; filename="id.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nmaster01\r\n--{boundary}--\r\n"
    ).encode()
    return f"multipart/form-data; boundary={boundary}", body


def body_cases(csrf_token: str) -> list[tuple[str, dict[str, Any]]]:
    """Hostile bodies: (kind, environ additions). Each is refused by the guard."""
    token = urllib.parse.quote(csrf_token)
    form = "application/x-www-form-urlencoded"
    cases: list[tuple[str, dict[str, str], bytes]] = []
    for charset in ("shift_jis", "utf-7", "latin-1"):
        body = f"csrf_token={token}&user_id=%82%A0%2B".encode()
        cases.append((f"charset {charset}", {"CONTENT_TYPE": f"{form}; charset={charset}"}, body))
    for value in ("%FF", "%ED%A0%80", "a%00b", "a%1Bb"):
        cases.append(
            (
                f"form value {value}",
                {"CONTENT_TYPE": form},
                f"csrf_token={token}&user_id={value}".encode(),
            )
        )
    cases.append(("no type, not UTF-8", {"CONTENT_TYPE": ""}, b"user_id=\xff\xfe"))
    content_type, multipart = _multipart(csrf_token)
    cases.append(("multipart file in a text field", {"CONTENT_TYPE": content_type}, multipart))
    fields = "&".join(f"f{n}=1" for n in range(10_000)).encode()
    cases.append(("10,000 fields", {"CONTENT_TYPE": form}, fields))
    cases.append(("oversize", {"CONTENT_TYPE": form}, b"a=" + b"x" * MAX_FORM_BYTES))
    result = []
    for kind, environ, body in cases:
        result.append(
            (kind, {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
        )
    chunked = b"a=" + b"x" * (MAX_FORM_BYTES + 10)
    result.append(
        (
            "oversize chunked",
            {
                "CONTENT_TYPE": form,
                "HTTP_TRANSFER_ENCODING": "chunked",
                "wsgi.input": io.BytesIO(chunked),
            },
        )
    )
    return result


def _send(client: webtest.TestApp, method: str, path: str, environ: dict[str, Any]) -> Any:
    """One raw request to the client's app with its cookies: ``path`` is sent as it is
    (percent-encoded, decoded to the latin-1 ``PATH_INFO`` a server hands over); WebTest itself
    would decode the path to match cookies."""
    raw_path, _, query = path.partition("?")
    cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    request = webob.Request.blank("/", method=method)
    request.environ.update(
        {
            **client.extra_environ,
            "HTTP_COOKIE": cookies,
            "PATH_INFO": urllib.parse.unquote_to_bytes(raw_path).decode("latin-1"),
            "QUERY_STRING": query,
            "CONTENT_LENGTH": "0",
            "wsgi.input": io.BytesIO(b""),
            **environ,
        }
    )
    if "HTTP_TRANSFER_ENCODING" in environ:
        request.environ.pop("CONTENT_LENGTH", None)
    status, headers, app_iter = request.call_application(client.app)
    try:
        body = b"".join(app_iter)
    finally:
        if hasattr(app_iter, "close"):
            app_iter.close()
    return webob.Response(status=status, headerlist=headers, body=body)


def _csrf_token(page: Any) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None, "no CSRF token on the page"
    return match.group(1)


def run_route_table(
    client: webtest.TestApp, app: Any, app_kind: str, csrf_token: str, db: Database, tally: Tally
) -> None:
    """Every hostile case on every route and method of ``app``, through ``client``."""
    for target in targets(app, app_kind):
        label = f"{app_kind} {target.method} {target.route}"
        refused_cases: list[tuple[str, str, dict[str, Any]]] = [
            ("path", target.path + value, {}) for value in REFUSED_IN_PATH
        ]
        refused_cases += [
            ("placeholder", path, {}) for path in target.hostile_paths[: len(REFUSED_IN_PATH)]
        ]
        refused_cases += [("query", f"{target.path}?{query}", {}) for query in REFUSED_QUERIES]
        refused_cases += [(kind, target.path, environ) for kind, environ in body_cases(csrf_token)]
        refused_cases.append(("foreign host", target.path, {"HTTP_HOST": "evil.example"}))
        refused_cases.append(
            ("foreign host", target.path, {"HTTP_HOST": "localhost.evil.example:443"})
        )
        for kind, path, environ in refused_cases:
            before = db.counts()
            response = _send(client, target.method, path, environ)
            what = f"{label} {kind} {path[:80]!r}"
            assert_answered(response, what)
            assert response.status_int in {400, 413}, f"{what}: {response.status}"
            assert db.counts() == before, f"{what}: something was stored"
            tally.count(kind, refused=True)
        odd_cases = [
            ("odd placeholder", path, {}) for path in target.hostile_paths[len(REFUSED_IN_PATH) :]
        ]
        odd_cases += [
            (
                "odd headers",
                target.path,
                {
                    "HTTP_COOKIE": "__Host-cjs=\xff\xfe; a=\x80",
                    "HTTP_REFERER": "https://localhost/\xff",
                    "HTTP_ORIGIN": "null",
                    "HTTP_ACCEPT_LANGUAGE": "\xff;q=x",
                },
            ),
        ]
        for kind, path, environ in odd_cases:
            response = _send(client, target.method, path, environ)
            assert_answered(response, f"{label} {kind} {path[:80]!r}")
            tally.count(kind, refused=response.status_int in {400, 413})


# --- Hypothesis: generated values in every form -------------------------------------------------

#: Any text without surrogates (which no UTF-8 form can carry), control characters, huge strings.
FIELD_VALUES = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    st.text(st.characters(max_codepoint=0x9F), max_size=20),
    st.builds(
        lambda char, size: char * size, st.sampled_from("aあ\x00\t"), st.integers(1_000, 400_000)
    ),
)
FORBIDDEN_IN_FORMS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass
class FormTarget:
    """A form shown to a client: where it posts and its fields."""

    client: webtest.TestApp
    action: str
    fields: list[str]


def forms_shown(client: webtest.TestApp, app: Any) -> list[FormTarget]:
    """Every POST form the client is shown on the GET screens of the route table."""
    seen: dict[str, FormTarget] = {}
    for target in targets(app, "customer"):
        if target.method != "GET" or "{" in target.path:
            continue
        page = client.get(target.path, status="*", expect_errors=True)
        if page.status_int != 200 or "html" not in page.content_type:
            continue
        for form in page.forms.values():
            action = form.action or target.path
            if form.method.upper() != "POST" or action.endswith("/logout"):
                continue
            names = [
                name
                for name, inputs in form.fields.items()
                if name
                and name != "csrf_token"
                and inputs[0].__class__.__name__
                in {"Text", "Field", "Textarea", "Select", "Radio", "Checkbox"}
            ]
            seen.setdefault(action, FormTarget(client, action, names))
    # The password screens last: generated passwords count as failures and may lock the master.
    return sorted(seen.values(), key=lambda form: "password" in form.action)


def run_generated_forms(forms: list[FormTarget], db: Database, tally: Tally, examples: int) -> None:
    """Hypothesis values in every field of every form, with the form's valid CSRF token."""
    for form in forms:
        _generated_posts(form, db, tally, examples)()


def _generated_posts(form: FormTarget, db: Database, tally: Tally, examples: int) -> Any:
    """The Hypothesis test of one form (a function, so that each form binds its own)."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(values=st.fixed_dictionaries({name: FIELD_VALUES for name in form.fields}))
    def post(values: dict[str, str]) -> None:
        page = form.client.get(form.action, status="*", expect_errors=True)
        token = _csrf_token(page) if "csrf_token" in page.text else "none"
        before = db.counts()
        response = form.client.post(
            form.action, {"csrf_token": token, **values}, status="*", expect_errors=True
        )
        what = f"form {form.action} {[(k, v[:20]) for k, v in values.items()]}"
        assert_answered(response, what)
        hostile = any(FORBIDDEN_IN_FORMS.search(v) for v in values.values())
        if hostile or response.status_int in {400, 413}:
            assert db.counts() == before, f"{what}: refused ({response.status}) but stored"
        if hostile:
            assert response.status_int in {400, 413}, f"{what}: {response.status}"
        tally.count("generated form values", refused=response.status_int in {400, 413})

    return post


# --- The test --------------------------------------------------------------------------------------


@pytest.fixture
def staff_app(app_settings: dict[str, str]) -> Iterator[Any]:
    application = make_app(app_settings, kind="staff")
    try:
        yield application
    finally:
        close_app(application)


@pytest.fixture
def demo_settings(app_settings: dict[str, str], tmp_path: Any) -> dict[str, str]:
    """The demo mailbox on: /demo/mail is a route the issue probed."""
    app_settings.update({"cjs.demo": "true", "cjs.demo.maildir": str(tmp_path / "mail")})
    return app_settings


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """The row counts of the test's database."""
    database = Database(db_url)
    try:
        yield database
    finally:
        database.engine.dispose()


def test_every_route_answers_hostile_input_without_a_500(
    demo_settings, app, staff_app, customer, db, record_property
):
    """#12 (ACC-8, SPEC section 7): the route-table test. See the module docstring."""
    tally = Tally()
    anonymous = Customer.of(app, customer.db)
    anonymous_token = _csrf_token(anonymous.app.get("/register/master").maybe_follow())

    customer.register_master()
    pkcs12, _ = customer.issue(MASTER["user_id"], MASTER["password"])
    customer.use_certificate(pkcs12, MASTER["password"])
    customer.login(MASTER["password"])
    master_token = _csrf_token(customer.app.get("/users"))

    staff = staff_client(staff_app)
    run_route_table(anonymous.app, app, "customer", anonymous_token, db, tally)
    run_route_table(customer.app, app, "customer", master_token, db, tally)
    run_route_table(staff, staff_app, "staff", "none", db, tally)
    forms = forms_shown(anonymous.app, app) + forms_shown(customer.app, app)
    assert len(forms) >= 4, [form.action for form in forms]
    run_generated_forms(forms, db, tally, examples=15)

    summary = (
        f"hostile input (#12): {tally.cases} cases on {len(targets(app, 'customer'))} customer "
        f"and {len(targets(staff_app, 'staff'))} staff route-methods, {len(forms)} forms; "
        f"{tally.refused} refused with 400/413, none answered 500"
    )
    print(summary)
    record_property("cases_tried", summary)
    assert tally.cases > 1000
