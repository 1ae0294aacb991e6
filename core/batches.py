"""Batches of the bank's lines per employee (#13; SPEC 6.3, 6.4, BANK-6, ACC-7): what a data module
configures instead of writing it again.

The bank sends a module's data as batches — 一斉積立's rounds, 財形's runs, the deduction modules'
months — each with lines per employee (details, changes). A module declares its batches once
(:class:`Batches`: the batch table, the columns that name a batch in the bank's files, the picker's
query-string name) and gets:

- :class:`BatchLinesLoader`, the loader of a lines file, configured by class attributes (its
  columns, its line table and the attributes the columns fill): the group and batch looked up once
  per file, an employee twice in a batch refused, every error collected, and each batch's lines
  replaced in one scoped delete and batched inserts (all or nothing and idempotent, BANK-6);
- :class:`BatchScreens`, the three read-only screens (照会: pick a batch, search, sort and page its
  lines; 出力: its PDFs; エクスポート: its CSVs), their routes and menu entries, on the shared
  templates ``batches/*.html`` — a module writes only the columns of its inquiry table;
- :meth:`Batches.for_output`, the batch an output was asked for, or ``OutputRefused``.

docs/plugin-guide.md § 13 shows a module built on it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pyramid.config import Configurator
from pyramid.request import Request
from sqlalchemy import ColumnElement, Select, Table, select
from sqlalchemy.orm import Session

from core.dataload import GROUP_COLUMNS, Column, read_columns, search_kana
from core.db.bulk import insert_rows
from core.db.models import Contract, DepositGroup, ModuleEnablement
from core.hookspecs import MenuEntry, OutputContext, OutputRefused, Parsed, RowError
from core.i18n import _
from core.inquiry import Sort, paged
from core.security.tenancy import (
    GroupScoped,
    ScopeSource,
    scope_values,
    scoped_delete,
    scoped_select,
)

#: 変更区分 of a change line, by the code every module's change files write; the database keeps
#: the Japanese text (:func:`stored_texts`), the screens and PDFs show it with :func:`label_of`.
CHANGE_KINDS = {"1": _("新規"), "2": _("変更"), "3": _("解約")}


def stored_texts(labels: Mapping[str, str]) -> dict[str, str]:
    """What a loader stores for each code of ``labels`` (code → message): the Japanese text."""
    return {code: str(label) for code, label in labels.items()}


def label_of(labels: Mapping[str, str], stored: str) -> str:
    """The message of ``labels`` whose Japanese text ``stored`` is (the screen writes it in its
    language), or ``stored`` itself when it is none of them."""
    return next((label for label in labels.values() if label == stored), stored)


class GroupsWithModule:
    """The deposit groups with a module enabled, by (契約番号, 入金グループ), read once per file."""

    def __init__(self, dbsession: Session, module: str, module_name: str) -> None:
        rows = dbsession.execute(
            select(Contract.contract_no, DepositGroup)
            .join(DepositGroup, DepositGroup.contract_id == Contract.id)
            .join(ModuleEnablement, ModuleEnablement.deposit_group_id == DepositGroup.id)
            .where(ModuleEnablement.module_code == module)
        ).all()
        self.module_name = module_name
        #: The groups by (contract number, group number).
        self.by_number: dict[tuple[str, str], DepositGroup] = {
            (contract_no, group.group_no): group for contract_no, group in rows
        }

    def find(self, line: int, contract_no: str, group_no: str) -> DepositGroup | RowError:
        """The group a line names, or the error of that line."""
        group = self.by_number.get((contract_no, group_no))
        if group is None:
            return RowError(
                line,
                _(
                    "${module}を利用する入金グループ ${contract_no}-${group_no} がありません。",
                    module=self.module_name,
                    contract_no=contract_no,
                    group_no=group_no,
                ),
                GROUP_COLUMNS[1].name,
                group_no,
            )
        return group


def _as_written(value: Any) -> str:
    """A parsed cell as the bank's file writes it (dates ``YYYYMMDD``)."""
    return f"{value:%Y%m%d}" if isinstance(value, dt.date) else str(value)


@dataclass(frozen=True)
class Batches:
    """A module's batches: the table of the bank's rounds or runs and how they are named.

    In the bank's files a batch is named by 契約番号, 入金グループ and then the ``key`` attributes
    (e.g. 回号; or 作成区分 and 作成基準日); a line table refers to its batch by ``lines_key``. On
    the screens the batch is chosen by the query-string ``param``, whose value is the batch's
    ``value_attribute``.
    """

    #: The module's code and its name, a message (in messages: 「一斉積立のデータはまだありません。」).
    module: str
    module_name: str
    #: The batch table (GroupScoped) and the attributes that name a batch in the files.
    model: type[GroupScoped]
    key: tuple[str, ...]
    #: The column of a line table that holds its batch's id.
    lines_key: str
    #: Refusal of a line whose batch was not loaded first (a message, read by the bank's staff).
    not_loaded: str
    #: Refusal of an output asked for a batch the group does not have (a message).
    not_found: str
    #: The picker: its label, its query-string name, the attribute it sends, its options' text.
    #: (Labels and texts are ``core.i18n._`` messages: the screens write them in their language.)
    picker_label: str
    param: str
    value_attribute: str
    option: Callable[[Any], str]
    #: What a batch is, in a sentence of the outputs screens (「第014回 特別積立（臨時作成）」).
    describe: Callable[[Any], str]
    #: The order of the picker, newest first; criteria restricting the batches offered.
    newest_first: Sequence[Any]
    offered: Sequence[ColumnElement[bool]] = ()

    def groups(self, dbsession: Session) -> GroupsWithModule:
        """The deposit groups with the module, for a loader."""
        return GroupsWithModule(dbsession, self.module, self.module_name)

    def all(self, dbsession: Session, scope: ScopeSource) -> Sequence[Any]:
        """The group's batches offered by the picker, newest first."""
        return dbsession.scalars(
            scoped_select(scope, self.model).where(*self.offered).order_by(*self.newest_first)
        ).all()

    def chosen(self, dbsession: Session, scope: ScopeSource, value: str | None) -> Any | None:
        """The batch whose picker value is ``value`` (the newest when None or empty), None when
        the group has no such batch."""
        batches = self.all(dbsession, scope)
        if not value:
            return batches[0] if batches else None
        return next((b for b in batches if str(getattr(b, self.value_attribute)) == value), None)

    def for_output(self, context: OutputContext) -> Any:
        """The batch of ``?<param>=`` (the newest by default); ``OutputRefused`` when unknown."""
        batch = self.chosen(context.dbsession, context, context.params.get(self.param))
        if batch is None:
            raise OutputRefused(self.not_found)
        return batch

    def lines(self, scope: ScopeSource, model: type[GroupScoped], batch: Any) -> Select[Any]:
        """``SELECT model`` of the lines of ``batch`` (unsorted: the caller orders)."""
        return scoped_select(scope, model).where(getattr(model, self.lines_key) == batch.id)

    def find_id(self, dbsession: Session, group: DepositGroup, key: Sequence[Any]) -> int | None:
        """The id of the group's batch named by the ``key`` values, None before it is loaded."""
        criteria = [
            getattr(self.model, name) == value for name, value in zip(self.key, key, strict=True)
        ]
        return dbsession.scalar(
            scoped_select(group, self.model, cast(Any, self.model).id).where(*criteria)
        )


@dataclass(frozen=True, eq=False)
class _Batch:
    """A batch a lines file names: its group and its id (one object per batch of a file)."""

    group: DepositGroup
    batch_id: int


class BatchLinesLoader:
    """A file of lines per employee for batches already loaded: it replaces each batch's lines.

    A module subclasses it per kind of file and sets ``kind``, ``title``, ``batches``, ``columns``
    (契約番号, 入金グループ, the batch's key columns, then the lines' columns), ``model`` (the line
    table) and ``names`` (the attributes the lines' columns fill, in order). ``unique`` (attributes)
    and ``duplicate`` (the Japanese refusal) say what may appear once per batch.
    """

    kind: str
    title: str
    batches: Batches
    columns: Sequence[Column]
    model: type[GroupScoped]
    names: tuple[str, ...]
    unique: tuple[str, ...] = ("employee_no",)
    duplicate: str = _("同じ職員番号が重複しています。")

    def parse(self, dbsession: Session, data: bytes) -> Parsed:
        """Every line of the file, or an error for each bad row."""
        lines, columns, errors = read_columns(data, self.columns)
        groups = self.batches.groups(dbsession)
        width = 2 + len(self.batches.key)
        unique = [width + self.names.index(name) for name in self.unique]
        # The file is handled a column at a time (zip, map), not a line at a time, and each batch
        # it names is looked up once: 100,000 lines name a few batches.
        keys = list(zip(*columns[:width], strict=True))
        batches: dict[tuple[Any, ...], _Batch | RowError] = {}
        for key in dict.fromkeys(keys):
            batches[key] = self._batch(dbsession, groups, lines[keys.index(key)], key)
        identities = list(zip(keys, *(columns[i] for i in unique), strict=True))
        if len(set(identities)) < len(identities) or not all(
            isinstance(batch, _Batch) for batch in batches.values()
        ):
            errors += self._refused(lines, keys, identities, batches, columns[unique[0]])
            return Parsed(rows=(), errors=sorted(errors, key=lambda e: e.line))
        values = zip(*columns[width:], strict=True)
        parsed = list(zip(map(batches.__getitem__, keys), values, strict=True))
        return Parsed(rows=parsed, errors=sorted(errors, key=lambda e: e.line))

    def _refused(
        self,
        lines: Sequence[int],
        keys: Sequence[tuple[Any, ...]],
        identities: Sequence[tuple[Any, ...]],
        batches: dict[tuple[Any, ...], _Batch | RowError],
        employees: Sequence[Any],
    ) -> list[RowError]:
        """The errors of the lines whose batch is refused and of the lines repeating what is
        ``unique`` in their batch (the first one stays good)."""
        errors, seen = [], set()
        column = self.columns[2 + len(self.batches.key) + self.names.index(self.unique[0])].name
        for line, key, identity, employee in zip(lines, keys, identities, employees, strict=True):
            batch = batches[key]
            if isinstance(batch, RowError):
                errors.append(RowError(line, batch.message, batch.column, batch.value))
            elif identity in seen:
                errors.append(RowError(line, self.duplicate, column, employee))
            seen.add(identity)
        return errors

    def _batch(
        self, dbsession: Session, groups: GroupsWithModule, line: int, key: tuple[Any, ...]
    ) -> _Batch | RowError:
        """The group and batch of ``key`` (契約番号, 入金グループ, the batch's key), or why not."""
        group = groups.find(line, key[0], key[1])
        if isinstance(group, RowError):
            return group
        batch_id = self.batches.find_id(dbsession, group, key[2:])
        if batch_id is None:
            column = self.columns[len(key) - 1].name
            return RowError(line, self.batches.not_loaded, column, _as_written(key[-1]))
        return _Batch(group, batch_id)

    def store(self, dbsession: Session, rows: Sequence[Any], *, now: dt.datetime) -> None:
        """Replace the lines of every batch in the file: delete each batch's lines (scoped to its
        group), then insert the file's lines by the driver's fastest path."""
        batch_id = getattr(self.model, self.batches.lines_key)
        table = cast(Table, cast(Any, self.model).__table__)
        by_batch: dict[_Batch, list[Sequence[Any]]] = {}
        for batch, group in itertools.groupby(rows, key=operator.itemgetter(0)):
            by_batch.setdefault(batch, []).extend(map(operator.itemgetter(1), group))
        for batch, lines in by_batch.items():
            dbsession.execute(
                scoped_delete(batch.group, self.model).where(batch_id == batch.batch_id)
            )
            fixed = {
                **scope_values(batch.group),
                self.batches.lines_key: batch.batch_id,
            }
            insert_rows(dbsession, table, self.names, lines, fixed=fixed)


def employee_searches(model: Any) -> dict[str, Callable[[str], ColumnElement[bool]]]:
    """The searches of every inquiry of lines per employee: 職員番号 and カナ氏名 (any kana form),
    both 前方一致 as the bank's screens search (an index on each serves it)."""
    return {
        "employee_no": lambda value: model.employee_no.startswith(value, autoescape=True),
        "kana": lambda value: model.name_kana.startswith(search_kana(value), autoescape=True),
    }


@dataclass(frozen=True)
class Button:
    """A button of the 出力 or エクスポート screen: the module's output name and its label (and, for
    a CSV, the shorter label of its UTF-8 link, the label when empty); labels are messages."""

    output: str
    label: str
    short: str = ""


@dataclass(frozen=True)
class BatchScreens:
    """The three read-only screens of a batch module, under ``/m/<code>``.

    照会 (``<code>:inquiry``, the module's template ``<code>/inquiry.html`` extending
    ``batches/inquiry.html``: the picker, the searches, the sortable table, the pages), 出力
    (``<code>:outputs``: the ``pdfs`` buttons) and エクスポート (``<code>:export``: the ``csvs``
    buttons, cp932 and UTF-8), each with the picker.
    """

    batches: Batches
    #: The line table the inquiry lists, its sorts (the last column of each a unique
    #: tie-breaker) and its searches.
    lines: type[GroupScoped]
    sorts: Mapping[str, Sort]
    default_sort: str
    searches: Mapping[str, Callable[[str], ColumnElement[bool]]]
    #: The menu titles of 照会, 出力 and エクスポート (also the screens' titles; messages).
    titles: tuple[str, str, str]
    pdfs: Sequence[Button]
    csvs: Sequence[Button]

    def _picker(self, request: Request) -> dict[str, Any]:
        batches = self.batches
        return {
            "screens": self,
            "batches": batches.all(request.dbsession, request),
            "chosen": batches.chosen(request.dbsession, request, request.GET.get(batches.param)),
        }

    def inquiry(self, request: Request) -> dict[str, Any]:
        """照会: one page of the chosen batch's lines (the newest batch by default)."""
        found = self._picker(request)
        chosen = found["chosen"]
        page = None
        if chosen is not None:
            value = str(getattr(chosen, self.batches.value_attribute))
            page = paged(
                request.dbsession,
                self.batches.lines(request, self.lines, chosen),
                request.GET,
                searches=self.searches,
                sorts=self.sorts,
                default_sort=self.default_sort,
                kept={self.batches.param: value},
            )
        return {**found, "page": page, "asked": request.GET, "title": self.titles[0]}

    def outputs(self, request: Request) -> dict[str, Any]:
        """出力: the picker and the PDF buttons."""
        return {**self._picker(request), "title": self.titles[1]}

    def export(self, request: Request) -> dict[str, Any]:
        """エクスポート: the picker and the CSV buttons."""
        return {**self._picker(request), "title": self.titles[2]}

    def add_routes(self, config: Configurator) -> None:
        """The three screens' routes and views (the core's module guard applies to them)."""
        code = self.batches.module
        for name, path, view, renderer in (
            ("inquiry", "/", self.inquiry, f"{code}/inquiry.html"),
            ("outputs", "/outputs", self.outputs, "batches/outputs.html"),
            ("export", "/export", self.export, "batches/export.html"),
        ):
            config.add_route(f"{code}:{name}", path)
            config.add_view(
                view, route_name=f"{code}:{name}", renderer=renderer, request_method="GET"
            )

    def menu_entries(self) -> list[MenuEntry]:
        """The module's menu: 照会, 出力, エクスポート."""
        code = self.batches.module
        routes = ("inquiry", "outputs", "export")
        return [
            MenuEntry(title, f"{code}:{route}")
            for title, route in zip(self.titles, routes, strict=True)
        ]
