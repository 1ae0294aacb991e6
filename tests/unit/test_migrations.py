"""The migrations give exactly the models' schema, on SQLite and PostgreSQL, and take it away again.

The audit table is append-only in the database itself (§5: every bank action audited with who and
when): triggers refuse UPDATE and DELETE whatever client writes to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    inspect,
    pool,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from core import cli
from core.db import migrate as dbmigrate
from core.db.models import Base
from core.hookspecs import ModuleSchema, hookimpl
from core.plugins import make_plugin_manager
from core.settings import ConfigurationError

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


def test_the_scripts_have_one_head_per_branch() -> None:
    """Two revisions added in parallel on one branch must be merged before they reach a database;
    each plugin's branch has its own head beside the core's."""
    branches = ["core", *(schema.branch for schema in dbmigrate.plugin_schemas())]
    assert sorted(dbmigrate.branch_head(branch) for branch in branches) == dbmigrate.heads()


def test_upgrade_head_on_an_empty_database_gives_the_models_schema(empty_db_url: str) -> None:
    assert dbmigrate.check(empty_db_url), "an empty database must differ from the models"

    dbmigrate.upgrade(empty_db_url)

    assert dbmigrate.check(empty_db_url) == []
    # A head that a plugin's branch depends on is not stored in the database: it is applied anyway.
    assert set(dbmigrate.current(empty_db_url)) <= set(dbmigrate.heads())
    assert len(_triggers_and_functions(empty_db_url)) >= 2


def test_downgrade_base_leaves_no_tables_and_upgrades_again(db_url: str) -> None:
    dbmigrate.downgrade(db_url, "base")

    assert _tables(db_url) == ["alembic_version"]
    assert _triggers_and_functions(db_url) == []
    assert dbmigrate.current(db_url) == []

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


PLUGIN_REVISION = """\
import sqlalchemy as sa
from alembic import op

revision = "things_0001"
down_revision = None
branch_labels = ("things",)
depends_on = "{core_head}"


def upgrade() -> None:
    op.create_table(
        "things",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_things")),
    )


def downgrade() -> None:
    op.drop_table("things")
"""


class ThingsPlugin:
    """A plugin with one table and its own branch of revisions in ``versions``."""

    def __init__(self, versions: Path, table: Table) -> None:
        self.versions = versions
        self.table = table

    @hookimpl
    def cjs_schema(self) -> ModuleSchema:
        return ModuleSchema(branch="things", versions=self.versions, tables=(self.table,))


@pytest.fixture
def things_table() -> Iterator[Table]:
    """A plugin table on the shared metadata, taken off again so that no other test sees it."""
    table = Table(
        "things",
        Base.metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(40), nullable=False),
    )
    try:
        yield table
    finally:
        Base.metadata.remove(table)


def _things_plugins(tmp_path: Path, table: Table, *, with_revision: bool = True):
    versions = tmp_path / "things_versions"
    versions.mkdir()
    if with_revision:
        core_head = dbmigrate.branch_head("core")
        (versions / "things_0001.py").write_text(PLUGIN_REVISION.format(core_head=core_head))
    return make_plugin_manager([ThingsPlugin(versions, table)])


def test_a_plugin_branch_is_upgraded_checked_and_downgraded(
    empty_db_url: str, tmp_path: Path, things_table: Table
) -> None:
    """Issue #11: a module's own migrations need no edit to core; ``cjs db check`` covers them."""
    plugins = _things_plugins(tmp_path, things_table)
    assert "things_0001" in dbmigrate.heads(plugins)
    assert "add_table: things" in dbmigrate.check(empty_db_url, plugins)
    dbmigrate.upgrade(empty_db_url)  # the installed plugins only
    assert any("(run 'cjs db upgrade')" in line for line in dbmigrate.check(empty_db_url, plugins))

    dbmigrate.upgrade(empty_db_url, plugins=plugins)

    assert "things" in _tables(empty_db_url)
    assert "things_0001" in dbmigrate.current(empty_db_url)
    assert dbmigrate.check(empty_db_url, plugins) == []

    dbmigrate.downgrade(empty_db_url, plugins=plugins)
    assert _tables(empty_db_url) == ["alembic_version"]


def test_check_reports_a_plugin_branch_without_revisions(
    db_url: str, tmp_path: Path, things_table: Table
) -> None:
    plugins = _things_plugins(tmp_path, things_table, with_revision=False)

    differences = dbmigrate.check(db_url, plugins)

    assert "migrations branch 'things': no revision carries this label" in differences
    assert "add_table: things" in differences


def test_a_plugin_table_on_its_own_metadata_is_refused(tmp_path: Path) -> None:
    """Tables on another MetaData would escape ``cjs db check``: the start stops instead."""
    elsewhere = Table("loose", MetaData(), Column("id", Integer, primary_key=True))
    plugins = make_plugin_manager([ThingsPlugin(tmp_path, elsewhere)])

    with pytest.raises(ConfigurationError, match="table 'loose' of branch 'things': declare it"):
        dbmigrate.heads(plugins)


_OUTBOX_ROW = text(
    "INSERT INTO outbox_messages (message_id, kind, to_addr, subject, body, created_at, attempts,"
    " next_attempt_at, sent_at) VALUES (:message_id, 'email_code', 'goro@example.jp', '件名',"
    " :body, '2026-11-30 00:00:00', 0, '2026-11-30 00:00:00', :sent_at)"
)


def test_0005_seals_pending_outbox_bodies_and_drops_those_already_sent(
    engine: Engine, db_url: str, secrets_key_file: str
) -> None:
    """#12, AUTH-3: mails queued in clear before the upgrade are sealed with the key of the
    settings (none is lost), the text of those sent is gone; the downgrade opens them again."""
    from core import mail
    from core.db import make_session_factory
    from core.db.models import OutboxMessage

    settings = {"cjs.secrets.key_file": secrets_key_file}
    dbmigrate.downgrade(db_url, "0004_messages_schedules")
    with engine.begin() as connection:
        connection.execute(
            _OUTBOX_ROW,
            {
                "message_id": "<sent@cjs>",
                "body": "認証コード：111111",
                "sent_at": "2026-11-30 00:01:00",
            },
        )
        connection.execute(
            _OUTBOX_ROW,
            {"message_id": "<pending@cjs>", "body": "認証コード：222222", "sent_at": None},
        )

    with pytest.raises(RuntimeError, match=r"1 mail\(s\) not yet sent .* 'cjs db upgrade'"):
        dbmigrate.upgrade(db_url)  # no settings, no key: nothing half done
    assert "body" in {c["name"] for c in inspect(engine).get_columns("outbox_messages")}
    dbmigrate.upgrade(db_url, settings=settings)

    assert dbmigrate.check(db_url) == []
    with make_session_factory(engine)() as session:
        sent, pending = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert sent.sealed_body is None
        assert pending.sealed_body is not None and b"222222" not in pending.sealed_body
        assert mail.body_of(pending, settings) == "認証コード：222222"

    dbmigrate.downgrade(db_url, "0004_messages_schedules", settings=settings)
    with engine.connect() as connection:
        bodies = connection.execute(text("SELECT body FROM outbox_messages ORDER BY id")).all()
    assert bodies == [("",), ("認証コード：222222",)]


_CONTRACT_ROW = text(
    "INSERT INTO contracts (id, contract_no, kind, organisation_name, initial_password_hash,"
    " initial_failed_count, initial_lock_count, created_at, updated_at)"
    " VALUES (1, '10000001', 'member', '労金商事', 'x', 0, 0,"
    " '2026-11-30 00:00:00', '2026-11-30 00:00:00')"
)
_MASTER_ROW = text(
    "INSERT INTO users (contract_id, user_id, role, name, email, password_hash,"
    " password_is_temporary, password_changed_at, failed_count, lock_count, deleted_at,"
    " created_at, updated_at) VALUES (1, :user_id, 'master', '労金　太郎', 'taro@example.jp', 'x',"
    " false, '2026-11-30 00:00:00', 0, 0, :deleted_at, '2026-11-30 00:00:00',"
    " '2026-11-30 00:00:00')"
)


def test_0006_a_deleted_master_no_longer_counts_but_two_live_masters_are_refused(
    engine: Engine, db_url: str
) -> None:
    """#14 item 2, BANK-4, FLOW-1: after 0006 a contract whose master the bank deleted registers a
    new one; the database still refuses a second live master; the downgrade stops, naming the
    contract, rather than drop a master."""
    dbmigrate.downgrade(db_url, "0005_outbox_sealed_body")
    with engine.begin() as connection:
        connection.execute(_CONTRACT_ROW)
        connection.execute(
            _MASTER_ROW, {"user_id": "master01", "deleted_at": "2026-11-30 01:00:00"}
        )
    with (
        pytest.raises(IntegrityError),
        engine.begin() as connection,
    ):  # 0005: the deleted one counts
        connection.execute(_MASTER_ROW, {"user_id": "master02", "deleted_at": None})

    dbmigrate.upgrade(db_url)
    with engine.begin() as connection:
        connection.execute(_MASTER_ROW, {"user_id": "master02", "deleted_at": None})
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(_MASTER_ROW, {"user_id": "master03", "deleted_at": None})
    assert dbmigrate.check(db_url) == []

    with pytest.raises(RuntimeError, match=r"contracts \(id\) \[1\] have a deleted master"):
        dbmigrate.downgrade(db_url, "0005_outbox_sealed_body")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM users WHERE user_id = 'master01'"))
    dbmigrate.downgrade(db_url, "0005_outbox_sealed_body")
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            _MASTER_ROW, {"user_id": "master04", "deleted_at": "2026-11-30 02:00:00"}
        )


def test_0010_every_existing_user_gets_japanese_and_the_downgrade_keeps_the_one_master_rule(
    engine: Engine, db_url: str
) -> None:
    """#15, SPEC 8: ``users.language`` (the language the user last used) comes with "ja" for the
    users already there; the downgrade drops it and the users table keeps its other rules."""
    dbmigrate.downgrade(db_url, "0009_staff_accounts")
    with engine.begin() as connection:
        connection.execute(_CONTRACT_ROW)
        connection.execute(_MASTER_ROW, {"user_id": "master01", "deleted_at": None})

    dbmigrate.upgrade(db_url)
    assert dbmigrate.check(db_url) == []
    with engine.begin() as connection:
        assert connection.execute(text("SELECT language FROM users")).all() == [("ja",)]
        connection.execute(text("UPDATE users SET language = 'en'"))

    dbmigrate.downgrade(db_url, "0009_staff_accounts")
    assert "language" not in {c["name"] for c in inspect(engine).get_columns("users")}
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(_MASTER_ROW, {"user_id": "master02", "deleted_at": None})
    with engine.connect() as connection:
        assert connection.execute(text("SELECT user_id FROM users")).all() == [("master01",)]
