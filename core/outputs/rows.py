"""Rows of a long output read from the database a chunk at a time (SPEC 6, #13 item 6)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

#: Rows fetched per round trip: a 100,000-row list never holds them all.
CHUNK = 1000


def streamed(dbsession: Session, statement: Select[Any]) -> Iterator[Any]:
    """The entities of ``statement`` fetched ``CHUNK`` at a time, for ``list_pdf`` or a
    ``CsvTable``; the cursor is closed however the iteration ends."""
    result = dbsession.scalars(statement.execution_options(yield_per=CHUNK))
    try:
        yield from result
    finally:
        result.close()
