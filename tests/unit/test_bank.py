"""BANK-1: contracts, deposit groups and modules from a bank configuration file, idempotently."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.auth.passwords import verify_password
from core.bank.config import BankConfigError, apply_file_with_settings
from core.db.models import AuditEvent, Contract, DepositGroup, ModuleEnablement
from core.settings import validate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(app_settings):
    return validate(app_settings)


def write(tmp_path, text):
    path = tmp_path / "bank.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def counts(dbsession):
    return tuple(
        dbsession.scalar(select(func.count()).select_from(model))
        for model in (Contract, DepositGroup, ModuleEnablement, AuditEvent)
    )


def test_the_demo_file_creates_two_contracts_and_is_idempotent(settings, dbsession):
    changes = apply_file_with_settings(settings, ROOT / "demo" / "bank.toml")
    assert "contract 10000001: created" in changes
    member = dbsession.scalars(select(Contract).where(Contract.contract_no == "10000001")).one()
    assert member.kind == "member"
    assert [g.group_no for g in member.deposit_groups] == ["00000001", "00000002"]
    assert {e.module_code for e in member.deposit_groups[0].module_enablements} == {
        "rokin_deduction",
        "wage_ledger",
        "collective_savings",
    }
    rokin = next(
        e for e in member.deposit_groups[0].module_enablements if e.module_code == "rokin_deduction"
    )
    assert rokin.options == {"detail_update": True}
    assert verify_password(member.initial_password_hash, "Demo#001")
    employer = dbsession.scalars(select(Contract).where(Contract.contract_no == "20000001")).one()
    assert [e.module_code for e in employer.deposit_groups[0].module_enablements] == ["zaikei"]
    before = counts(dbsession)
    dbsession.rollback()

    assert apply_file_with_settings(settings, ROOT / "demo" / "bank.toml") == ["no change"]
    assert counts(dbsession) == before


def test_every_change_is_audited_without_the_initial_password(settings, dbsession):
    apply_file_with_settings(settings, ROOT / "demo" / "bank.toml")
    events = dbsession.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert events[0].action == "bank.contract.create"
    assert events[0].actor_kind == "bank"
    assert all("Demo#00" not in str(e.details) for e in events)


def test_a_changed_file_changes_only_what_changed(settings, dbsession, tmp_path):
    apply_file_with_settings(settings, ROOT / "demo" / "bank.toml")
    text = (ROOT / "demo" / "bank.toml").read_text(encoding="utf-8")
    changed = write(
        tmp_path, text.replace('initial_password = "Demo#002"', 'initial_password = "Demo#999"')
    )
    changes = apply_file_with_settings(settings, changed)
    assert changes == ["contract 20000001: initial password changed"]
    employer = dbsession.scalars(select(Contract).where(Contract.contract_no == "20000001")).one()
    assert verify_password(employer.initial_password_hash, "Demo#999")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            """
            [[contracts]]
            contract_no = "1234567"
            kind = "member"
            organisation_name = "x"
            initial_password = "Abcd#123"
            """,
            "contracts[0].contract_no: 契約番号は半角数字8桁で入力してください。",
        ),
        (
            """
            [[contracts]]
            contract_no = "12345678"
            kind = "member"
            organisation_name = "x"
            initial_password = "abcdefgh"
            [[contracts.deposit_groups]]
            group_no = "00000001"
            name_kanji = "本部"
            name_kana = "ﾎﾝﾌﾞ"
            """,
            "contract 12345678.initial_password: 初期パスワードは半角英大文字",
        ),
        (
            """
            [[contracts]]
            contract_no = "12345678"
            kind = "employer"
            organisation_name = "x"
            initial_password = "Abcd#123"
            [[contracts.deposit_groups]]
            group_no = "00000001"
            name_kanji = "本部"
            name_kana = "ﾎﾝﾌﾞ"
            modules = ["rokin_deduction"]
            """,
            "rokin_deduction is not offered to employer contracts",
        ),
        (
            """
            [[contracts]]
            contract_no = "12345678"
            kind = "member"
            organisation_name = "x"
            initial_password = "Abcd#123"
            [[contracts.deposit_groups]]
            group_no = "00000001"
            name_kanji = "本部"
            name_kana = "ホンブ"
            """,
            "name_kana: カナ名は半角カナ",
        ),
        (
            """
            [[contracts]]
            contract_no = "12345678"
            kind = "member"
            organisation_name = "x"
            initial_password = "Abcd#123"
            [[contracts.deposit_groups]]
            group_no = "00000001"
            name_kanji = "本部"
            name_kana = "ﾎﾝﾌﾞ"
            modules = ["payroll"]
            """,
            "unknown module 'payroll'",
        ),
        ("contracts = [", "bank.toml"),
    ],
)
def test_a_bad_file_names_the_place_and_stores_nothing(
    settings, dbsession, tmp_path, text, message
):
    with pytest.raises(BankConfigError) as caught:
        apply_file_with_settings(settings, write(tmp_path, text))
    assert message in str(caught.value)
    assert counts(dbsession) == (0, 0, 0, 0)


def test_a_late_error_rolls_back_the_earlier_contracts(settings, dbsession, tmp_path):
    """All or nothing: the second contract's error leaves the first unwritten too."""
    apply_file_with_settings(settings, ROOT / "demo" / "bank.toml")
    before = counts(dbsession)
    dbsession.rollback()
    text = (ROOT / "demo" / "bank.toml").read_text(encoding="utf-8")
    text = text.replace('organisation_name = "デモ労働組合連合会"', 'organisation_name = "改名"')
    text = text.replace('group_no = "00000002"', 'group_no = "00000003"')
    with pytest.raises(BankConfigError, match="group 00000002 exists but is not in the file"):
        apply_file_with_settings(settings, write(tmp_path, text))
    assert counts(dbsession) == before
    member = dbsession.scalars(select(Contract).where(Contract.contract_no == "10000001")).one()
    assert member.organisation_name == "デモ労働組合連合会"


def test_cjs_bank_apply_on_the_command_line(app_settings, tmp_path):
    ini = tmp_path / "test.ini"
    lines = "\n".join(f"{k} = {v}" for k, v in app_settings.items())
    ini.write_text(f"[app:main]\nuse = egg:cjs\n{lines}\n", encoding="utf-8")
    cjs = Path(sys.executable).with_name("cjs")
    first = subprocess.run(
        [cjs, "-c", ini, "bank", "apply", ROOT / "demo" / "bank.toml"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "contract 20000001: created" in first.stdout
    again = subprocess.run(
        [cjs, "-c", ini, "bank", "apply", ROOT / "demo" / "bank.toml"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert again.stdout.strip() == "no change"
