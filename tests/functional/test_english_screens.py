"""SPEC 8, #15 item 3: every customer screen reads in English when the browser asks for English —
no Japanese left but the data (names the bank or the customer wrote): the sign-up, issuance and
login flows screen by screen, refused forms included, then every screen a master user reaches from
the menu, found by following the menu's and the screens' own links (GET only)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from conftest import MASTER
from sqlalchemy import select

from core.db.models import Contract, DepositGroup, User
from core.web.language import LANGUAGE_COOKIE

JAPANESE = re.compile(r"[\u3000-\u303f\u3040-\u309f\u30a0-\u30ff\u4e00-\u9fff\uff00-\uffef\u203b]+")
#: Links not followed: they end the session, change the language or give a file.
NOT_FOLLOWED = re.compile(
    r"^/(logout|language|cert/download|oplog/csv|crl/|ocsp)|/(csv|pdf|download)\b"
)


def data_of(dbsession) -> set[str]:
    """The Japanese the bank and the customers wrote: organisations, groups, user names."""
    texts: set[str] = set()
    for contract in dbsession.scalars(select(Contract)):
        texts.add(contract.organisation_name)
    for group in dbsession.scalars(select(DepositGroup)):
        texts |= {group.name_kanji or "", group.name_kana or ""}
    for user in dbsession.scalars(select(User)):
        texts.add(user.name)
    return {text for text in texts if text}


def english_text(page) -> str:
    """The page's text without the parts marked as another language (the switch's 日本語)."""
    for element in page.html.body.select("[lang]:not([lang=en])"):
        element.decompose()
    return str(page.html.body.get_text(" "))


def japanese_outside(text: str, data: set[str]) -> list[str]:
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    return JAPANESE.findall(text)


def crawl(app, start: str, seen: set[str], data: set[str], found: dict[str, list[str]]) -> None:
    """Visit ``start`` and every page of this site its links lead to, noting Japanese left."""
    queue = [start]
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        page = app.get(path).maybe_follow()
        if page.content_type != "text/html":
            continue
        assert page.html.html["lang"] == "en", path
        left = japanese_outside(english_text(page), data)
        if left:
            found[path] = left
        for link in page.html.find_all("a", href=True):
            target = urlsplit(link["href"])
            if target.netloc not in ("", "localhost") or NOT_FOLLOWED.search(target.path):
                continue
            queue.append(target.path + (f"?{target.query}" if target.query else ""))


class Reader:
    """Reads each screen shown in English and notes the Japanese left on it, by screen."""

    def __init__(self, data: set[str]) -> None:
        self.data = data
        self.found: dict[str, list[str]] = {}
        self.count = 0

    def __call__(self, page, name: str):
        assert page.html.html["lang"] == "en", name
        self.count += 1
        left = japanese_outside(english_text(page), self.data)
        if left:
            self.found[name] = left
        return page


def fill(page, **values: str):
    form = page.forms[0]
    for name, value in values.items():
        form[name] = value
    return form


def test_the_sign_up_issuance_and_login_screens_read_in_english(customer, dbsession):
    customer.app.set_cookie(LANGUAGE_COOKIE, "en")
    read = Reader(data_of(dbsession) | {MASTER["user_name"]})
    read(customer.app.get("/"), "top")
    page = read(customer.app.get("/register/master").maybe_follow(), "DC583101")
    page = read(fill(page, contract_no="1").submit(), "DC583101 refused")
    page = fill(page, contract_no=MASTER["contract_no"], initial_password="Wrong#01")
    page = read(page.submit().maybe_follow(), "DC583101 wrong password")
    page = fill(
        page, contract_no=MASTER["contract_no"], initial_password=MASTER["initial_password"]
    )
    page = read(page.submit().maybe_follow(), "DC584101")
    page = read(fill(page, user_id="x", email="bad").submit(), "DC584101 refused")
    values = {name: MASTER[name] for name in ("user_id", "password", "user_name", "email")}
    page = fill(page, **values, password_confirm=MASTER["password"], email_confirm=MASTER["email"])
    page = read(page.submit().maybe_follow(), "registration result")
    page = read(customer.app.get("/cert/issue").maybe_follow(), "DC586101")
    page = read(fill(page, user_id=MASTER["user_id"]).submit(), "DC586101 refused")
    page = fill(page, user_id=MASTER["user_id"], password=MASTER["password"])
    page = read(page.submit().maybe_follow(), "code")
    page = read(fill(page, code="1").submit(), "code refused")
    page = fill(page, code=customer.latest_code(MASTER["email"]))
    page = read(page.submit().maybe_follow(), "issue")
    page = read(page.forms[0].submit().maybe_follow(), "issuing")
    page = read(page.forms["issuing-form"].submit().maybe_follow(), "issue result")
    certificate = customer.app.get("/cert/download").body
    customer.app.reset()
    customer.app.set_cookie(LANGUAGE_COOKIE, "en")
    read(customer.app.get("/login").maybe_follow(), "DC582101 without certificate")
    customer.use_certificate(certificate, MASTER["password"])
    page = read(customer.app.get("/login").maybe_follow(), "DC582101")
    page = read(fill(page, password="Wrong#pass1").submit().maybe_follow(), "DC582101 refused")
    page = read(fill(page, password=MASTER["password"]).submit().maybe_follow(), "DC590101")
    print(f"{read.count} flow screens read in English")
    assert not read.found, "\n".join(f"{name}: {texts}" for name, texts in read.found.items())


def test_every_screen_of_the_menu_reads_in_english(customer, dbsession):
    customer.register_master()
    customer.app.reset()
    certificate, _ = customer.issue(MASTER["user_id"], MASTER["password"])
    customer.app.reset()
    customer.use_certificate(certificate, MASTER["password"])
    customer.app.set_cookie(LANGUAGE_COOKIE, "en")
    groups = customer.login(MASTER["password"])
    data = data_of(dbsession)
    seen: set[str] = set()
    found: dict[str, list[str]] = {}
    left = japanese_outside(english_text(groups), data)
    if left:
        found["/groups"] = left
    choices = [button["value"] for button in groups.html.select("button[name=group_id]")]
    assert len(choices) >= 2
    for group in choices:  # each group's menu offers its own modules
        page = customer.app.get("/groups").maybe_follow()
        page = page.forms["groups-form"].submit("group_id", value=group).maybe_follow()
        crawl(customer.app, page.request.path_qs, seen, data, found)
    print(f"{len(seen)} screens read in English: {sorted(seen)}")
    assert {"/info", "/users", "/users/new", "/password", "/oplog", "/manuals"} <= seen
    assert not found, "\n".join(f"{path}: {texts}" for path, texts in sorted(found.items()))
