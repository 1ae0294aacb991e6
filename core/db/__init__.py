"""Database wiring: one engine per app, a session per request joined to the request's transaction.

Views never commit: pyramid_tm commits at the end of the request (or aborts on error), and
pyramid_retry replays a request that failed with a PostgreSQL serialization failure or deadlock.
"""

from __future__ import annotations

from typing import Any

import zope.sqlalchemy
from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.request import Request
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, *, sqlite_begin_immediate: bool = True, **kwargs: Any) -> Engine:
    """Create an engine (parameters never in logs: an outbox body may hold a code); SQLite gets foreign keys, WAL, a busy timeout and ``BEGIN IMMEDIATE``.

    ``BEGIN IMMEDIATE`` makes every SQLite transaction take the write lock when it starts, so that a
    read-then-write (a lockout counter, a claim) cannot interleave with another process's: SQLite's
    stand-in for PostgreSQL's row locks. Tests that only inspect the database pass
    ``sqlite_begin_immediate=False`` so that their open read transactions never hold the write lock.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if sqlite_begin_immediate else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


_ENGINE = "cjs.db.engine"
_SESSION_FACTORY = "cjs.db.session_factory"


def get_engine(registry: Registry) -> Engine:
    """The application's engine (made by :func:`includeme`)."""
    engine: Engine = registry[_ENGINE]
    return engine


def get_session_factory(registry: Registry) -> sessionmaker[Session]:
    """The application's session factory: a session outside any request (jobs, workers, loaders)."""
    factory: sessionmaker[Session] = registry[_SESSION_FACTORY]
    return factory


def _dbsession(request: Request) -> Session:
    session = get_session_factory(request.registry)()
    zope.sqlalchemy.register(session, transaction_manager=request.tm)
    return session


def includeme(config: Configurator) -> None:
    """Create the engine from ``sqlalchemy.url`` and give requests ``request.dbsession``."""
    settings = config.get_settings()
    settings["tm.manager_hook"] = "pyramid_tm.explicit_manager"
    # No user annotation: it would load the session and identity on every request, static included.
    settings["tm.annotate_user"] = False
    config.include("pyramid_tm")
    config.include("pyramid_retry")
    engine = make_engine(settings["sqlalchemy.url"])
    config.registry[_ENGINE] = engine
    config.registry[_SESSION_FACTORY] = make_session_factory(engine)
    config.add_request_method(_dbsession, "dbsession", reify=True)
