"""連絡メモ: an example service module, outside the core tree, using every hook of the contract.

Installed as a package (``pip install -e examples/cjs_example_module``) whose entry point in the
``cjs.modules`` group names this module; nothing under ``core/`` names it. docs/plugin-guide.md walks
through it.
"""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser, Namespace
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from pyramid.config import Configurator
from pyramid.request import Request
from sqlalchemy import Table, create_engine, pool
from sqlalchemy.orm import Session

from cjs_example_module import notes, views
from cjs_example_module.loader import NotesLoader
from cjs_example_module.models import ExampleNote
from cjs_example_module.outputs import OUTPUTS
from core.db.models import DepositGroup
from core.hookspecs import (
    Command,
    DailyJob,
    JobContext,
    Loader,
    MailTemplate,
    MenuEntry,
    ModuleSchema,
    Output,
    ServiceModule,
    hookimpl,
)
from core.settings import Setting, positive_int

HERE = Path(__file__).resolve().parent
KEEP_DAYS = f"cjs.module.{notes.CODE}.keep_days"

MODULE = ServiceModule(
    code=notes.CODE,
    name="連絡メモ",
    menu_title="連絡メモ事務",
    contract_kinds=("member", "employer"),
    restriction_levels=("show", "hide", "view_only"),
    order=90,
)


@hookimpl
def cjs_service_module() -> ServiceModule:
    """Declare 連絡メモ."""
    return MODULE


@hookimpl
def cjs_schema() -> ModuleSchema:
    """The notes table and the folder of its migrations (branch ``example_notes``)."""
    table = cast(Table, ExampleNote.__table__)
    return ModuleSchema(branch=notes.CODE, versions=HERE / "versions", tables=(table,))


@hookimpl
def cjs_settings() -> Sequence[Setting]:
    """How long notes are kept."""
    return [Setting(KEEP_DAYS, positive_int, "365", "days a note is kept by the daily job")]


@hookimpl
def cjs_module_routes(config: Configurator, module: ServiceModule) -> None:
    """連絡メモ照会 and 連絡メモ登録."""
    views.add_routes(config)


@hookimpl
def cjs_menu_entries(
    request: Request, deposit_group: DepositGroup, module: ServiceModule
) -> Sequence[MenuEntry]:
    """An inquiry and a change (its view declares ``changes_data``)."""
    return [
        MenuEntry("連絡メモ照会", "example_notes:list"),
        MenuEntry("連絡メモ登録", "example_notes:new"),
    ]


@hookimpl
def cjs_outputs(module: ServiceModule) -> Sequence[Output]:
    """連絡メモ一覧 as PDF and CSV."""
    return OUTPUTS


@hookimpl
def cjs_mail_templates() -> Sequence[MailTemplate]:
    """The mail to the user who wrote a note."""
    keys = frozenset({"user_name", "user_id", "title", "amount"})
    return [MailTemplate("example_notes_added", keys, HERE / "mail")]


@hookimpl
def cjs_action_labels() -> Mapping[str, str]:
    """The 操作ログ name of a written note."""
    return {notes.CREATE_ACTION: "連絡メモ登録"}


def _purge(context: JobContext) -> int:
    with context.session_factory() as session, session.begin():
        return notes.purge(session, now=context.now, keep_days=context.settings[KEEP_DAYS])


@hookimpl
def cjs_daily_jobs() -> Sequence[DailyJob]:
    """Notes older than ``keep_days`` are deleted."""
    return [DailyJob("example_notes_purged", _purge)]


def _count_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--contract", help="only this contract number")


def _count(args: Namespace, settings: Mapping[str, Any]) -> int:
    engine = create_engine(settings["sqlalchemy.url"], poolclass=pool.NullPool)
    try:
        with Session(engine) as session:
            for contract_no, group_no, count in notes.counts_by_group(session):
                if args.contract in (None, contract_no):
                    print(f"{contract_no} {group_no}: {count}")
    finally:
        engine.dispose()
    return 0


@hookimpl
def cjs_cli_commands() -> Sequence[Command]:
    """``cjs example-notes``: the number of notes of each deposit group."""
    return [
        Command("example-notes", "count the notes of each deposit group", _count_arguments, _count)
    ]


@hookimpl
def cjs_loaders() -> Sequence[Loader]:
    """The bank's notes file."""
    return [NotesLoader()]


@hookimpl
def cjs_module_enabled(
    dbsession: Session,
    deposit_group: DepositGroup,
    module: ServiceModule,
    options: Mapping[str, Any],
) -> None:
    """A first note tells the group's users the module is there."""
    notes.add_note(
        dbsession, deposit_group, title="利用開始", amount=0, created_by=notes.BANK, now=_now()
    )


@hookimpl
def cjs_module_disabled(
    dbsession: Session, deposit_group: DepositGroup, module: ServiceModule
) -> None:
    """The notes stay; a last one records the end."""
    notes.add_note(
        dbsession, deposit_group, title="利用終了", amount=0, created_by=notes.BANK, now=_now()
    )


@hookimpl
def cjs_staff_routes(config: Configurator, module: ServiceModule) -> None:
    """The staff overview."""
    views.add_staff_routes(config)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
