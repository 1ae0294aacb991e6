"""The fifth module of #11: 連絡メモ (examples/cjs_example_module), a package outside the core tree
registered through the ``cjs.modules`` entry point, driven through every hook of the contract."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import pytest
import webtest
from conftest import DEMO_BANK_FILE, MASTER, Customer
from sqlalchemy import select

from core import cli
from core.app import close_app, make_app
from core.cli.jobs import run_daily
from core.db import migrate as dbmigrate
from core.db.models import AuditEvent, Contract, DepositGroup, OutboxMessage
from core.mail import body_of
from core.plugins import get_modules, load_plugins, make_plugin_manager
from core.settings import ConfigurationError, validate
from tests.staff_support import staff_client

ROOT = Path(__file__).resolve().parents[2]
CODE = "example_notes"


def _notes(dbsession: Any, group_no: str = "00000001") -> list[tuple[str, int, str]]:
    from cjs_example_module.models import ExampleNote

    dbsession.rollback()
    return [
        (note.title, note.amount, note.created_by)
        for note in dbsession.scalars(
            select(ExampleNote)
            .join(DepositGroup, DepositGroup.id == ExampleNote.deposit_group_id)
            .join(Contract)
            .where(Contract.contract_no == "10000001", DepositGroup.group_no == group_no)
            .order_by(ExampleNote.id)
        )
    ]


@pytest.fixture
def enabled(app: Any, bank: None, app_settings: dict[str, str], tmp_path: Path) -> None:
    """The demo contracts, then 連絡メモ enabled for group 00000001 of 10000001 by the bank."""
    from core.bank.config import apply_file_with_settings

    text = DEMO_BANK_FILE.read_text(encoding="utf-8").replace(
        "modules = { rokin_deduction = { detail_update = true }, wage_ledger = {}, "
        "collective_savings = {} }",
        "modules = { rokin_deduction = { detail_update = true }, wage_ledger = {}, "
        "collective_savings = {}, example_notes = {} }",
        1,
    )
    assert "example_notes" in text
    path = tmp_path / "bank.toml"
    path.write_text(text, encoding="utf-8")
    apply_file_with_settings(validate(app_settings), path)


@pytest.fixture
def master(app: Any, dbsession: Any, enabled: None) -> webtest.TestApp:
    """The master of 10000001, logged in with its certificate, working in group 00000001."""
    customer = Customer.of(app, dbsession)
    customer.register_master()
    data, _ = customer.issue(MASTER["user_id"], MASTER["password"])
    customer.app.reset()
    customer.use_certificate(data, MASTER["password"])
    page = customer.login(MASTER["password"])
    page.forms["groups-form"].submit("group_id", index=0).maybe_follow()
    return customer.app


def test_no_file_under_core_names_the_module():
    """The module needs no edit to core: neither its package nor its code appears there."""
    named = subprocess.run(
        ["grep", "-rlI", "-e", "cjs_example_module", "-e", CODE, str(ROOT / "core")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert named.returncode == 1, f"core names the example module: {named.stdout}"


def test_it_is_registered_through_the_entry_point_and_lives_outside_the_core_tree():
    import cjs_example_module

    pm = make_plugin_manager()
    assert pm.get_plugin(CODE) is cjs_example_module
    assert Path(cjs_example_module.__file__).is_relative_to(ROOT / "examples")
    assert pm.get_plugin(CODE) is not None
    assert CODE not in {n for n, p in make_plugin_manager(disabled=[CODE]).list_name_plugin() if p}


def test_its_migration_is_its_own_branch_and_checked(db_url):
    """The test databases are migrated to every head: the module's table is there and matches."""
    assert dbmigrate.branch_head(CODE) == "example_notes_0001"
    assert "example_notes_0001" in dbmigrate.heads()
    assert dbmigrate.check(db_url) == []


def test_enabling_it_tells_the_module(enabled, dbsession):
    """cjs bank apply enables it for a group: the module writes its first note there."""
    assert _notes(dbsession) == [("利用開始", 0, "bank")]
    assert _notes(dbsession, "00000002") == []


def test_the_menu_the_screens_the_mail_and_the_operation_log(master, dbsession):
    info = master.get("/info")
    assert "連絡メモ事務" in info.text
    assert "連絡メモ照会" in info.text and "連絡メモ登録" in info.text
    listing = master.get("/m/example_notes/")
    assert "登録件数：1件" in listing.text

    form = master.get("/m/example_notes/new").forms["note-form"]
    form["title"] = "4月分の確認"
    form["amount"] = "abc"
    assert "金額は半角数字で入力してください。" in form.submit().text
    form = master.get("/m/example_notes/new").forms["note-form"]
    form["title"] = "4月分の確認"
    form["amount"] = "12000"
    listing = form.submit().maybe_follow()
    assert "登録件数：2件" in listing.text and "4月分の確認" in listing.text

    assert _notes(dbsession)[-1] == ("4月分の確認", 12000, MASTER["user_id"])
    outbox = dbsession.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "example_notes_added")
    ).one()
    assert outbox.to_addr == MASTER["email"]
    assert outbox.subject.endswith("連絡メモ登録のお知らせ")
    assert "件名：4月分の確認" in body_of(outbox, master.app.registry.settings)
    event = dbsession.scalars(
        select(AuditEvent).where(AuditEvent.action == "example_notes.note.create")
    ).one()
    assert (event.actor, event.contract_no, event.target) == ("master01", "10000001", "00000001")
    oplog = master.get("/oplog", params={"action": "example_notes.note.create"})
    assert "連絡メモ登録" in oplog.text


def test_the_pdf_and_csv_outputs(master):
    pdf = master.get("/m/example_notes/output/list-pdf")
    assert pdf.content_type == "application/pdf"
    assert pdf.body.startswith(b"%PDF-")
    assert "attachment;" in pdf.headers["Content-Disposition"]
    assert "filename*=UTF-8''%E9%80%A3%E7%B5%A1" in pdf.headers["Content-Disposition"]
    csv = master.get("/m/example_notes/output/list-csv", params={"encoding": "utf-8"})
    assert csv.headers["Content-Type"] == "text/csv; charset=UTF-8"
    lines = csv.body.decode("utf-8-sig").splitlines()
    assert lines[0] == '"登録日時","件名","金額","登録者"'
    assert '"利用開始","0","bank"' in lines[1]


def test_its_screens_do_not_exist_where_it_is_not_enabled(master):
    """The core's guard covers the module's routes and outputs alike (SPEC 6)."""
    master.get("/groups").forms["groups-form"].submit("group_id", index=1).maybe_follow()
    assert "連絡メモ事務" not in master.get("/info").text
    for path in ("/m/example_notes/", "/m/example_notes/new", "/m/example_notes/output/list-csv"):
        master.get(path, status=404)


def test_its_setting_is_validated_at_start(app_settings):
    loaded = load_plugins({**app_settings, "cjs.module.example_notes.keep_days": "30"})
    assert loaded.settings["cjs.module.example_notes.keep_days"] == 30
    with pytest.raises(ConfigurationError, match=r"^cjs\.module\.example_notes\.keep_days: "):
        load_plugins({**app_settings, "cjs.module.example_notes.keep_days": "never"})


def test_its_daily_job_purges_old_notes(enabled, app_settings, dbsession):
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    settings = {**app_settings, "cjs.module.example_notes.keep_days": "30"}

    counts = run_daily(validate(settings), now=later)

    assert counts["example_notes_purged"] == 1
    assert _notes(dbsession) == []
    assert run_daily(validate(settings), now=later)["example_notes_purged"] == 0


def _ini(tmp_path: Path, app_settings: dict[str, str]) -> Path:
    ini = tmp_path / "cjs.ini"
    lines = "".join(f"{key} = {value}\n" for key, value in app_settings.items())
    ini.write_text(f"[app:main]\nuse = egg:cjs\n{lines}", encoding="utf-8")
    return ini


def test_its_command_and_its_loader(enabled, app_settings, tmp_path, capsys, dbsession):
    ini = _ini(tmp_path, app_settings)
    good = tmp_path / "notes.csv"
    header = "契約番号,入金グループ,件名,金額\n"
    good.write_text(
        header + "10000001,00000001,賞与の確認,50000\n10000001,00000002,東支部へ,1\n", "cp932"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        header + "10000001,00000001,正しい行,1\n10000001,00000009,無い,1\n,,,\nx\n", "cp932"
    )

    assert cli.main(["-c", str(ini), "bank", "load", CODE, "notes", str(bad)]) == 1
    errors = capsys.readouterr().err
    assert (
        f"{bad}:3: [入金グループ] 「00000009」 入金グループ 10000001-00000009 がありません。"
        in errors
    )
    assert f"{bad}:5: 項目数が4ではありません（1項目）。" in errors
    assert _notes(dbsession) == [("利用開始", 0, "bank")]  # nothing of the refused file

    assert cli.main(["-c", str(ini), "bank", "load", CODE, "notes", str(good)]) == 0
    assert capsys.readouterr().out == "notes: 2 row(s) loaded\n"
    assert _notes(dbsession)[-1] == ("賞与の確認", 50000, "bank")
    event = dbsession.scalars(
        select(AuditEvent).where(AuditEvent.action == "load.example_notes.notes")
    )
    assert [(e.details["kind"], e.details["rows"]) for e in event] == [("notes", 2)]

    assert cli.main(["-c", str(ini), "example-notes", "--contract", "10000001"]) == 0
    assert capsys.readouterr().out == "10000001 00000001: 2\n10000001 00000002: 1\n"


def test_its_staff_screen(enabled, app_settings):
    staff = make_app(app_settings, kind="staff")
    try:
        client = staff_client(staff)
        page = client.get("/staff/m/example_notes/")
        row = page.html.find(id="note-counts").find("tbody").find("tr")
        assert [cell.text for cell in row.find_all("td")] == ["10000001", "00000001", "1"]
        anonymous = webtest.TestApp(staff).get("/staff/m/example_notes/", status=302)
        assert anonymous.location.endswith("/staff/login")  # no staff sign-in, no screen
        assert "連絡メモ" in client.get("/staff/").text
        assert get_modules(staff.registry).template_folders[CODE] == "cjs_example_module:templates"
    finally:
        close_app(staff)
