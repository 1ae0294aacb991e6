"""Bank configuration (BANK-1): contracts, deposit groups and enabled modules, from a TOML file or
the staff console.

The rules live here once: :func:`check_contract` checks one contract as declared (by a file's
``[[contracts]]`` entry or by the console's forms, :func:`entry_of` gives the entry of a contract
already stored), :func:`apply` brings the database in line. The file is the truth for the contracts
it lists: applying it twice changes nothing the second time. Everything is checked before anything
is written, and all of it is written in one transaction, with an audit event for each change (actor
``bank-config`` for the file, the staff ID for the console). A module enabled or disabled for a
deposit group is told so (``cjs_module_enabled`` / ``cjs_module_disabled``) in that transaction.
Initial passwords may be given in clear (``initial_password``, hashed on apply) or as an argon2id
hash (``initial_password_hash``). An error names the file's line, the place and the rule, in
Japanese, as the console shows it next to the field.

Example::

    [[contracts]]
    contract_no = "10000001"
    kind = "member"                 # member (会員) or employer (事業主)
    organisation_name = "ろうきん労働組合"
    initial_password = "Abcd#123"

    [[contracts.deposit_groups]]
    group_no = "00000001"
    name_kanji = "本部"
    name_kana = "ﾎﾝﾌﾞ"
    modules = { rokin_deduction = { detail_update = true }, wage_ledger = {} }
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit, rules
from core.auth.passwords import hash_password, is_argon2_hash, verify_password
from core.db import make_engine, make_session_factory
from core.db.models import Contract, ContractKind, DepositGroup, ModuleEnablement
from core.hookspecs import ServiceModule
from core.plugins import ModuleRegistry, make_plugin_manager
from core.settings import ConfigurationError

ACTOR = "bank-config"

#: Where a declaration says something: the keys from the file's top, e.g.
#: ``("contracts", 0, "deposit_groups", 1, "name_kana")``.
KeyPath = tuple[str | int, ...]

#: The Japanese names of the declaration's fields, for 「…を入力してください。」
FIELD_LABELS = {
    "contract_no": "契約番号",
    "kind": "契約種別",
    "organisation_name": "団体名",
    "initial_password": "初期パスワード",
    "group_no": "入金グループ",
    "name_kanji": "入金グループ名",
    "name_kana": "入金グループ名（カナ）",
}


class BankConfigError(ConfigurationError):
    """A declaration breaks a rule. ``place`` names it for people (``contract 10000001.kind``),
    ``path`` for programs (the console puts ``message`` at the field), ``line`` is the file's line
    when known."""

    def __init__(
        self,
        place: str,
        message: str,
        path: KeyPath = (),
        *,
        source: str | None = None,
        line: int | None = None,
    ) -> None:
        self.place, self.message, self.path = place, message, path
        self.source, self.line = source, line
        where = "".join([f"{source}:" if source else "", f"{line}:" if source and line else ""])
        text = f"{place}: {message}" if place else message
        super().__init__(f"{where} {text}" if where else text)

    def in_file(self, source: str, text: str) -> BankConfigError:
        """The same error, naming the line of ``text`` (the file ``source``) that declares it."""
        return BankConfigError(
            self.place, self.message, self.path, source=source, line=line_of(text, self.path)
        )


@dataclass
class GroupDeclaration:
    """A deposit group as declared: number, names, and the modules enabled with their options."""

    group_no: str
    name_kanji: str
    name_kana: str
    modules: dict[str, dict[str, Any]]


@dataclass
class ContractDeclaration:
    """A contract as declared (checked by :func:`check_contract`); ``path`` is where it was."""

    contract_no: str
    kind: str
    organisation_name: str
    initial_password: str | None
    initial_password_hash: str | None
    groups: list[GroupDeclaration]
    path: KeyPath = ()


#: The longest organisation and deposit group names the database holds.
NAME_MAX = 100


def _text(entry: Mapping[str, Any], key: str, place: str, path: KeyPath) -> str:
    value = entry.get(key)
    label = FIELD_LABELS.get(key, key)
    if not isinstance(value, str) or not value.strip():
        raise BankConfigError(f"{place}.{key}", f"{label}を入力してください。", (*path, key))
    if len(value.strip()) > NAME_MAX or not value.strip().isprintable():
        raise BankConfigError(
            f"{place}.{key}", f"{label}は{NAME_MAX}文字以内で入力してください。", (*path, key)
        )
    return value.strip()


def check_contract(
    entry: Mapping[str, Any], modules: Mapping[str, ServiceModule], path: KeyPath = ()
) -> ContractDeclaration:
    """Check one contract's entry (a file's ``[[contracts]]`` table, or the console's) against the
    rules and the installed ``modules``; raise :class:`BankConfigError` at the first fault."""
    unnamed = f"contracts[{path[-1]}]" if path else "contract"
    number = _text(entry, "contract_no", unnamed, path)
    if message := rules.check_contract_no(number):
        raise BankConfigError(f"{unnamed}.contract_no", message, (*path, "contract_no"))
    place = f"contract {number}"
    kind = _text(entry, "kind", place, path)
    if kind not in set(ContractKind):
        raise BankConfigError(
            f"{place}.kind",
            f"契約種別は member（会員）か employer（事業主）を指定してください（{kind!r}）。",
            (*path, "kind"),
        )
    organisation_name = _text(entry, "organisation_name", place, path)
    clear, hashed = entry.get("initial_password"), entry.get("initial_password_hash")
    if clear is None and hashed is None:
        raise BankConfigError(
            f"{place}.initial_password",
            "初期パスワードを入力してください。",
            (*path, "initial_password"),
        )
    if clear is not None and hashed is not None:
        raise BankConfigError(
            place,
            "initial_password と initial_password_hash はどちらか一方を指定してください。",
            path,
        )
    if clear is not None and (message := rules.check_initial_password(str(clear))):
        raise BankConfigError(f"{place}.initial_password", message, (*path, "initial_password"))
    if hashed is not None and not is_argon2_hash(str(hashed)):
        raise BankConfigError(
            f"{place}.initial_password_hash",
            "argon2id のハッシュではありません。",
            (*path, "initial_password_hash"),
        )
    groups = [
        _check_group(
            group, kind, modules, f"{place}.deposit_groups[{j}]", (*path, "deposit_groups", j)
        )
        for j, group in enumerate(entry.get("deposit_groups", []))
    ]
    seen: set[str] = set()
    for j, group in enumerate(groups):
        if group.group_no in seen:
            raise BankConfigError(
                f"{place}.deposit_groups[{j}].group_no",
                f"入金グループ {group.group_no} が重複しています。",
                (*path, "deposit_groups", j, "group_no"),
            )
        seen.add(group.group_no)
    if not groups:
        raise BankConfigError(place, "入金グループを1つ以上指定してください。", path)
    if kind == ContractKind.EMPLOYER and len(groups) > 1:
        raise BankConfigError(
            place,
            "事業主の契約の入金グループは1つです（001）。",
            (*path, "deposit_groups", 1, "group_no"),
        )
    return ContractDeclaration(
        number,
        kind,
        organisation_name,
        None if clear is None else str(clear),
        None if hashed is None else str(hashed),
        groups,
        path,
    )


def _check_group(
    group: Mapping[str, Any],
    kind: str,
    modules: Mapping[str, ServiceModule],
    place: str,
    path: KeyPath,
) -> GroupDeclaration:
    group_no = _text(group, "group_no", place, path)
    if message := rules.check_group_no(group_no):
        raise BankConfigError(f"{place}.group_no", message, (*path, "group_no"))
    name_kanji = _text(group, "name_kanji", place, path)
    kana = _text(group, "name_kana", place, path)
    if message := rules.check_kana_name(kana):
        raise BankConfigError(f"{place}.name_kana", message, (*path, "name_kana"))
    enabled = group.get("modules", {})
    if isinstance(enabled, list):
        enabled = {code: {} for code in enabled}
    for code, options in enabled.items():
        where = (*path, "modules", code)
        module = modules.get(code)
        if module is None:
            raise BankConfigError(f"{place}.modules", f"モジュール {code!r} はありません。", where)
        if kind not in module.contract_kinds:
            label = ContractKind(kind).label
            raise BankConfigError(
                f"{place}.modules",
                f"{module.name}（{code}）は{label}の契約では利用できません。",
                where,
            )
        unknown = sorted(set(options) - set(module.options))
        if unknown:
            raise BankConfigError(
                f"{place}.modules.{code}",
                f"{module.name}（{code}）にオプション {unknown[0]!r} はありません。",
                where,
            )
    return GroupDeclaration(
        group_no, name_kanji, kana, {code: dict(options) for code, options in enabled.items()}
    )


def parse(
    data: Mapping[str, Any], modules: Mapping[str, ServiceModule]
) -> list[ContractDeclaration]:
    """Check the whole file against the rules and the installed modules; return what it declares."""
    contracts = []
    seen: set[str] = set()
    for i, entry in enumerate(data.get("contracts", [])):
        declared = check_contract(entry, modules, ("contracts", i))
        if declared.contract_no in seen:
            raise BankConfigError(
                f"contracts[{i}].contract_no",
                f"契約番号 {declared.contract_no} がファイル内に2回あります。",
                ("contracts", i, "contract_no"),
            )
        seen.add(declared.contract_no)
        contracts.append(declared)
    if not contracts:
        raise BankConfigError("contracts", "契約が1つもありません。", ("contracts",))
    return contracts


def entry_of(contract: Contract) -> dict[str, Any]:
    """``contract`` as stored, in the shape of a file's entry (initial password as its hash): the
    console changes this and checks and applies it like a file's."""
    return {
        "contract_no": contract.contract_no,
        "kind": contract.kind,
        "organisation_name": contract.organisation_name,
        "initial_password_hash": contract.initial_password_hash,
        "deposit_groups": [
            {
                "group_no": group.group_no,
                "name_kanji": group.name_kanji,
                "name_kana": group.name_kana,
                "modules": {e.module_code: dict(e.options or {}) for e in group.module_enablements},
            }
            for group in contract.deposit_groups
        ],
    }


@dataclass
class _Enablement:
    """A module enabled (with its options) or disabled (``options`` None) for a group."""

    group: DepositGroup
    code: str
    options: dict[str, Any] | None


def apply(
    dbsession: Session,
    declared: list[ContractDeclaration],
    modules: ModuleRegistry | None = None,
    *,
    actor: str = ACTOR,
) -> list[str]:
    """Bring the database in line with ``declared``; return one line per change (none: unchanged).

    Each change is audited as done by ``actor`` (the file's ``bank-config``, or a staff ID).
    ``modules`` (when given) tells each module enabled or disabled for a group, once the changes are
    flushed.
    """
    changes: list[str] = []
    enablements: list[_Enablement] = []

    def changed(line: str, action: str, number: str) -> None:
        changes.append(line)
        audit.record(
            dbsession,
            action,
            actor=actor,
            actor_kind="bank",
            target=number,
            contract_no=number,
            details={"change": line},
        )

    for item in declared:
        contract = dbsession.scalars(
            select(Contract).where(Contract.contract_no == item.contract_no).with_for_update()
        ).one_or_none()
        if contract is None:
            contract = Contract(
                contract_no=item.contract_no,
                kind=item.kind,
                organisation_name=item.organisation_name,
                initial_password_hash=_initial_password_hash(item),
            )
            dbsession.add(contract)
            changed(
                f"contract {item.contract_no}: created", "bank.contract.create", item.contract_no
            )
        else:
            if contract.kind != item.kind:
                if contract.users:
                    raise BankConfigError(
                        f"contract {item.contract_no}.kind",
                        "ユーザーが登録済みの契約の種別は変更できません。",
                        (*item.path, "kind"),
                    )
                contract.kind = item.kind
                changed(
                    f"contract {item.contract_no}: kind {item.kind}",
                    "bank.contract.update",
                    item.contract_no,
                )
            if contract.organisation_name != item.organisation_name:
                contract.organisation_name = item.organisation_name
                changed(
                    f"contract {item.contract_no}: organisation name",
                    "bank.contract.update",
                    item.contract_no,
                )
            if _initial_password_differs(contract, item):
                contract.initial_password_hash = _initial_password_hash(item)
                changed(
                    f"contract {item.contract_no}: initial password changed",
                    "bank.initial_password.change",
                    item.contract_no,
                )
        enablements += _apply_groups(contract, item, changed)
    dbsession.flush()
    if modules is not None:
        for change in enablements:
            if change.options is None:
                modules.module_disabled(dbsession, change.group, change.code)
            else:
                modules.module_enabled(dbsession, change.group, change.code, change.options)
    return changes


def _initial_password_hash(item: ContractDeclaration) -> str:
    if item.initial_password_hash is not None:
        return item.initial_password_hash
    assert item.initial_password is not None  # parse() requires one of the two
    return hash_password(item.initial_password)


def _initial_password_differs(contract: Contract, item: ContractDeclaration) -> bool:
    if item.initial_password_hash is not None:
        return item.initial_password_hash != contract.initial_password_hash
    assert item.initial_password is not None
    return not verify_password(contract.initial_password_hash, item.initial_password)


def _apply_groups(contract: Contract, item: ContractDeclaration, changed: Any) -> list[_Enablement]:
    """Create and update the groups of ``item``; return the modules enabled and disabled."""
    enablements: list[_Enablement] = []
    existing = {g.group_no: g for g in contract.deposit_groups}
    for declared in item.groups:
        group = existing.get(declared.group_no)
        if group is None:
            group = DepositGroup(
                group_no=declared.group_no,
                name_kanji=declared.name_kanji,
                name_kana=declared.name_kana,
            )
            contract.deposit_groups.append(group)
            changed(
                f"contract {item.contract_no}: group {declared.group_no} created",
                "bank.deposit_group.create",
                item.contract_no,
            )
        elif (group.name_kanji, group.name_kana) != (declared.name_kanji, declared.name_kana):
            group.name_kanji, group.name_kana = declared.name_kanji, declared.name_kana
            changed(
                f"contract {item.contract_no}: group {declared.group_no} names",
                "bank.deposit_group.update",
                item.contract_no,
            )
        enabled = {e.module_code: e for e in group.module_enablements}
        for code, options in declared.modules.items():
            if code not in enabled:
                group.module_enablements.append(ModuleEnablement(module_code=code, options=options))
                enablements.append(_Enablement(group, code, options))
                changed(
                    f"contract {item.contract_no}: group {declared.group_no} enables {code}",
                    "bank.module.enable",
                    item.contract_no,
                )
            elif enabled[code].options != options:
                enabled[code].options = options
                changed(
                    f"contract {item.contract_no}: group {declared.group_no} {code} options",
                    "bank.module.options",
                    item.contract_no,
                )
        for code, enablement in enabled.items():
            if code not in declared.modules:
                group.module_enablements.remove(enablement)
                enablements.append(_Enablement(group, code, None))
                changed(
                    f"contract {item.contract_no}: group {declared.group_no} disables {code}",
                    "bank.module.disable",
                    item.contract_no,
                )
    undeclared = sorted(set(existing) - {g.group_no for g in item.groups})
    if undeclared:
        raise BankConfigError(
            f"contract {item.contract_no}",
            f"入金グループ {undeclared[0]} は登録済みですが宣言にありません"
            "（入金グループは設定ファイルで削除しません）。",
            item.path,
        )
    return enablements


def read_file(path: str | Path) -> str:
    """The text of a bank configuration file; an unreadable file is a one-line BankConfigError."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BankConfigError(str(path), str(exc.strerror)) from None
    except UnicodeDecodeError:
        raise BankConfigError(str(path), "UTF-8 で保存してください。") from None


def parse_text(
    text: str, modules: Mapping[str, ServiceModule], source: str
) -> list[ContractDeclaration]:
    """:func:`parse` of a TOML file's ``text``; every error names ``source`` and the line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BankConfigError("", str(exc), source=source) from None
    try:
        return parse(data, modules)
    except BankConfigError as error:
        raise error.in_file(source, text) from None


_TABLE_HEADER = re.compile(r"^\s*\[\[\s*([\w.]+)\s*\]\]")
_KEY_LINE = re.compile(r"^\s*([\w-]+)\s*=")


def line_of(text: str, path: KeyPath) -> int | None:
    """The line (1 = first) of ``text`` that declares ``path``: the key's line inside its
    ``[[contracts]]`` or ``[[contracts.deposit_groups]]`` table, else the table's header; None when
    the file declares it otherwise (inline tables)."""
    contract = group = -1
    table: KeyPath = ()
    best, best_depth = None, 0
    declared: KeyPath
    for number, line in enumerate(text.splitlines(), start=1):
        if header := _TABLE_HEADER.match(line):
            name = header.group(1)
            if name == "contracts":
                contract, group = contract + 1, -1
                table = ("contracts", contract)
            elif name == "contracts.deposit_groups":
                group += 1
                table = ("contracts", contract, "deposit_groups", group)
            else:
                table = (name,)
            declared = table
        elif key := _KEY_LINE.match(line):
            declared = (*table, key.group(1))
        else:
            continue
        if path[: len(declared)] == declared and len(declared) > best_depth:
            best, best_depth = number, len(declared)
    return best


def apply_file_with_settings(settings: Mapping[str, Any], path: str | Path) -> list[str]:
    """``cjs bank apply FILE``: check the file, apply it in one transaction, report the changes;
    an error (nothing changed) names the file's line."""
    modules = ModuleRegistry(make_plugin_manager(disabled=settings["cjs.plugins.disabled"]))
    text = read_file(path)
    declared = parse_text(text, modules.modules, str(path))
    engine = make_engine(settings["sqlalchemy.url"])
    try:
        session = make_session_factory(engine)()
        try:
            with session.begin():
                changes = apply(session, declared, modules)
        except BankConfigError as error:
            raise error.in_file(str(path), text) from None
        finally:
            session.close()
    finally:
        engine.dispose()
    return changes or ["no change"]


def apply_entry(
    dbsession: Session, entry: Mapping[str, Any], modules: ModuleRegistry, *, actor: str
) -> list[str]:
    """Check one contract's ``entry`` and apply it, audited as done by ``actor``: the console's way,
    through the same rules and changes as a file's (BANK-1)."""
    return apply(dbsession, [check_contract(entry, modules.modules)], modules, actor=actor)
