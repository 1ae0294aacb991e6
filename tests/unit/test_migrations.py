"""The migrations give exactly the models' schema, on SQLite and PostgreSQL, and take it away again.

The audit table is append-only in the database itself (§5: every bank action audited with who and
when): triggers refuse UPDATE and DELETE whatever client writes to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, pool, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from core import cli
from core.db import migrate as dbmigrate

INSERT_AUDIT = text(
    "INSERT INTO audit_events (occurred_at, actor, actor_kind, action, result, details)"
    " VALUES ('2026-04-01 00:30:00', 'rokin01', 'user', 'login', 'success', '{}')"
)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A plain engine (no ORM, no model events): raw SQL reaches the database as it is."""
    engine = create_engine(db_url, poolclass=pool.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def _triggers_and_functions(url: str) -> list[str]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            else:
                query = (
                    "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
                    " UNION ALL SELECT p.proname FROM pg_proc p"
                    " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
                )
            return sorted(connection.scalars(text(query)))
    finally:
        engine.dispose()


def _tables(url: str) -> list[str]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        return sorted(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_scripts_have_one_head() -> None:
    """Two branches added in parallel must be merged before they reach a database."""
    assert len(dbmigrate.heads()) == 1


def test_upgrade_head_on_an_empty_database_gives_the_models_schema(empty_db_url: str) -> None:
    assert dbmigrate.check(empty_db_url), "an empty database must differ from the models"

    dbmigrate.upgrade(empty_db_url)

    assert dbmigrate.check(empty_db_url) == []
    assert dbmigrate.current(empty_db_url) == dbmigrate.heads()[0]
    assert len(_triggers_and_functions(empty_db_url)) >= 2


def test_downgrade_base_leaves_no_tables_and_upgrades_again(db_url: str) -> None:
    dbmigrate.downgrade(db_url, "base")

    assert _tables(db_url) == ["alembic_version"]
    assert _triggers_and_functions(db_url) == []
    assert dbmigrate.current(db_url) is None

    dbmigrate.upgrade(db_url)
    assert dbmigrate.check(db_url) == []


def test_check_reports_a_schema_that_drifted(engine: Engine, db_url: str) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_audit_events_action"))

    differences = dbmigrate.check(db_url)

    assert differences == ["add_index: ix_audit_events_action on audit_events (action)"]


def test_audit_events_accept_insert_and_refuse_update_and_delete(engine: Engine) -> None:
    """The audit log is append-only in the database too (§5), not only in the ORM."""
    with engine.begin() as connection:
        connection.execute(INSERT_AUDIT)
        connection.execute(INSERT_AUDIT)

    for statement in (
        "UPDATE audit_events SET result = 'failure'",
        "UPDATE audit_events SET actor = 'someone' WHERE id = 1",
        "DELETE FROM audit_events",
        "DELETE FROM audit_events WHERE id = 2",
    ):
        with (
            pytest.raises(IntegrityError, match="audit_events is append-only"),
            engine.begin() as connection,
        ):
            connection.execute(text(statement))

    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, actor, result FROM audit_events ORDER BY id"))
        assert rows.all() == [(1, "rokin01", "success"), (2, "rokin01", "success")]


@pytest.mark.postgresql
def test_audit_events_refuse_truncate_on_postgresql(postgresql_url: str) -> None:
    engine = create_engine(postgresql_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(INSERT_AUDIT)
        with (
            pytest.raises(IntegrityError, match="append-only: TRUNCATE refused"),
            engine.begin() as connection,
        ):
            connection.execute(text("TRUNCATE audit_events"))
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM audit_events")) == 1
    finally:
        engine.dispose()


def test_cjs_db_commands_work_from_any_folder(
    empty_db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``cjs db upgrade|check|downgrade`` need no alembic.ini in the working folder."""
    ini = tmp_path / "conf" / "cjs.ini"
    ini.parent.mkdir()
    ini.write_text(f"[app:main]\nuse = egg:cjs\nsqlalchemy.url = {empty_db_url}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    assert cli.main(["-c", str(ini), "db", "check"]) == 1
    assert cli.main(["-c", str(ini), "db", "upgrade"]) == 0
    capsys.readouterr()
    assert cli.main(["-c", str(ini), "db", "check"]) == 0
    assert capsys.readouterr().out == "database schema matches the models\n"
    assert cli.main(["-c", str(ini), "db", "downgrade"]) == 0
    assert _tables(empty_db_url) == ["alembic_version"]
    assert list(elsewhere.iterdir()) == []
