"""Bank data files (``cjs load KIND FILE``): all or nothing, audited.

The core loads the information screens' お知らせ and スケジュール (BANK-6, :func:`core_loaders`); a
module declares the kinds of file it accepts (``cjs_loaders``, a :class:`core.hookspecs.Loader` each).
:func:`load_file` parses the whole file first, in the transaction that will store it; a single refused
row refuses the file (nothing is written), and every refused row is reported with its line. Otherwise
the rows are stored and an audit event ``load.<kind>`` (actor ろうきん) recorded, and the transaction
commits: the file is in the database entirely, or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from core import audit
from core.bank.messages import MessagesLoader
from core.bank.schedules import SchedulesLoader
from core.hookspecs import Loader, RowError
from core.settings import ConfigurationError

ACTOR = "bank-load"


def core_loaders() -> dict[str, Loader]:
    """The kinds of file the core loads itself: お知らせ (messages) and スケジュール (schedules)."""
    return {loader.kind: loader for loader in (MessagesLoader(), SchedulesLoader())}


def all_loaders(module_loaders: Mapping[str, Loader]) -> dict[str, Loader]:
    """The core's kinds and the modules' (``ModuleRegistry.loaders``); a module may not take a
    kind of the core's."""
    loaders = core_loaders()
    for kind, loader in module_loaders.items():
        if kind in loaders:
            raise ConfigurationError(f"loader {kind!r}: a kind of the core's")
        loaders[kind] = loader
    return loaders


def describe(error: RowError) -> str:
    """A refused row as one report line: ``LINE: message`` or ``LINE: [column] 「value」 message``."""
    if not error.column:
        return f"{error.line}: {error.message}"
    return f"{error.line}: [{error.column}] 「{error.value}」 {error.message}"


class LoadRefused(Exception):
    """The file was refused: nothing was stored. ``errors`` holds every refused row."""

    def __init__(self, kind: str, errors: Sequence[RowError]) -> None:
        super().__init__(f"{kind}: {len(errors)} row(s) refused, nothing loaded")
        self.errors = list(errors)


@dataclass(frozen=True)
class LoadReport:
    """What a loaded file did: its kind and the number of rows stored."""

    kind: str
    rows: int


def load_file(
    session_factory: Callable[[], Session],
    loader: Loader,
    path: str | Path,
    *,
    now: dt.datetime,
) -> LoadReport:
    """Parse ``path`` with ``loader`` and store it in one transaction with its audit event.

    Raises :class:`LoadRefused` (nothing stored) when a row is refused, OSError when the file cannot
    be read. ``now`` is handed to the loader's ``store``.
    """
    data = Path(path).read_bytes()
    with session_factory() as session, session.begin():
        parsed = loader.parse(session, data)
        if parsed.errors:
            raise LoadRefused(loader.kind, parsed.errors)  # rolls the transaction back
        loader.store(session, parsed.rows, now=now)
        audit.record(
            session,
            f"load.{loader.kind}",
            actor=ACTOR,
            actor_kind="bank",
            target=Path(path).name,
            details={"kind": loader.kind, "rows": len(parsed.rows)},
        )
    return LoadReport(loader.kind, len(parsed.rows))
