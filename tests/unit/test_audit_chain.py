"""The audit log is tamper-evident (#14 item 6; SPEC section 5: every bank action audited with who and
when): every event is chained to the one before it by a SHA-256, and ``cjs audit verify`` names the
first broken link when an event is changed, deleted or moved, also with two app processes writing at
once on one PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, pool, select, text
from sqlalchemy.engine import Engine

from core import audit, cli
from core.audit.chain import GENESIS, event_hash, fields_of, verify
from core.db import make_engine, make_session_factory
from core.db import migrate as dbmigrate
from core.db.models import AuditEvent


@pytest.fixture
def raw_engine(db_url: str) -> Iterator[Engine]:
    """A plain engine: what someone with write access to the database could do, triggers aside."""
    engine = create_engine(db_url, poolclass=pool.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def _write_events(db_url: str, actions: list[str]) -> list[int]:
    engine = make_engine(db_url)
    try:
        session = make_session_factory(engine)()
        with session.begin():
            events = [
                audit.record(
                    session,
                    action,
                    actor="staff01",
                    actor_kind="bank",
                    contract_no="12345678",
                    details={"n": number, "名前": "労金　五郎"},
                )
                for number, action in enumerate(actions)
            ]
        session.close()
        return [event.id for event in events]
    finally:
        engine.dispose()


def _tamper(engine: Engine, *statements: tuple[str, dict[str, object]]) -> None:
    """Run ``statements`` with the append-only triggers out of the way, as a database owner could."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER audit_events_no_update"))
            connection.execute(text("DROP TRIGGER audit_events_no_delete"))
        else:
            connection.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        for statement, parameters in statements:
            connection.execute(text(statement), parameters)


def _verify(engine: Engine, anchors: tuple[tuple[int, str], ...] = ()):
    with engine.connect() as connection:
        return verify(connection, anchors)


def test_events_are_chained_in_the_order_they_were_written(db_url, raw_engine):
    ids = _write_events(db_url, ["login", "bank.manual.register", "logout"])
    ids += _write_events(db_url, ["login"])
    with raw_engine.connect() as connection:
        rows = connection.execute(
            select(AuditEvent.id, AuditEvent.chain_seq, AuditEvent.chain_hash).order_by(
                AuditEvent.chain_seq
            )
        ).all()
    assert [row.id for row in rows] == ids
    assert [row.chain_seq for row in rows] == [1, 2, 3, 4]
    result = _verify(raw_engine)
    assert result.intact and result.checked == 4
    assert (result.head_seq, result.head_hash) == (4, rows[-1].chain_hash)


def test_the_hash_covers_the_fields_and_the_predecessor(dbsession):
    first = audit.record(dbsession, "login", actor="user01", details={"k": 1})
    second = audit.record(dbsession, "login", actor="user01", details={"k": 1})
    dbsession.flush()
    assert first.chain_hash == event_hash(1, fields_of(first), GENESIS)
    assert second.chain_hash == event_hash(2, fields_of(second), first.chain_hash)
    assert second.chain_hash != first.chain_hash  # same fields, other place and predecessor


def test_a_changed_detail_is_named(db_url, raw_engine):
    ids = _write_events(db_url, ["login", "bank.manual.register", "logout"])
    _tamper(
        raw_engine, ("UPDATE audit_events SET message = 'edited' WHERE id = :id", {"id": ids[1]})
    )
    broken = _verify(raw_engine).broken
    assert broken is not None
    assert (broken.event_id, broken.seq) == (ids[1], 2)
    assert "hash does not match" in broken.problem


def test_a_deleted_event_is_named(db_url, raw_engine):
    ids = _write_events(db_url, ["login", "bank.manual.register", "logout"])
    _tamper(raw_engine, ("DELETE FROM audit_events WHERE id = :id", {"id": ids[1]}))
    result = _verify(raw_engine)
    assert result.broken is not None
    assert (result.broken.event_id, result.broken.seq) == (ids[2], 3)
    assert "position 2 is missing" in result.broken.problem
    assert result.checked == 1


MOVE = "UPDATE audit_events SET chain_seq = :seq WHERE id = :id"


def test_reordered_events_are_named(db_url, raw_engine):
    ids = _write_events(db_url, ["login", "bank.manual.register", "logout"])
    _tamper(
        raw_engine,
        (MOVE, {"seq": 99, "id": ids[1]}),
        (MOVE, {"seq": 2, "id": ids[2]}),
        (MOVE, {"seq": 3, "id": ids[1]}),
    )
    broken = _verify(raw_engine).broken
    assert broken is not None
    assert (broken.event_id, broken.seq) == (ids[2], 2)


def test_an_event_inserted_past_the_chain_is_named(db_url, raw_engine):
    _write_events(db_url, ["login"])
    with raw_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_events (occurred_at, actor, actor_kind, action, result, details)"
                " VALUES ('2026-04-01 00:30:00', 'x', 'user', 'login', 'success', '{}')"
            )
        )
        inserted = connection.scalar(text("SELECT max(id) FROM audit_events"))
    broken = _verify(raw_engine).broken
    assert broken is not None and broken.event_id == inserted
    assert "no place in the chain" in broken.problem


def test_a_rewritten_chain_fails_against_an_earlier_anchor(db_url, raw_engine):
    """Someone who recomputes every hash after a change passes a bare verify, not an anchor."""
    ids = _write_events(db_url, ["login", "logout"])
    head = _verify(raw_engine)
    _tamper(
        raw_engine, ("UPDATE audit_events SET actor = 'someone' WHERE id = :id", {"id": ids[0]})
    )
    with raw_engine.begin() as connection:
        rows = connection.execute(select(AuditEvent).order_by(AuditEvent.chain_seq)).all()
        previous = GENESIS
        for row in rows:
            previous = event_hash(row.chain_seq, fields_of(row), previous)
            connection.execute(
                text("UPDATE audit_events SET chain_hash = :h WHERE id = :id"),
                {"h": previous, "id": row.id},
            )
    assert _verify(raw_engine).intact
    broken = _verify(raw_engine, ((head.head_seq, head.head_hash),)).broken
    assert broken is not None and broken.event_id == ids[1]
    assert "was rewritten" in broken.problem


def test_cjs_audit_verify_exit_status_and_first_broken_link(db_url, raw_engine, tmp_path, capsys):
    ini = tmp_path / "cjs.ini"
    ini.write_text(f"[app:main]\nuse = egg:cjs\nsqlalchemy.url = {db_url}\n", encoding="utf-8")
    ids = _write_events(db_url, ["login", "logout", "login"])
    assert cli.main(["-c", str(ini), "audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "audit chain intact: 3 event(s)" in out
    head = out.split("head: ")[1].strip()
    assert cli.main(["-c", str(ini), "audit", "verify", "--anchor", head]) == 0
    capsys.readouterr()

    _tamper(
        raw_engine,
        ("UPDATE audit_events SET details = '{\"n\": 7}' WHERE id = :id", {"id": ids[1]}),
    )
    assert cli.main(["-c", str(ini), "audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert f"audit chain BROKEN at event {ids[1]} (chain position 2)" in err


def test_the_migration_chains_the_events_already_there(empty_db_url: str, tmp_path: Path):
    dbmigrate.upgrade(empty_db_url, "0007_staff_requests")
    engine = create_engine(empty_db_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            for number in range(3):
                connection.execute(
                    text(
                        "INSERT INTO audit_events"
                        " (occurred_at, actor, actor_kind, action, result, details)"
                        " VALUES (:at, 'rokin01', 'user', 'login', 'success', :details)"
                    ),
                    {"at": f"2026-04-01 00:3{number}:00.250000", "details": f'{{"try": {number}}}'},
                )
        dbmigrate.upgrade(empty_db_url)
        result = _verify(engine)
        assert result.intact and result.checked == 3
        _write_events(empty_db_url, ["logout"])  # the app goes on from the migrated head
        assert _verify(engine).checked == 4
        with pytest.raises(Exception, match="append-only"), engine.begin() as connection:
            connection.execute(text("UPDATE audit_events SET actor = 'x'"))
    finally:
        engine.dispose()


@pytest.mark.postgresql
def test_two_writers_on_postgresql_never_claim_the_same_predecessor(postgresql_url):
    """Writer A holds the tail (its event flushed, not committed); writer B's event waits for A's
    commit instead of claiming A's predecessor, and the chain holds."""
    engines = [make_engine(postgresql_url) for _ in range(2)]
    try:
        first, second = (make_session_factory(engine)() for engine in engines)
        audit.record(first, "login", actor="writer-a")
        first.flush()  # A holds the chain's tail until it commits

        done = threading.Event()
        failure: list[BaseException] = []

        def write_second() -> None:
            try:
                audit.record(second, "login", actor="writer-b")
                second.commit()
            except BaseException as exc:  # reported to the test below
                failure.append(exc)
            finally:
                done.set()

        writer = threading.Thread(target=write_second)
        writer.start()
        with engines[0].connect() as watcher:
            while not watcher.scalar(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ):
                assert not done.is_set(), failure  # B must wait for A, not finish around it
                watcher.rollback()
        first.commit()
        writer.join()
        assert failure == []
        with engines[0].connect() as connection:
            rows = connection.execute(
                select(AuditEvent.actor, AuditEvent.chain_seq).order_by(AuditEvent.chain_seq)
            ).all()
            assert [tuple(row) for row in rows] == [("writer-a", 1), ("writer-b", 2)]
            assert verify(connection).intact
    finally:
        for engine in engines:
            engine.dispose()


@pytest.mark.postgresql
def test_many_concurrent_writers_on_postgresql_keep_one_chain(postgresql_url):
    writers, transactions = 4, 25
    engine = make_engine(postgresql_url, pool_size=writers)
    factory = make_session_factory(engine)
    start = threading.Barrier(writers)
    failure: list[BaseException] = []

    def write(name: str) -> None:
        try:
            start.wait()
            for number in range(transactions):
                with factory() as session, session.begin():
                    audit.record(session, "login", actor=name, details={"n": number})
                    audit.record(session, "logout", actor=name, details={"n": number})
        except BaseException as exc:  # reported below
            failure.append(exc)

    threads = [threading.Thread(target=write, args=(f"w{n}",)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert failure == []
        with engine.connect() as connection:
            result = verify(connection)
        assert result.intact and result.checked == writers * transactions * 2
    finally:
        engine.dispose()
