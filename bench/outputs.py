"""Bench: 一斉積立 at volume (#13 acceptance, SPEC 6.3, BANK-6) — loading the bank's details file,
the inquiry screen's pages, the streamed PDF list and the CSV export, each beside its bare cost.

    .venv/bin/python bench/outputs.py                         # 10,000 and 100,000 rows, SQLite
    .venv/bin/python bench/outputs.py --rows 10000 -n 5
    .venv/bin/python bench/outputs.py --postgresql postgresql://…/bench   # an empty database

For each size it prints:

- load: ``cjs bank load collective_savings details`` through the module's loader
  (``core.bank.loaders.load_data``: cp932, every cell checked, one transaction, audit event) beside
  the bare cost of the same file in the same run — parsed with the csv module and inserted into the
  same table with the driver's fastest path (``executemany`` on SQLite, ``COPY`` on PostgreSQL) —
  interleaved in alternating order, the ratio of the medians (goal ≤ 2);
- inquiry: the 一斉積立内訳明細照会 view (scoped count, sort, one page of 50; the HTML template is not
  rendered) at page 1 and at the last page, p50 and p95 over ``-n × 20`` requests, wall time and the
  process's CPU time (goal p95 < 100 ms at 100,000 rows);
- PDF: 一斉積立内訳明細表 written by ``core.outputs.pdfstream`` to a temporary file: time, pages,
  pages per second, and the growth of the process's resident memory during the build (sampled every
  5 ms from /proc/self/statm): a list that streams grows by about the same at 10,000 and 100,000
  rows;
- CSV: 一斉積立内訳明細データ written row by row in cp932 to a temporary file.

Throwaway state only: a temporary SQLite database (or the empty PostgreSQL database given), the demo
bank file applied to it.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy
from sqlalchemy import select

from core.bank import loaders
from core.bank.config import apply_file_with_settings
from core.db import make_engine, make_session_factory
from core.db import migrate as dbmigrate
from core.db.models import Contract, DepositGroup, User
from core.hookspecs import OutputContext
from core.modules.outputs import output_response
from core.security.tenancy import GROUP_KEY, scoped_select
from core.timefmt import JST
from plugins.collective_savings import outputs, views
from plugins.collective_savings.loader import (
    DETAIL_COLUMNS,
    ROUND_COLUMNS,
    DetailsLoader,
    RoundsLoader,
)
from plugins.collective_savings.models import SavingsRound

DEMO_BANK = Path(__file__).resolve().parent.parent / "demo" / "bank.toml"
CODE = "collective_savings"
KEY = ("10000001", "00000001")
COLUMNS = (
    "contract_id, deposit_group_id, round_id, employee_no, name_kana, name_kanji, branch_no, "
    "account_no, amount"
)
KANA = ["ﾀｶﾊｼ ｲﾁﾛｳ", "ｻﾄｳ ﾊﾅｺ", "ﾜﾀﾅﾍﾞ ｼｮｳﾀ", "ﾔﾏｻﾞｷ ﾐｻｷ", "ｽｽﾞｷ ｹﾝﾀ"]
KANJI = ["髙橋　一郎", "佐藤　花子", "渡邉　翔太", "山﨑　美咲", "鈴木　健太"]


def details_file(rows: int, round_no: str) -> bytes:
    """A details file of ``rows`` employees for ``round_no`` of the demo group 00000001."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.name for column in DETAIL_COLUMNS])
    for n in range(1, rows + 1):
        writer.writerow(
            [*KEY, round_no, f"{n:07d}", KANA[n % 5], KANJI[n % 5], "101", f"{n % 10**7:07d}",
             1000 * (n % 30 + 1)]
        )  # fmt: skip
    return buffer.getvalue().encode("cp932")


def rounds_file(round_nos: list[str]) -> bytes:
    header = ",".join(column.name for column in ROUND_COLUMNS) + "\r\n"
    lines = [f"{KEY[0]},{KEY[1]},{r},ベンチ積立{r},20261014,0\r\n" for r in round_nos]
    return (header + "".join(lines)).encode("cp932")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Bench:
    """The database, the demo group and its rounds."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgresql = url.startswith("postgresql")
        dbmigrate.upgrade(url)
        apply_file_with_settings({"sqlalchemy.url": url, "cjs.plugins.disabled": ()}, DEMO_BANK)
        self.engine = make_engine(url)
        self.factory = make_session_factory(self.engine)
        with self.factory() as session:
            self.group_id, self.contract_id = session.execute(
                select(DepositGroup.id, DepositGroup.contract_id)
                .join(Contract)
                .where(Contract.contract_no == KEY[0], DepositGroup.group_no == KEY[1])
            ).one()
        self.next_round = 100

    def new_rounds(self, count: int) -> list[tuple[str, int]]:
        """``count`` new rounds (number, id) of the demo group."""
        numbers = [f"{self.next_round + i:03d}" for i in range(count)]
        self.next_round += count
        loaders.load_data(
            self.factory,
            RoundsLoader(),
            rounds_file(numbers),
            "rounds.csv",
            now=_now(),
            module=CODE,
        )
        with self.factory() as session:
            group = session.get(DepositGroup, self.group_id)
            return [
                (number, session.scalar(
                    scoped_select(group, SavingsRound, SavingsRound.id).where(
                        SavingsRound.round_no == number
                    )
                ))
                for number in numbers
            ]  # fmt: skip

    def load(self, data: bytes) -> float:
        start = time.perf_counter()
        loaders.load_data(
            self.factory, DetailsLoader(), data, "details.csv", now=_now(), module=CODE
        )
        return time.perf_counter() - start

    def bare(self, data: bytes, round_id: int) -> float:
        """The same file: csv module, then executemany (SQLite) or COPY (PostgreSQL)."""
        start = time.perf_counter()
        reader = csv.reader(io.StringIO(data.decode("cp932"), newline=""))
        next(reader)  # the header
        rows = [
            (self.contract_id, self.group_id, round_id, r[3], r[4], r[5], r[6], r[7], int(r[8]))
            for r in reader
        ]
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            table = "collective_savings_details"
            if self.postgresql:
                with cursor.copy(f"COPY {table} ({COLUMNS}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.execute("BEGIN IMMEDIATE")  # one transaction, as the loader's
                marks = ", ".join("?" * 9)
                insert = f"INSERT INTO {table} ({COLUMNS}) VALUES ({marks})"  # noqa: S608 (constants)
                cursor.executemany(insert, rows)
            connection.commit()
        finally:
            connection.close()
        return time.perf_counter() - start

    def vacuum(self) -> None:
        """PostgreSQL: VACUUM (ANALYZE) the details, as autovacuum does within a minute of a bulk
        insert (autovacuum_vacuum_insert_threshold): until then the visibility map is unset and an
        index-only count reads the heap too (100,000 lines: about 100 ms instead of 20)."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE) collective_savings_details")

    def context(self, session: Any, round_no: str) -> OutputContext:
        group = session.get(DepositGroup, self.group_id)
        user = session.scalars(select(User)).first()
        now = dt.datetime.now(JST)
        return OutputContext(session, group, user, now, {"round": round_no})  # type: ignore[arg-type]

    def inquiry(self, session: Any, round_no: str, page: int) -> tuple[float, float]:
        """One inquiry: its wall time and the process's CPU time (SQLite works in-process, so the
        CPU time is the figure a busy machine distorts least)."""
        group = session.get(DepositGroup, self.group_id)
        request = SimpleNamespace(
            dbsession=session,
            GET={"round": round_no, "page": str(page)},
            session={GROUP_KEY: group.id},
            identity=SimpleNamespace(user=SimpleNamespace(contract_id=group.contract_id)),
        )
        start, cpu = time.perf_counter(), time.process_time()
        found = views.SCREENS.inquiry(request)  # type: ignore[arg-type]
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert found["page"].number == page and found["page"].rows
        return elapsed, cpu


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_growth(work: Callable[[], Any]) -> tuple[Any, float, int]:
    """Run ``work``; its result, its time and the peak growth of resident memory meanwhile."""
    before, peak, done = _rss(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    try:
        result = work()
    finally:
        elapsed = time.perf_counter() - start
        done.set()
        sampler.join()
    return result, elapsed, max(peak[0], _rss()) - before


def warm_up(bench: Bench) -> None:
    """One small load and list, untimed: imports, the font's metrics, the statement caches."""
    ((number, _),) = bench.new_rounds(1)
    bench.load(details_file(10, number))
    with bench.factory() as session:
        outputs.details_pdf(bench.context(session, number)).close()


def run(bench: Bench, rows: int, repeats: int) -> None:
    data_rounds = bench.new_rounds(repeats)
    bare_rounds = bench.new_rounds(repeats)
    loads, bares = [], []
    for i in range(repeats):
        (number, _), (_, bare_id) = data_rounds[i], bare_rounds[i]
        data = details_file(rows, number)
        if i % 2:
            bares.append(bench.bare(data, bare_id))
            loads.append(bench.load(data))
        else:
            loads.append(bench.load(data))
            bares.append(bench.bare(data, bare_id))
    load, bare = statistics.median(loads), statistics.median(bares)
    print(f"\n{rows:,} rows")
    print(
        f"  load      {load * 1000:9.0f} ms   bare {bare * 1000:7.0f} ms   ratio {load / bare:5.2f}"
        f"   (+{(load - bare) * 1000:.0f} ms; median of {repeats}; goal ratio ≤ 2)"
    )
    round_no = data_rounds[-1][0]
    if bench.postgresql:
        bench.vacuum()
    last = -(-rows // 50)
    with bench.factory() as session:
        for page in (1, last):
            for _ in range(3):
                bench.inquiry(session, round_no, page)
            runs = [bench.inquiry(session, round_no, page) for _ in range(repeats * 20)]
            times, cpu = [wall for wall, _ in runs], [used for _, used in runs]
            print(
                f"  inquiry   page {page:>5}: p50 {percentile(times, 50) * 1000:6.1f} ms   "
                f"p95 {percentile(times, 95) * 1000:6.1f} ms   CPU p50 "
                f"{percentile(cpu, 50) * 1000:5.1f} ms p95 {percentile(cpu, 95) * 1000:5.1f} ms"
                f"   (n={len(times)}; goal p95 < 100 ms)"
            )
        context = bench.context(session, round_no)
        pdf, elapsed, grown = peak_growth(lambda: outputs.details_pdf(context))
        size = pdf.seek(0, 2)
        pdf.close()
        pages = -(-(rows + 2) // 58)
        print(
            f"  PDF       {elapsed * 1000:9.0f} ms   {pages} pages, {pages / elapsed:6.0f} pages/s,"
            f" {size / 2**20:.1f} MiB; resident memory grew {grown / 2**20:.1f} MiB during the build"
        )
        start = time.perf_counter()
        response = output_response(
            outputs.OUTPUTS[2], outputs.details_csv(context), "x.csv", "cp932"
        )
        body = b"".join(response.app_iter)
        elapsed = time.perf_counter() - start
        print(f"  CSV       {elapsed * 1000:9.0f} ms   {len(body) / 2**20:.1f} MiB (cp932)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("-n", type=int, default=3, help="loads of each file (and ×20 inquiries)")
    parser.add_argument("--postgresql", help="an empty PostgreSQL database URL instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.postgresql or f"sqlite:///{folder}/bench.sqlite3"
        bench = Bench(url)
        print("bench/outputs.py — 一斉積立: load, inquiry, PDF, CSV (#13)")
        print(f"  load average {os.getloadavg()[0]:.1f} at the start")
        print(
            f"  database {bench.engine.dialect.name} {bench.engine.dialect.server_version_info or ''}"
            f"; SQLAlchemy {sqlalchemy.__version__}; Python {platform.python_version()};"
            f" {platform.machine()}, {os.cpu_count()} CPUs; n={args.n}"
        )
        try:
            warm_up(bench)
            for rows in args.rows:
                run(bench, rows, args.n)
        finally:
            bench.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
