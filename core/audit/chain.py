"""The audit log's hash chain: every event carries a SHA-256 over its own fields and its predecessor's
hash, so a changed, deleted, inserted or reordered event breaks the chain from there on (#14 item 6).

- **Order.** ``chain_seq`` numbers the events 1, 2, 3, … in chain order; ``chain_hash`` is
  ``SHA-256(canonical(event) ‖ previous chain_hash)`` (:func:`event_hash`), the first event's
  predecessor being :data:`GENESIS`. A unique index on ``chain_seq`` means no two events can ever
  claim the same predecessor, whatever goes wrong.
- **When.** Events are chained as they are flushed (:func:`chain_new_events`, a ``before_flush``
  listener on every ORM session): the one place every insert of an :class:`AuditEvent` passes,
  however it was made. Raw SQL inserts bypass it and show up in :func:`verify` as unchained.
- **Several writers.** Chaining reads the tail and appends after it, so the tail is serialised for
  the rest of the transaction: on PostgreSQL by a transaction-level advisory lock taken before the
  tail is read (READ COMMITTED: the read then sees the previous holder's commit); on SQLite by its
  single writer (``BEGIN IMMEDIATE``, :func:`core.db.make_engine`). Only transactions that write an
  audit event wait, and only for one another's commit.
- **Not keyed.** The hash is a plain SHA-256, not an HMAC under a subkey of ``core.secrets``: the
  migration chains the existing rows and every session (jobs, loaders, tests) chains its events
  where no settings are at hand, and an auditor can check the chain without the service's key.
  Against someone who may rewrite the whole table and recompute every hash, the chain is anchored
  outside the database: ``cjs audit verify`` prints the head (sequence number and hash) to be kept
  elsewhere, and ``--anchor SEQ:HASH`` checks that a head noted earlier is still in the chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.attributes import instance_state

from core.clock import utcnow
from core.db.models import AuditEvent

#: The predecessor of the first event.
GENESIS = "0" * 64
#: The advisory lock key (PostgreSQL) that serialises the chain's tail: a fixed 64-bit number
#: ("cjs-audit-chain" in no particular encoding, only distinct from the migrations' lock).
ADVISORY_LOCK_KEY = 0x636A_7361_7564_6974
#: The fields of an event the hash covers, in the canonical serialisation's order of keys (sorted).
HASHED_FIELDS = (
    "occurred_at",
    "actor",
    "actor_kind",
    "action",
    "target",
    "contract_no",
    "result",
    "request_id",
    "client_addr",
    "details",
    "message",
)
#: The serialisation's version: a new format gets a new number, old events keep theirs.
FORMAT_VERSION = 1


def canonical_time(moment: dt.datetime) -> str:
    """A timestamp as the hash sees it: UTC, ISO 8601 with microseconds (what both databases keep)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def canonical(seq: int, fields: Mapping[str, Any]) -> bytes:
    """The canonical serialisation of an event: compact JSON with sorted keys, UTF-8."""
    document: dict[str, Any] = {"v": FORMAT_VERSION, "seq": seq}
    for name in HASHED_FIELDS:
        value = fields.get(name)
        if name == "occurred_at" and value is not None:
            value = canonical_time(value)
        if name == "details":
            # As the JSON column gives it back (e.g. tuples as lists, keys as strings).
            value = json.loads(json.dumps(dict(value or {})))
        document[name] = value
    return json.dumps(
        document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def event_hash(seq: int, fields: Mapping[str, Any], previous: str) -> str:
    """The chain hash of the event numbered ``seq`` with ``fields``, following ``previous``."""
    digest = hashlib.sha256(canonical(seq, fields))
    digest.update(previous.encode("ascii"))
    return digest.hexdigest()


def fields_of(audit_event: Any) -> dict[str, Any]:
    """The hashed fields of an :class:`AuditEvent` (or of a row with the same columns)."""
    return {name: getattr(audit_event, name) for name in HASHED_FIELDS}


def lock_tail(connection: Connection) -> tuple[int, str]:
    """Serialise the chain's tail for this transaction and return its (seq, hash): (0, GENESIS)
    while nothing is chained."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    row = connection.execute(
        select(AuditEvent.chain_seq, AuditEvent.chain_hash)
        .where(AuditEvent.chain_seq.is_not(None))
        .order_by(AuditEvent.chain_seq.desc())
        .limit(1)
    ).first()
    if row is None:
        return 0, GENESIS
    return int(row.chain_seq), str(row.chain_hash)


def _insert_order(audit_event: AuditEvent) -> int:
    return int(instance_state(audit_event).insert_order or 0)


def chain_new_events(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    """``before_flush``: give the session's new audit events their place in the chain, in the order
    they were added."""
    pending = sorted(
        (obj for obj in session.new if isinstance(obj, AuditEvent) and obj.chain_hash is None),
        key=_insert_order,
    )
    if not pending:
        return
    seq, previous = lock_tail(session.connection())
    for audit_event in pending:
        if audit_event.occurred_at is None:
            audit_event.occurred_at = utcnow()
        if audit_event.details is None:
            audit_event.details = {}
        seq += 1
        audit_event.chain_seq = seq
        audit_event.chain_hash = previous = event_hash(seq, fields_of(audit_event), previous)


@dataclass(frozen=True)
class BrokenLink:
    """The first event where the chain does not hold: its id (None when the event is missing), its
    sequence number and what differs."""

    event_id: int | None
    seq: int | None
    problem: str

    def __str__(self) -> str:
        where = f"event {self.event_id}" if self.event_id is not None else "a missing event"
        at = f" (chain position {self.seq})" if self.seq is not None else ""
        return f"{where}{at}: {self.problem}"


@dataclass(frozen=True)
class Verification:
    """What :func:`verify` found: how many events were checked, the head, the first broken link."""

    checked: int
    head_seq: int
    head_hash: str
    broken: BrokenLink | None

    @property
    def intact(self) -> bool:
        """True when every event is chained and every hash holds."""
        return self.broken is None


def _query() -> Any:
    """Every audit event, chained ones in chain order, then those without a place (by id)."""
    columns = [AuditEvent.id, AuditEvent.chain_seq, AuditEvent.chain_hash]
    columns += [getattr(AuditEvent, name) for name in HASHED_FIELDS]
    return select(*columns).order_by(
        AuditEvent.chain_seq.is_(None), AuditEvent.chain_seq, AuditEvent.id
    )


def verify(
    connection: Connection, anchors: Iterable[tuple[int, str]] = (), batch: int = 1000
) -> Verification:
    """Walk the chain from the first event and report the first link that does not hold: an event
    without a place in the chain, a gap in the numbering (a deleted event), a hash that does not
    match the event's fields and its predecessor (a changed, moved or inserted event), or an
    ``anchor`` (seq, hash noted earlier) that the chain no longer has."""
    expected_anchors = dict(anchors)
    with connection.execution_options(yield_per=batch).execute(_query()) as rows:
        broken, seq, previous, checked = _walk(rows, expected_anchors)
    if broken is None and expected_anchors:
        missing = min(expected_anchors)
        broken = BrokenLink(
            None, missing, f"the anchored position {missing} is past the chain's end {seq}"
        )
    return Verification(checked, seq, previous, broken)


def _walk(
    rows: Iterable[Any], expected_anchors: dict[int, str]
) -> tuple[BrokenLink | None, int, str, int]:
    """Check ``rows`` in order; the first broken link (or None), the last good seq and hash, and
    how many held. Anchors met are removed from ``expected_anchors``."""
    seq, previous, checked = 0, GENESIS, 0
    broken: BrokenLink | None = None
    for row in rows:
        if row.chain_seq is None or row.chain_hash is None:
            broken = BrokenLink(
                row.id, None, "the event has no place in the chain (inserted past it)"
            )
            break
        if row.chain_seq != seq + 1:
            problem = (
                f"chain position {seq + 1} is missing (deleted?): the next event is at {row.chain_seq}"
                if row.chain_seq > seq + 1
                else f"chain position {row.chain_seq} appears twice"
            )
            broken = BrokenLink(row.id, row.chain_seq, problem)
            break
        expected = event_hash(row.chain_seq, fields_of(row), previous)
        if expected != row.chain_hash:
            broken = BrokenLink(
                row.id,
                row.chain_seq,
                "its hash does not match its fields and its predecessor "
                f"(stored {row.chain_hash[:16]}…, computed {expected[:16]}…): "
                "the event or the one before it was changed, or events were moved",
            )
            break
        anchored = expected_anchors.pop(row.chain_seq, None)
        if anchored is not None and anchored != row.chain_hash:
            broken = BrokenLink(
                row.id,
                row.chain_seq,
                f"the anchor noted for position {row.chain_seq} was {anchored[:16]}…, "
                f"the chain now has {row.chain_hash[:16]}…: the chain was rewritten",
            )
            break
        seq, previous, checked = row.chain_seq, row.chain_hash, checked + 1
    return broken, seq, previous, checked


def install() -> None:
    """Chain every ORM session's new audit events as they are flushed (idempotent)."""
    if not event.contains(Session, "before_flush", chain_new_events):
        event.listen(Session, "before_flush", chain_new_events)
