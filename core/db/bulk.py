"""Bulk inserts: a bank file puts 100,000 rows in one transaction (BANK-6, #13)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

#: Rows per executemany of :func:`insert_rows`.
INSERT_BATCH = 5000


def insert_rows(
    dbsession: Session,
    table: Table,
    names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    fixed: Mapping[str, int] | None = None,
) -> None:
    """Insert ``rows`` (the values of the columns ``names``, in order) into ``table`` in the
    session's transaction, with the integer columns ``fixed`` the same on every row (e.g. the
    tenancy columns and the round), by the driver's fastest path: COPY on PostgreSQL (psycopg),
    executemany of one prepared INSERT elsewhere. Values pass through the columns' bind
    processors, as SQLAlchemy's own insert does; nothing of the session's unit of work is involved
    (no ORM objects, no events)."""
    fixed = {name: int(value) for name, value in (fixed or {}).items()}
    connection = dbsession.connection()
    dialect = connection.dialect
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    if any(processors):
        rows = (
            [p(value) if p else value for p, value in zip(processors, row, strict=True)]
            for row in rows
        )
    iterator = iter(rows)
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(dialect.paramstyle)
    copy = dialect.name == "postgresql" and dialect.driver == "psycopg"
    if mark is None and not copy:  # a driver of another parameter style: SQLAlchemy's own path
        while batch := list(itertools.islice(iterator, INSERT_BATCH)):
            dicts = [{**fixed, **dict(zip(names, row, strict=True))} for row in batch]
            dbsession.execute(insert(table), dicts)
        return
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(map(quote, [*fixed, *names]))
    target = f"{dialect.identifier_preparer.format_table(table)} ({columns})"
    cursor = connection.connection.cursor()
    try:
        if copy:
            prefix = tuple(fixed.values())
            with cursor.copy(f"COPY {target} FROM STDIN") as stream:
                for row in iterator:
                    stream.write_row((*prefix, *row))
            return
        # The fixed values are integers (int() above), written as literals; the rows are bound.
        values = ", ".join([*map(str, fixed.values()), *[mark or "?"] * len(names)])
        statement = f"INSERT INTO {target} VALUES ({values})"  # noqa: S608
        while batch := list(itertools.islice(iterator, INSERT_BATCH)):
            cursor.executemany(statement, batch)
    finally:
        cursor.close()
