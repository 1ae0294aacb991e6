"""職員管理 (#14): the administrator creates staff, changes roles, locks and unlocks, revokes and
issues staff certificates; ``cjs staff create --admin`` makes the first administrator. Every action
is audited; the last active administrator cannot be locked out (AUTH-1, AUTH-2, AUTH-8, CERT-6).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
from sqlalchemy import select
from webtest import TestApp

from core import cli, clock
from core.app import close_app, make_app
from core.db import get_session_factory
from core.db.models import AuditEvent, StaffCertificate, StaffMember
from core.pki.crl import revoked_certificates
from core.pki.signers import get_signer
from core.security.client_cert import is_staff_profile
from core.staff import accounts
from core.staff.roles import StaffRole
from tests.staff_support import BROWSER_ORIGIN, HTTPS, sign_in, staff_client

LAST_ADMIN = "最後の有効な管理者のため、この操作はできません。"


@pytest.fixture
def staff_app(app_settings: dict[str, str]) -> Iterator[Any]:
    staff = make_app(app_settings, kind="staff")
    try:
        yield staff
    finally:
        close_app(staff)


@pytest.fixture
def admin(staff_app: Any) -> TestApp:
    return staff_client(staff_app, "admin01", [StaffRole.ADMINISTRATOR])


def _db(staff_app: Any) -> Any:
    return get_session_factory(staff_app.registry)()


def _member(staff_app: Any, staff_id: str) -> StaffMember | None:
    with _db(staff_app) as db:
        member = accounts.find_staff(db, staff_id)
        if member is not None:
            db.expunge(member)
        return member


def _actions(staff_app: Any, actor: str) -> list[str]:
    with _db(staff_app) as db:
        return list(
            db.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.actor == actor, AuditEvent.actor_kind == "bank")
                .order_by(AuditEvent.id)
            )
        )


def _check_roles(form: Any, roles: list[str]) -> None:
    for checkbox in form.fields["roles"]:
        checkbox.checked = checkbox._value in roles


def _create(admin: TestApp, staff_id: str, name: str, roles: list[str]) -> Any:
    page = admin.get("/staff/admin/staff").click("職員登録へ")
    form = page.forms["staff-new-form"]
    form["staff_id"] = staff_id
    form["name"] = name
    _check_roles(form, roles)
    return form.submit()


def _browser_with(staff_app: Any, p12: bytes, password: str) -> TestApp:
    _, certificate, _ = pkcs12.load_key_and_certificates(p12, password.encode())
    assert certificate is not None and is_staff_profile(certificate)
    pem = certificate.public_bytes(Encoding.PEM).decode()
    return TestApp(
        staff_app,
        extra_environ={
            **HTTPS,
            **BROWSER_ORIGIN,
            "SSL_CLIENT_VERIFY": "SUCCESS",
            "SSL_CLIENT_CERT": pem,
        },
    )


def test_bad_input_shows_the_screen_again_and_stores_nothing(staff_app, admin):
    page = _create(admin, "ab", "", [])
    form = page.forms["staff-new-form"]
    assert form["staff_id"].value == "ab"  # input kept
    assert "職員IDは半角英数字4～32文字で入力してください。" in page.text
    assert "氏名を入力してください。" in page.text
    assert "権限を1つ以上選択してください。" in page.text
    assert _member(staff_app, "ab") is None
    page = _create(admin, "admin01", "管理　二郎", ["operator"])
    assert "この職員IDは既に使用されています。" in page.text


def test_an_administrator_creates_a_member_who_signs_in_with_what_is_handed_over(staff_app, admin):
    result = _create(admin, "clerk10", "取扱　太郎", ["operator", "approver"]).follow()
    password = result.html.find(id="issued-password").text.strip()
    download = result.click("PKCS#12ファイルをダウンロード（1回のみ）")
    assert download.content_type == "application/x-pkcs12"
    assert download.headers["Cache-Control"] == "no-store"
    # Shown once: the password is gone from the screen, the file from the session.
    assert admin.get("/staff/admin/issued").location.endswith("/staff/admin/staff")
    assert admin.get("/staff/admin/issued/download").location.endswith("/staff/admin/staff")
    member = _member(staff_app, "clerk10")
    assert member is not None and member.password_is_temporary
    assert accounts.roles_of(member) == {StaffRole.OPERATOR, StaffRole.APPROVER}

    browser = _browser_with(staff_app, download.body, password)
    assert sign_in(browser, password).location == "https://localhost/staff/password"
    assert _actions(staff_app, "admin01")[-2:] == ["staff.create", "staff.cert.issue"]


def test_roles_lock_unlock_and_revocation_take_effect_at_the_next_request(staff_app, admin):
    clerk = staff_client(staff_app, "clerk11", [StaffRole.OPERATOR])
    page = admin.get("/staff/admin/staff/clerk11")
    form = page.forms["staff-roles-form"]
    _check_roles(form, ["approver"])
    page = form.submit().follow()
    assert "権限を変更しました。" in page.text
    assert clerk.get("/staff/").html.find(id="staff-roles").text == "検印者"

    page = page.forms["staff-lock-form"].submit().follow()
    assert page.html.find(id="staff-state").text == "閉塞"
    assert clerk.get("/staff/").location == "https://localhost/staff/login"  # session ended
    assert "閉塞されています" in clerk.get("/staff/login").maybe_follow().text

    page = page.forms["staff-unlock-form"].submit().follow()
    assert page.html.find(id="staff-state").text == "正常"
    assert sign_in(clerk).location == "https://localhost/staff/"

    with _db(staff_app) as db:
        serial = db.scalars(
            select(StaffCertificate.serial)
            .join(StaffMember)
            .where(StaffMember.staff_id == "clerk11")
        ).one()
    form = page.forms[f"revoke-{serial}"]
    form["reason"] = "keyCompromise"
    page = form.submit().follow()
    assert "電子証明書を失効しました。" in page.text
    assert clerk.get("/staff/").location == "https://localhost/staff/login"
    ca = get_signer(staff_app.registry).ca_certificate
    with _db(staff_app) as db:
        listed = revoked_certificates(db, ca, clock.now(staff_app.registry))
    assert serial in {row.serial for row in listed}
    assert _actions(staff_app, "admin01")[-4:] == [
        "staff.roles",
        "staff.lock",
        "staff.unlock",
        "cert.revoke",
    ]


def test_the_last_administrator_cannot_be_locked_out(staff_app, admin):
    """Decided: no change may leave the service without an active administrator."""
    page = admin.get("/staff/admin/staff/admin01")
    form = page.forms["staff-roles-form"]
    _check_roles(form, ["operator"])
    assert LAST_ADMIN in form.submit().text
    assert LAST_ADMIN in page.forms["staff-lock-form"].submit().text
    with _db(staff_app) as db:
        serial = db.scalars(select(StaffCertificate.serial)).one()
    assert LAST_ADMIN in page.forms[f"revoke-{serial}"].submit().text
    assert _member(staff_app, "admin01").blocked_at is None
    assert admin.get("/staff/admin/staff").status_int == 200
    # With a second administrator, the first may step down.
    staff_client(staff_app, "admin02", [StaffRole.ADMINISTRATOR])
    form = admin.get("/staff/admin/staff/admin01").forms["staff-roles-form"]
    _check_roles(form, ["operator"])
    assert form.submit().status_int == 302
    assert accounts.roles_of(_member(staff_app, "admin01")) == {StaffRole.OPERATOR}
    admin.get("/staff/admin/staff", status=403)


def test_a_new_certificate_supersedes_the_previous_one(staff_app, admin):
    clerk = staff_client(staff_app, "clerk12", [StaffRole.OPERATOR])
    page = admin.get("/staff/admin/staff/clerk12").forms["staff-issue-form"].submit().follow()
    password = page.html.find(id="issued-password").text.strip()
    p12 = page.click("PKCS#12ファイルをダウンロード（1回のみ）").body
    assert clerk.get("/staff/").location == "https://localhost/staff/login"
    with _db(staff_app) as db:
        reasons = sorted(
            (c.status, c.revocation_reason or "")
            for c in db.scalars(
                select(StaffCertificate).join(StaffMember).where(StaffMember.staff_id == "clerk12")
            )
        )
    assert reasons == [("revoked", "superseded"), ("valid", "")]
    pkcs12.load_key_and_certificates(p12, password.encode())


def test_cjs_staff_create_admin_makes_the_first_administrator(
    staff_app, app_settings, tmp_path: Path, capsys
):
    ini = tmp_path / "cjs.ini"
    lines = "".join(f"{key} = {value}\n" for key, value in app_settings.items())
    ini.write_text(f"[app:main]\nuse = egg:cjs\n{lines}", encoding="utf-8")
    out = tmp_path / "admin01.p12"
    command = ["-c", str(ini), "staff", "create", "--admin", "--staff-id", "admin01"]
    assert cli.main([*command, "--name", "管理　一郎", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    password = next(
        line.split(":", 1)[1].strip()
        for line in printed.splitlines()
        if line.startswith("initial password:")
    )
    assert out.stat().st_mode & 0o777 == 0o600
    browser = _browser_with(staff_app, out.read_bytes(), password)
    assert sign_in(browser, password).location == "https://localhost/staff/password"
    assert _actions(staff_app, "cli:" + __import__("getpass").getuser()) == [
        "staff.create",
        "staff.cert.issue",
    ]
    # A second --admin is refused while an active administrator exists; nothing is written.
    second = tmp_path / "admin02.p12"
    assert cli.main([*command[:-1], "admin02", "--name", "管理　二郎", "--out", str(second)]) == 2
    assert "an active administrator exists" in capsys.readouterr().err
    assert not second.exists() and _member(staff_app, "admin02") is None
