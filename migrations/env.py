"""Alembic environment, in Warehouse's style.

One transaction per migration, so a failure leaves the database at the last good revision. On
PostgreSQL every migration runs with a ``lock_timeout`` (waiting behind a long transaction for an
ACCESS EXCLUSIVE lock would stall all traffic: give up instead and retry later) and a
``statement_timeout`` (a migration that needs longer must be written in steps). SQLite alters tables
in batch mode (copy and move). The target metadata is ``core.db.models.Base.metadata``: the core's
tables and those the loaded plugins declared on it (``cjs_schema``). The URL or an open connection comes from ``config.attributes``, set by
:func:`core.db.migrate.make_config`.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import TypeDecorator, create_engine, pool, text
from sqlalchemy.engine import Connection

from core.db.migrate import COMPARE_OPTIONS, target_metadata

LOCK_TIMEOUT = "4s"
STATEMENT_TIMEOUT = "60s"

config = context.config


def _render_item(kind: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Write a model's TypeDecorator (UTCDateTime) as its SQL type: migrations must not import models."""
    if kind == "type" and isinstance(obj, TypeDecorator):
        autogen_context.imports.add("import sqlalchemy as sa")
        return f"sa.{obj.impl_instance!r}"
    return False


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: use core.db.migrate (cjs db …), not a bare alembic")
    return str(url)


def run_migrations_offline() -> None:
    """Write the SQL of the migrations (``--sql``) instead of running them."""
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata(),
        literal_binds=True,
        transaction_per_migration=True,
        render_as_batch=url.startswith("sqlite"),
        render_item=_render_item,
        **COMPARE_OPTIONS,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the caller's connection, or on a new one to the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        # The caller owns this connection and its transaction: no session settings, no commit.
        _configure_and_run(connection)
        return
    # SQLite without core.db's PRAGMA foreign_keys=ON: a batch migration drops and recreates
    # tables that others refer to.
    engine = create_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            postgresql = connection.dialect.name == "postgresql"
            if postgresql:
                # Several processes may start an upgrade at once: one runs, the others wait for
                # it and then find nothing to do. Session-level settings, kept after the commit.
                connection.execute(text("SELECT pg_advisory_lock(hashtext('cjs-alembic'))"))
                connection.execute(text(f"SET lock_timeout = '{LOCK_TIMEOUT}'"))
                connection.execute(text(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'"))
                connection.commit()
            _configure_and_run(connection)
            if connection.in_transaction():
                connection.commit()
            if postgresql:
                connection.execute(text("SELECT pg_advisory_unlock(hashtext('cjs-alembic'))"))
                connection.commit()
    finally:
        engine.dispose()


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        transaction_per_migration=True,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=_render_item,
        **COMPARE_OPTIONS,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
