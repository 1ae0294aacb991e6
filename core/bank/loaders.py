"""Bank data files (``cjs bank load MODULE KIND FILE``): all or nothing, audited, idempotent
(BANK-6, #13 item 5).

The core loads the information screens' お知らせ and スケジュール itself (module ``core``,
:func:`core_loaders`); a service module declares the kinds of file it accepts (``cjs_loaders``, a
:class:`core.hookspecs.Loader` each). :func:`load_file` parses the whole file first, in the
transaction that will store it; a single refused row refuses the file (nothing is written), and every
refused row is reported with its line, column and value. Otherwise the rows are stored and an audit
event recorded (``load.<kind>`` for the core's kinds, ``load.<module>.<kind>`` for a module's; actor
ろうきん; with the file's SHA-256), and the transaction commits: the file is in the database entirely,
or not at all. A file whose bytes were loaded before for the same module and kind is not loaded again
(and a loader's ``store`` replaces what an earlier file of the same key loaded, so a corrected file
replaces the first one instead of doubling it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.bank.messages import MessagesLoader
from core.bank.schedules_file import SchedulesLoader
from core.db import make_engine, make_session_factory
from core.db.models import AuditEvent
from core.hookspecs import Loader, RowError
from core.plugins import CORE_LOADERS, ModuleRegistry, load_action, make_plugin_manager
from core.settings import ConfigurationError

ACTOR = "bank-load"


def core_loaders() -> dict[str, Loader]:
    """The kinds of file the core loads itself: お知らせ (messages) and スケジュール (schedules)."""
    return {loader.kind: loader for loader in (MessagesLoader(), SchedulesLoader())}


def all_loaders(module_loaders: Mapping[tuple[str, str], Loader]) -> dict[tuple[str, str], Loader]:
    """Every loader by (module, kind): the core's under ``core`` and the modules'
    (``ModuleRegistry.loaders``); no module may be called ``core``."""
    loaders = {(CORE_LOADERS, kind): loader for kind, loader in core_loaders().items()}
    for (code, kind), loader in module_loaders.items():
        if code == CORE_LOADERS:
            raise ConfigurationError(
                f"loader {code} {kind!r}: the module name 'core' is the core's"
            )
        loaders[code, kind] = loader
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
    """What a loaded file did: its kind, the rows stored, and whether it had been loaded before
    (then nothing was stored again)."""

    kind: str
    rows: int
    already_loaded: bool = False


def _loaded_before(session: Session, action: str, digest: str) -> bool:
    details = session.scalars(select(AuditEvent.details).where(AuditEvent.action == action))
    return any((d or {}).get("sha256") == digest for d in details)


def load_in(
    session: Session,
    loader: Loader,
    data: bytes,
    name: str,
    *,
    now: dt.datetime,
    module: str = CORE_LOADERS,
    actor: str = ACTOR,
) -> LoadReport:
    """Parse ``data`` (the file ``name``) with ``loader`` of ``module`` and store it with its audit
    event (done by ``actor``) in ``session``'s transaction, which the caller commits; raises
    :class:`LoadRefused` before writing anything when a row is refused. The same bytes loaded again
    store nothing (``already_loaded``). The command and the staff console both load through here."""
    action = load_action(module, loader.kind)
    digest = hashlib.sha256(data).hexdigest()
    if _loaded_before(session, action, digest):
        return LoadReport(loader.kind, 0, already_loaded=True)
    parsed = loader.parse(session, data)
    if parsed.errors:
        raise LoadRefused(loader.kind, parsed.errors)
    loader.store(session, parsed.rows, now=now)
    audit.record(
        session,
        action,
        actor=actor,
        actor_kind="bank",
        target=name,
        details={"kind": loader.kind, "rows": len(parsed.rows), "sha256": digest},
    )
    return LoadReport(loader.kind, len(parsed.rows))


def load_data(
    session_factory: Callable[[], Session],
    loader: Loader,
    data: bytes,
    name: str,
    *,
    now: dt.datetime,
    module: str = CORE_LOADERS,
) -> LoadReport:
    """:func:`load_in` in a transaction of its own: committed when the file is stored, rolled back
    when :class:`LoadRefused` is raised."""
    with session_factory() as session, session.begin():
        return load_in(session, loader, data, name, now=now, module=module)


def load_file(
    session_factory: Callable[[], Session],
    loader: Loader,
    path: str | Path,
    *,
    now: dt.datetime,
    module: str = CORE_LOADERS,
) -> LoadReport:
    """:func:`load_data` of the file at ``path``; OSError when it cannot be read."""
    data = Path(path).read_bytes()
    return load_data(session_factory, loader, data, Path(path).name, now=now, module=module)


def load_demo_files(
    session_factory: Callable[[], Session], modules: ModuleRegistry, *, now: dt.datetime
) -> list[str]:
    """Every module's demo data files (``cjs_demo_files``), each loaded like ``cjs bank load``;
    running it again loads nothing twice. Returns one report line per file."""
    with session_factory() as session:
        files = modules.demo_files(session, now)
    lines = []
    for code, demo in files:
        loader = modules.loaders[code, demo.kind]
        report = load_data(session_factory, loader, demo.data, demo.name, now=now, module=code)
        done = "already loaded" if report.already_loaded else f"{report.rows} row(s) loaded"
        lines.append(f"{code} {demo.kind} {demo.name}: {done}")
    return lines


def load_demo_files_with_settings(settings: Mapping[str, Any]) -> list[str]:
    """``cjs demo``: :func:`load_demo_files` of the installed modules on the configured database."""
    modules = ModuleRegistry(make_plugin_manager(disabled=settings["cjs.plugins.disabled"]))
    engine = make_engine(settings["sqlalchemy.url"])
    try:
        return load_demo_files(make_session_factory(engine), modules, now=dt.datetime.now(dt.UTC))
    finally:
        engine.dispose()
