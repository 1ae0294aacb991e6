"""The malformed requests of #12's "Why", replayed with the real curl over TLS (acceptance; ACC-8,
SPEC section 7).

The app is served by cheroot over real TLS (the ``direct`` deployment of tests/e2e/conftest.py, the one
that was probed: behind nginx, nginx answers some of these itself). Every request gets an answer below
500 that carries every security header and an X-Request-ID: the 400 or 413 page of the request guard,
never the empty 500 of before. Without curl the test is skipped, or fails when ``CI=true``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.security.headers import SECURITY_HEADERS

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("e2e_servers", ["direct"], indirect=True),
]

FORM = "application/x-www-form-urlencoded"
TWENTY_MB = 20_000_000


def _curl() -> str:
    path = shutil.which("curl")
    if path is None:
        reason = "curl not found: install Debian's curl (the Makefile's APT_PACKAGES has it)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return path


@dataclass
class Answer:
    """What curl received: the status and the headers (names in lower case)."""

    status: int
    headers: dict[str, str]
    body: str


class Curl:
    """curl over TLS against the served app, trusting the test CA, with a cookie jar."""

    def __init__(self, binary: str, deployment: Any, folder: Path) -> None:
        self.binary = binary
        self.base_url = deployment.base_url
        self.ca_file = deployment.ca_file
        self.folder = folder
        self.jar = folder / "cookies.txt"

    def __call__(self, path: str, *options: str) -> Answer:
        headers, body = self.folder / "headers.txt", self.folder / "body.html"
        result = subprocess.run(
            [
                self.binary,
                *("--silent", "--show-error", "--path-as-is", "--max-time", "60"),
                *("--cacert", str(self.ca_file), "--cookie", str(self.jar)),
                *("--cookie-jar", str(self.jar), "--dump-header", str(headers)),
                *("--output", str(body), "--write-out", "%{http_code}"),
                *options,
                self.base_url + path,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"curl {path[:60]} {options}: {result.stderr}"
        fields = {}
        for line in headers.read_text(encoding="latin-1").splitlines()[1:]:
            name, _, value = line.partition(":")
            if value:
                fields[name.strip().lower()] = value.strip()
        return Answer(
            int(result.stdout), fields, body.read_text(encoding="utf-8", errors="replace")
        )


def _multipart(folder: Path, csrf_token: str) -> Path:
    """A form whose text fields come as file parts (``filename=``), beside a valid CSRF token."""
    boundary = "cjs-curl"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf_token}'
    ]
    for name in ("contract_no", "user_id", "password", "initial_password"):
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.txt"'
            f"\r\nContent-Type: text/plain\r\n\r\n10000001"
        )
    path = folder / "multipart.bin"
    path.write_bytes(("\r\n".join(parts) + f"\r\n--{boundary}--\r\n").encode())
    return path


def test_the_malformed_requests_of_the_issue_get_a_page_with_the_security_headers(
    deployment, tmp_path
):
    """#12 "Why" item 1 and its kin, item 2 (size) and item 4 (Host), with the real curl."""
    curl = Curl(_curl(), deployment, tmp_path)
    page = curl("/register/master", "--location")
    assert page.status == 200, page.status
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.body)
    assert match is not None
    token = match.group(1)
    multipart = _multipart(tmp_path, token)
    big = tmp_path / "big.txt"
    big.write_bytes(b"user_id=" + b"x" * (TWENTY_MB - 8))
    many = tmp_path / "fields.txt"
    many.write_text("&".join(f"f{n}=1" for n in range(10_000)))

    form_post = ("--data-binary", f"csrf_token={urllib.parse.quote(token)}&contract_no=%82%A0")
    cases: list[tuple[str, str, tuple[str, ...], set[int]]] = [
        ("invalid UTF-8 in the query", "/?reason=%FF", (), {400}),
        ("a surrogate in /oplog's query", "/oplog?reason=%ED%A0%80", (), {400}),
        ("a surrogate in /cert?restart=", "/cert?restart=%ED%A0%80", (), {400}),
        ("a surrogate in /demo/mail's query", "/demo/mail?page=%ED%A0%80", (), {400}),
        ("invalid UTF-8 in the path", "/%FF", (), {400}),
        ("a surrogate in /users/…", "/users/%ED%A0%80", (), {400}),
        ("invalid UTF-8 in /crl/…", "/crl/%FF.crl", (), {400}),
        ("a surrogate in /ocsp/…", "/ocsp/%ED%A0%80", (), {400}),
        ("NUL in the path", "/login%00", (), {400}),
        ("NUL in the query", "/?reason=a%00b", (), {400}),
        ("an escape in the query", "/?reason=%1B%5B31m", (), {400}),
        ("10,000 fields in the query", "/?" + many.read_text()[:7000], (), {400}),
    ]
    for charset in ("shift_jis", "utf-7", "latin-1"):
        cases.append(
            (
                f"a form in {charset}",
                "/register/master",
                (*form_post, "--header", f"Content-Type: {FORM}; charset={charset}"),
                {400},
            )
        )
    for path in ("/cert", "/register/master", "/users/new"):
        cases.append(
            (
                f"a file part in {path}'s text fields, with a valid CSRF token",
                path,
                (
                    "--data-binary",
                    f"@{multipart}",
                    "--header",
                    "Content-Type: multipart/form-data; boundary=cjs-curl",
                ),
                {400},
            )
        )
    cases += [
        (
            "a 20 MB form",
            "/cert",
            ("--data-binary", f"@{big}", "--header", f"Content-Type: {FORM}"),
            {413},
        ),
        (
            "a 20 MB chunked form",
            "/cert",
            (
                "--data-binary",
                f"@{big}",
                "--header",
                f"Content-Type: {FORM}",
                "--header",
                "Transfer-Encoding: chunked",
            ),
            {413},
        ),
        ("10,000 fields in a form", "/cert", ("--data-binary", f"@{many}"), {400}),
        ("another Host", "/login", ("--header", "Host: evil.example"), {400}),
        ("a forwarded host", "/login", ("--header", "X-Forwarded-Host: evil.example"), {302, 303}),
    ]

    for what, path, options, statuses in cases:
        answer = curl(path, *options)
        assert answer.status in statuses, f"{what}: {answer.status}"
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers.get(name.lower()) == value, f"{what}: {name}"
        assert answer.headers.get("x-request-id"), f"{what}: no X-Request-ID"
        assert "evil.example" not in answer.headers.get("location", ""), what
        if answer.status in {400, 413}:
            assert '<html lang="ja">' in answer.body, what
