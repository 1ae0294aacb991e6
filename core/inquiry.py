"""Paged, searchable, sortable inquiry screens (照会) shared by the service modules (#13 item 1).

A module gives a scoped statement of one entity with an ``id`` (``core.security.tenancy.scoped_select``),
the searches it offers
(a query-string name → a function of the typed value giving a WHERE criterion), the sorts (a name →
the columns, the last one a unique tie-breaker so pages never overlap) and the query string; it gets
one :class:`Page` back: the rows of the page, the total, the page count, and the links the template
needs. Values come from the browser and are never trusted: an unknown sort falls back to the
default, a page out of range to the nearest page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

#: Rows per page of an inquiry screen.
PAGE_SIZE = 50


@dataclass(frozen=True)
class Sort:
    """A sort order offered by a screen: its heading label and the columns, ascending."""

    label: str
    columns: Sequence[Any]


@dataclass(frozen=True)
class Page:
    """One page of an inquiry: rows, where it is, and what the screen was asked."""

    rows: Sequence[Any]
    number: int
    pages: int
    total: int
    sort: str
    descending: bool
    #: The searches and other parameters that every link of the screen keeps (page and sort aside).
    kept: Mapping[str, str] = field(default_factory=dict)

    @property
    def first_row(self) -> int:
        """The position of the page's first row (1-based), 0 on an empty page."""
        return 0 if not self.total else (self.number - 1) * PAGE_SIZE + 1

    def query(self, **changes: Any) -> str:
        """The query string of a link: what was asked, with ``changes`` (page=, sort=, desc=)."""
        values: dict[str, Any] = {
            **self.kept,
            "sort": self.sort,
            "desc": "1" if self.descending else "",
            "page": self.number,
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})

    def sort_query(self, sort: str) -> str:
        """The link of a column heading: sort by it, the other way round when it is the sort."""
        return self.query(
            sort=sort, desc="1" if sort == self.sort and not self.descending else "", page=1
        )


def _page_number(value: str | None, pages: int) -> int:
    try:
        number = int(value or "1")
    except ValueError:
        number = 1
    return min(max(number, 1), pages)


def paged(
    dbsession: Session,
    statement: Select[Any],
    params: Mapping[str, str],
    *,
    searches: Mapping[str, Callable[[str], ColumnElement[bool]]],
    sorts: Mapping[str, Sort],
    default_sort: str,
    kept: Mapping[str, str] = {},
    page_size: int = PAGE_SIZE,
) -> Page:
    """The page of ``statement`` asked by ``params`` (``page``, ``sort``, ``desc`` and the
    ``searches`` by name; an empty search is no criterion)."""
    asked = {name: (params.get(name) or "").strip() for name in searches}
    for name, value in asked.items():
        if value:
            statement = statement.where(searches[name](value))
    sort = params.get("sort") or default_sort
    if sort not in sorts:
        sort = default_sort
    descending = params.get("desc") == "1"
    options = statement.get_execution_options()
    total = dbsession.scalar(
        select(func.count())
        .select_from(statement.order_by(None).subquery())
        .execution_options(**options)
    )
    total = int(total or 0)
    pages = max(1, math.ceil(total / page_size))
    number = _page_number(params.get("page"), pages)
    # The page's keys first (an index on the filters and the sort answers this alone), then their
    # rows by primary key alone, put back in the keys' order: repeating the filters there would
    # let the database walk the filters' index over the whole batch instead of looking up 50 keys
    # (the keys query carries the statement's scope, and the rows query its execution options). A
    # page in the second half is read from the other end, the sort reversed: the database skips
    # at most half the rows, so the last page costs what the first does.
    skipped = (number - 1) * page_size
    on_page = min(page_size, total - skipped)
    from_end = skipped > total // 2
    if from_end:
        skipped = total - skipped - on_page
    backwards = descending != from_end
    columns = [column.desc() if backwards else column for column in sorts[sort].columns]
    entity = statement.column_descriptions[0]["entity"]
    keys = list(
        dbsession.scalars(
            statement.with_only_columns(entity.id).order_by(*columns).limit(on_page).offset(skipped)
        )
    )
    if from_end:
        keys.reverse()
    by_key = {
        row.id: row
        for row in dbsession.scalars(
            select(entity).where(entity.id.in_(keys)).execution_options(**options)
        )
    }
    rows = [by_key[key] for key in keys]
    return Page(
        rows=rows,
        number=number,
        pages=pages,
        total=total,
        sort=sort,
        descending=descending,
        kept={**kept, **{name: value for name, value in asked.items() if value}},
    )
