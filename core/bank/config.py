"""Bank configuration (BANK-1): contracts, deposit groups and enabled modules, from a TOML file.

The file is the truth for the contracts it lists: applying it twice changes nothing the second time.
Everything is checked before anything is written, and all of it is written in one transaction, with
an audit event for each change. A module enabled or disabled for a deposit group is told so
(``cjs_module_enabled`` / ``cjs_module_disabled``) in that transaction. Initial passwords may be given in clear (``initial_password``, hashed
on apply) or as an argon2id hash (``initial_password_hash``).

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


class BankConfigError(ConfigurationError):
    """The bank configuration file is malformed; the message names the place."""


@dataclass
class _Group:
    group_no: str
    name_kanji: str
    name_kana: str
    modules: dict[str, dict[str, Any]]


@dataclass
class _Contract:
    contract_no: str
    kind: str
    organisation_name: str
    initial_password: str | None
    initial_password_hash: str | None
    groups: list[_Group]


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BankConfigError(f"{where}.{key}: missing or not text")
    return value.strip()


def parse(data: Mapping[str, Any], modules: Mapping[str, ServiceModule]) -> list[_Contract]:
    """Check the whole file against the rules and the installed modules; return what it declares."""
    contracts = []
    seen: set[str] = set()
    for i, entry in enumerate(data.get("contracts", [])):
        where = f"contracts[{i}]"
        number = _text(entry, "contract_no", where)
        if message := rules.check_contract_no(number):
            raise BankConfigError(f"{where}.contract_no: {message}")
        if number in seen:
            raise BankConfigError(f"{where}.contract_no: {number} is listed twice")
        seen.add(number)
        where = f"contract {number}"
        kind = _text(entry, "kind", where)
        if kind not in set(ContractKind):
            raise BankConfigError(f"{where}.kind: expected member or employer, got {kind!r}")
        clear, hashed = entry.get("initial_password"), entry.get("initial_password_hash")
        if (clear is None) == (hashed is None):
            raise BankConfigError(f"{where}: give initial_password or initial_password_hash")
        if clear is not None and (message := rules.check_initial_password(str(clear))):
            raise BankConfigError(f"{where}.initial_password: {message}")
        if hashed is not None and not is_argon2_hash(str(hashed)):
            raise BankConfigError(f"{where}.initial_password_hash: not an argon2id hash")
        groups, group_numbers = [], set()
        for j, group in enumerate(entry.get("deposit_groups", [])):
            gwhere = f"{where}.deposit_groups[{j}]"
            group_no = _text(group, "group_no", gwhere)
            if message := rules.check_group_no(group_no):
                raise BankConfigError(f"{gwhere}.group_no: {message}")
            if group_no in group_numbers:
                raise BankConfigError(f"{gwhere}.group_no: {group_no} is listed twice")
            group_numbers.add(group_no)
            kana = _text(group, "name_kana", gwhere)
            if message := rules.check_kana_name(kana):
                raise BankConfigError(f"{gwhere}.name_kana: {message}")
            enabled = group.get("modules", {})
            if isinstance(enabled, list):
                enabled = {code: {} for code in enabled}
            for code, options in enabled.items():
                module = modules.get(code)
                if module is None:
                    raise BankConfigError(f"{gwhere}.modules: unknown module {code!r}")
                if kind not in module.contract_kinds:
                    raise BankConfigError(
                        f"{gwhere}.modules: {code} is not offered to {kind} contracts"
                    )
                unknown = sorted(set(options) - set(module.options))
                if unknown:
                    raise BankConfigError(f"{gwhere}.modules.{code}: unknown option {unknown[0]!r}")
            groups.append(
                _Group(
                    group_no,
                    _text(group, "name_kanji", gwhere),
                    kana,
                    {code: dict(options) for code, options in enabled.items()},
                )
            )
        if not groups:
            raise BankConfigError(f"{where}: at least one deposit group is needed")
        if kind == ContractKind.EMPLOYER and len(groups) > 1:
            raise BankConfigError(f"{where}: an employer contract has one deposit group (001)")
        contracts.append(
            _Contract(
                number,
                kind,
                _text(entry, "organisation_name", where),
                None if clear is None else str(clear),
                None if hashed is None else str(hashed),
                groups,
            )
        )
    if not contracts:
        raise BankConfigError("contracts: the file declares no contract")
    return contracts


@dataclass
class _Enablement:
    """A module enabled (with its options) or disabled (``options`` None) for a group."""

    group: DepositGroup
    code: str
    options: dict[str, Any] | None


def apply(
    dbsession: Session, declared: list[_Contract], modules: ModuleRegistry | None = None
) -> list[str]:
    """Bring the database in line with ``declared``; return one line per change (none: unchanged).

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
            actor=ACTOR,
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
                        f"contract {item.contract_no}.kind: cannot change, it has users"
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


def _initial_password_hash(item: _Contract) -> str:
    if item.initial_password_hash is not None:
        return item.initial_password_hash
    assert item.initial_password is not None  # parse() requires one of the two
    return hash_password(item.initial_password)


def _initial_password_differs(contract: Contract, item: _Contract) -> bool:
    if item.initial_password_hash is not None:
        return item.initial_password_hash != contract.initial_password_hash
    assert item.initial_password is not None
    return not verify_password(contract.initial_password_hash, item.initial_password)


def _apply_groups(contract: Contract, item: _Contract, changed: Any) -> list[_Enablement]:
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
            f"contract {item.contract_no}: group {undeclared[0]} exists but is not in the file "
            "(deposit groups are not deleted by a configuration file)"
        )
    return enablements


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML bank configuration file; a syntax error is a one-line BankConfigError."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise BankConfigError(f"{path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BankConfigError(f"{path}: {exc}") from None


def apply_file_with_settings(settings: Mapping[str, Any], path: str | Path) -> list[str]:
    """``cjs bank apply FILE``: check the file, apply it in one transaction, report the changes."""
    modules = ModuleRegistry(make_plugin_manager(disabled=settings["cjs.plugins.disabled"]))
    declared = parse(load_file(path), modules.modules)
    engine = make_engine(settings["sqlalchemy.url"])
    try:
        session = make_session_factory(engine)()
        try:
            with session.begin():
                changes = apply(session, declared, modules)
        finally:
            session.close()
    finally:
        engine.dispose()
    return changes or ["no change"]
