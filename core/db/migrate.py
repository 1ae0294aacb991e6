"""Database migrations (Alembic), configured in code so ``cjs db …`` works from any folder.

The core's scripts live in the ``migrations`` package (``migrations/versions``, branch ``core``);
each plugin that answers ``cjs_schema`` adds its own folder (an Alembic version location) holding its
own branch, whose first revision ``depends_on`` a core revision. So the scripts have one head per
branch: :func:`upgrade` goes to all of them (``heads``) and :func:`check` compares the core's and the
plugins' tables. No ``alembic.ini`` is needed: :func:`make_config` builds the Alembic configuration
from the package's location, the plugins' folders and a database URL, and ``migrations/env.py`` reads
the URL (or an open connection) from ``config.attributes``.

A developer adds a revision with :func:`revision` (autogenerate against a database at head), then
reviews and edits the script: autogenerate does not see triggers, functions or data changes.

Alembic's ``context`` is process-global: run one migration at a time per process. Several processes
may upgrade the same PostgreSQL database at once (env.py serialises them with an advisory lock).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from pluggy import PluginManager
from sqlalchemy import MetaData, create_engine, pool
from sqlalchemy.engine import Connection

import migrations
from core.db.models import Base
from core.hookspecs import ModuleSchema
from core.plugins import make_plugin_manager
from core.settings import ConfigurationError

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent
#: The branch label of the core's revisions.
CORE_BRANCH = "core"

# Shared by migrations/env.py (autogenerate) and check(), so both see the same differences.
COMPARE_OPTIONS: dict[str, Any] = {"compare_type": True, "compare_server_default": True}


def plugin_schemas(plugins: PluginManager | None = None) -> list[ModuleSchema]:
    """The schemas of ``plugins`` (default: every installed plugin; loading it declares its tables).

    A table not declared on ``core.db.models.Base``, or a branch declared twice, stops with
    :class:`ConfigurationError`.
    """
    pm = plugins if plugins is not None else make_plugin_manager()
    schemas: list[ModuleSchema] = list(pm.hook.cjs_schema())
    branches = [CORE_BRANCH]
    for schema in schemas:
        if schema.branch in branches:
            raise ConfigurationError(f"migrations branch {schema.branch!r}: declared twice")
        branches.append(schema.branch)
        for table in schema.tables:
            if table.metadata is not Base.metadata:
                raise ConfigurationError(
                    f"table {table.name!r} of branch {schema.branch!r}: "
                    "declare it on core.db.models.Base"
                )
    return schemas


def target_metadata() -> MetaData:
    """The metadata migrations must produce: the core models and those of the loaded plugins."""
    return Base.metadata


def make_config(
    url: str | None = None,
    connection: Connection | None = None,
    plugins: PluginManager | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Config:
    """An Alembic configuration for ``url`` (or an open ``connection``), from any working folder.

    The version locations are the core's and those of ``plugins`` (default: every installed one;
    ``cjs db`` leaves out those of ``cjs.plugins.disabled``). ``settings`` (the app's) reach the
    scripts as ``config.attributes["settings"]``: a data migration that seals rows needs the key of
    ``cjs.secrets.key_file`` (0005).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    locations = [MIGRATIONS_DIR / "versions", *(s.versions for s in plugin_schemas(plugins))]
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(str(p) for p in locations))
    # The URL goes through attributes, not the ini parser: a '%' in a password stays as it is.
    config.attributes["url"] = url
    config.attributes["connection"] = connection
    config.attributes["settings"] = settings
    return config


def upgrade(
    url: str,
    revision: str = "heads",
    plugins: PluginManager | None = None,
    settings: Mapping[str, Any] | None = None,
) -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: every branch's newest);
    ``settings`` as for :func:`make_config`."""
    command.upgrade(make_config(url, plugins=plugins, settings=settings), revision)


def downgrade(
    url: str,
    revision: str = "base",
    plugins: PluginManager | None = None,
    settings: Mapping[str, Any] | None = None,
) -> None:
    """Migrate the database at ``url`` down to ``revision`` (default: no tables at all);
    ``settings`` as for :func:`make_config`."""
    command.downgrade(make_config(url, plugins=plugins, settings=settings), revision)


def heads(plugins: PluginManager | None = None) -> list[str]:
    """The head revisions of the scripts: one per branch (core and each plugin), sorted."""
    return sorted(ScriptDirectory.from_config(make_config(plugins=plugins)).get_heads())


def branch_head(branch: str, plugins: PluginManager | None = None) -> str | None:
    """The newest revision of ``branch`` (e.g. ``core``), or None when no script carries the label."""
    scripts = ScriptDirectory.from_config(make_config(plugins=plugins))
    try:
        revision = scripts.get_revision(f"{branch}@head")
    except CommandError:
        return None
    return None if revision is None else revision.revision


def current(url: str) -> list[str]:
    """The revisions the database at ``url`` is at, one per branch, sorted ([]: not migrated)."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return sorted(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()


def check(url: str, plugins: PluginManager | None = None) -> list[str]:
    """Differences between the database at ``url`` and the models, one line each; [] if identical.

    A database not at the head of every branch is reported too, so ``cjs db check`` fails before a
    start with a schema the code does not expect; so is a plugin branch without scripts.
    """
    plugins = plugins if plugins is not None else make_plugin_manager()
    missing = [
        schema.branch
        for schema in plugin_schemas(plugins)
        if branch_head(schema.branch, plugins) is None
    ]
    metadata = target_metadata()
    scripts = ScriptDirectory.from_config(make_config(plugins=plugins))
    script_heads = sorted(scripts.get_heads())
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={**COMPARE_OPTIONS, "target_metadata": metadata}
            )
            revisions = list(context.get_current_heads())
            diffs = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    lines = [f"migrations branch {branch!r}: no revision carries this label" for branch in missing]
    # A revision another depends on is not stored as a head: compare with everything applied.
    applied = {r.revision for r in scripts.iterate_revisions(tuple(revisions), "base")}
    if not set(script_heads) <= applied:
        lines.append(
            f"database at revision {', '.join(sorted(revisions)) or 'none'}, "
            f"scripts at {', '.join(script_heads)} (run 'cjs db upgrade')"
        )
    lines.extend(_describe(diff) for diff in _flatten(diffs))
    return lines


def revision(url: str, message: str, rev_id: str | None = None, branch: str = CORE_BRANCH) -> None:
    """Write a new revision of ``branch`` autogenerated against ``url`` (a database at every head).

    Review it. A plugin's first revision is written by hand (see docs/plugin-guide.md): it carries
    the branch label and ``depends_on`` the core head.
    """
    command.revision(
        make_config(url),
        message=message,
        autogenerate=True,
        rev_id=rev_id,
        head=f"{branch}@head",
    )


def _flatten(diffs: list[Any]) -> list[tuple[Any, ...]]:
    flat: list[tuple[Any, ...]] = []
    for diff in diffs:
        # Column modifications come as a list of tuples, one per changed attribute.
        if isinstance(diff, list):
            flat.extend(diff)
        else:
            flat.append(diff)
    return flat


def _describe(diff: tuple[Any, ...]) -> str:
    kind = diff[0]
    if kind in {"add_table", "remove_table"}:
        return f"{kind}: {diff[1].name}"
    if kind in {"add_column", "remove_column"}:
        _schema, table, column = diff[1], diff[2], diff[3]
        return f"{kind}: {table}.{column.name}"
    if kind in {"add_index", "remove_index"}:
        index = diff[1]
        columns = ", ".join(c.name for c in index.columns)
        return f"{kind}: {index.name} on {index.table.name} ({columns})"
    if kind in {"add_constraint", "remove_constraint", "add_fk", "remove_fk"}:
        constraint = diff[1]
        table = constraint.table.name if constraint.table is not None else "?"
        return f"{kind}: {constraint.name} on {table}"
    if kind.startswith("modify_"):
        # ("modify_type", schema, table, column, existing_kw, old, new)
        _schema, table, column, _existing, old, new = diff[1:7]
        return f"{kind}: {table}.{column}: {old!r} -> {new!r}"
    return f"{kind}: {diff[1:]!r}"
