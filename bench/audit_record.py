"""The cost of the audit hash chain: one transaction recording an event, chained and not (#14 item 6).

    .venv/bin/python bench/audit_record.py                                  # SQLite, n=300
    .venv/bin/python bench/audit_record.py -n 1000 --events 3
    .venv/bin/python bench/audit_record.py --postgresql postgresql://…/bench   # an empty database
    .venv/bin/python bench/audit_record.py --postgresql … --writers 2          # two writers at once

Each iteration is what a request that audits does to the database: a session, ``core.audit.record``
``--events`` times, commit. The **chained** run is the code as it is (the ``before_flush`` listener:
the advisory lock on PostgreSQL, the tail read, the SHA-256 per event); the **bare** run is the same
transaction with the listener detached, i.e. ``record`` as it was before the chain. Chained and bare
alternate, iteration by iteration, in the same process and database (bench/README.md rule 1). With
``--writers`` > 1, that many threads (each its own connection) run the same alternation at once:
chained transactions then wait for one another's commit, which is what the chain's lock costs.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.orm import Session

from core import audit
from core.audit.chain import chain_new_events, install
from core.db import make_engine, make_session_factory
from core.db import migrate as dbmigrate
from core.db.models import AuditEvent

WARM_UP = 5


def percentile(values: list[float], p: float) -> float:
    """The ``p`` percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


class ChainSwitch:
    """Detaches the chain's listener for the bare runs. The listener is global, so with several
    writers a bare transaction must not overlap a chained one: a lock keeps the mode steady while a
    transaction of that mode runs (transactions of the same mode still overlap)."""

    def __init__(self) -> None:
        self._mode_lock = threading.Condition()
        self._mode: str | None = None
        self._running = 0

    def run(self, mode: str, work: Callable[[], None]) -> float:
        with self._mode_lock:
            while self._running and self._mode != mode:
                self._mode_lock.wait()
            if self._mode != mode:
                attached = event.contains(Session, "before_flush", chain_new_events)
                if mode == "bare" and attached:
                    event.remove(Session, "before_flush", chain_new_events)
                if mode == "chained" and not attached:
                    event.listen(Session, "before_flush", chain_new_events)
                self._mode = mode
            self._running += 1
        try:
            started = time.perf_counter()
            work()
            return time.perf_counter() - started
        finally:
            with self._mode_lock:
                self._running -= 1
                self._mode_lock.notify_all()


def transaction(factory: Any, events: int, writer: str) -> Callable[[], None]:
    """One request's worth of auditing: ``events`` records and the commit."""

    def work() -> None:
        with factory() as session, session.begin():
            for number in range(events):
                audit.record(
                    session,
                    "bench.record",
                    actor=writer,
                    actor_kind="bank",
                    contract_no="12345678",
                    target=f"bench:{number}",
                    details={"n": number, "名前": "労金　五郎"},
                )

    return work


def measure(factory: Any, n: int, events: int, writers: int) -> dict[str, list[float]]:
    """``n`` chained and ``n`` bare transactions per writer, alternating; times in seconds."""
    switch = ChainSwitch()
    times: dict[str, list[float]] = {"chained": [], "bare": []}
    collected = threading.Lock()
    start = threading.Barrier(writers)

    def writer(name: str, offset: int) -> None:
        work = transaction(factory, events, name)
        for _ in range(WARM_UP):  # untimed
            switch.run("chained", work)
            switch.run("bare", work)
        start.wait()
        mine: dict[str, list[float]] = {"chained": [], "bare": []}
        for iteration in range(n):
            order = ("chained", "bare") if (iteration + offset) % 2 == 0 else ("bare", "chained")
            for mode in order:
                mine[mode].append(switch.run(mode, work))
        with collected:
            for mode, values in mine.items():
                times[mode].extend(values)

    threads = [threading.Thread(target=writer, args=(f"w{k}", k)) for k in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    install()
    return times


def chained_count(engine: Any) -> int:
    """How many events are chained, provided they are numbered 1..count without a gap (the bare
    events have no place; the unique index rules out two events at one place); -1 otherwise."""
    with engine.connect() as connection:
        count, highest = connection.execute(
            sqlalchemy.select(
                sqlalchemy.func.count(AuditEvent.chain_seq),
                sqlalchemy.func.max(AuditEvent.chain_seq),
            )
        ).one()
    return int(count) if count == (highest or 0) else -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="transactions of each kind per writer")
    parser.add_argument("--events", type=int, default=1, help="audit events per transaction")
    parser.add_argument("--writers", type=int, default=1, help="threads writing at once")
    parser.add_argument("--postgresql", help="an empty PostgreSQL database URL instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cjs-bench-audit-") as folder:
        url = args.postgresql or f"sqlite:///{folder}/bench.sqlite3"
        dbmigrate.upgrade(url)
        engine = (
            make_engine(url, pool_size=max(5, args.writers))
            if args.postgresql
            else make_engine(url)
        )
        try:
            before = chained_count(engine)
            times = measure(make_session_factory(engine), args.n, args.events, args.writers)
            expected = before + (args.n + WARM_UP) * args.writers * args.events
            intact = chained_count(engine) == expected
        finally:
            engine.dispose()
    load = os.getloadavg()
    print(
        f"audit record bench: {'PostgreSQL' if args.postgresql else 'SQLite (file, WAL)'}, "
        f"n={args.n} per writer, {args.events} event(s) per transaction, {args.writers} writer(s); "
        f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"{os.cpu_count()} CPU(s), load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(
        "one transaction: record × events + commit; the chained events numbered without a gap: "
        f"{'yes' if intact else 'NO'}"
    )
    print(f"{'':10}{'p50':>10}{'p95':>10}")
    for mode in ("bare", "chained"):
        values = times[mode]
        print(
            f"{mode:10}{percentile(values, 50) * 1000:>8.2f}ms{percentile(values, 95) * 1000:>8.2f}ms"
        )
    bare, chained = statistics.median(times["bare"]), statistics.median(times["chained"])
    print(f"ratio of medians {chained / bare:.2f}, difference {(chained - bare) * 1000:+.2f} ms")
    return 0 if intact else 1


if __name__ == "__main__":
    sys.exit(main())
