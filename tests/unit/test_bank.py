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
            "bank.toml:3: contracts[0].contract_no: 契約番号は半角数字8桁で入力してください。",
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
            "bank.toml:6: contract 12345678.initial_password: 初期パスワードは半角英大文字",
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
            "bank.toml:11: contract 12345678.deposit_groups[0].modules: "
            "労金控除（rokin_deduction）は事業主の契約では利用できません。",
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
            "bank.toml:10: contract 12345678.deposit_groups[0].name_kana: カナ名は半角カナ",
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
            "bank.toml:11: contract 12345678.deposit_groups[0].modules: モジュール 'payroll' はありません。",
        ),
        ("\n[[contracts]]\nkind = member\n", "bank.toml: Invalid value (at line 3, column 8)"),
    ],
)
def test_a_bad_file_names_the_line_and_the_place_and_stores_nothing(
    settings, dbsession, tmp_path, text, message
):
    """BANK-1: a bank file with an error changes nothing; the message names the file's line, the
    place in the declaration and the rule, in the words the console shows at the field."""
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
    with pytest.raises(
        BankConfigError, match=r"bank\.toml:4: contract 10000001: 入金グループ 00000002 は"
    ):
        apply_file_with_settings(settings, write(tmp_path, text))
    assert counts(dbsession) == before
    member = dbsession.scalars(select(Contract).where(Contract.contract_no == "10000001")).one()
    assert member.organisation_name == "デモ労働組合連合会"


def write_ini(app_settings, tmp_path):
    ini = tmp_path / "test.ini"
    lines = "\n".join(f"{k} = {v}" for k, v in app_settings.items())
    ini.write_text(f"[app:main]\nuse = egg:cjs\n{lines}\n", encoding="utf-8")
    return ini


def test_cjs_bank_apply_on_the_command_line(app_settings, tmp_path):
    ini = write_ini(app_settings, tmp_path)
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


def test_cjs_bank_apply_names_the_line_of_an_error_and_changes_nothing(
    app_settings, tmp_path, dbsession
):
    """BANK-1: the command prints FILE:LINE, the place and the rule, exits 2, and stores nothing."""
    text = (ROOT / "demo" / "bank.toml").read_text(encoding="utf-8")
    path = write(tmp_path, text.replace('name_kana = "ﾋｶﾞｼｼﾌﾞ"', 'name_kana = "ヒガシシブ"'))
    cjs = Path(sys.executable).with_name("cjs")
    result = subprocess.run(
        [cjs, "-c", write_ini(app_settings, tmp_path), "bank", "apply", path],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"cjs: {path}:19: contract 10000001.deposit_groups[1].name_kana: カナ名は半角カナ"
    )
    assert counts(dbsession) == (0, 0, 0, 0)
