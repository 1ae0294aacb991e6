"""The demo's 財形 files (``cjs demo``): for every deposit group with 財形, 200 employees with
Japanese names (some with two kinds of savings), three monthly 預入依頼書 runs and one of each other
document, and the change details of each 預入依頼書 run; a fixed seed, so the demo loads them once."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy.orm import Session

from core.dataload import write_file
from core.hookspecs import DemoFile
from plugins.collective_savings.demo import GIVEN_NAMES, SURNAMES
from plugins.zaikei import records
from plugins.zaikei.loader import CHANGE_COLUMNS, DETAIL_COLUMNS, RUN_COLUMNS

EMPLOYEES = 200
#: (作成区分, 作成基準日) of the demo runs; 1 (預入依頼書・月例) carries the details.
RUNS = [
    ("1", dt.date(2026, 8, 20)),
    ("1", dt.date(2026, 9, 18)),
    ("1", dt.date(2026, 10, 20)),
    ("2", dt.date(2026, 6, 19)),
    ("3", dt.date(2025, 12, 10)),
    ("4", dt.date(2026, 9, 30)),
    ("5", dt.date(2026, 10, 20)),
    ("6", dt.date(2026, 7, 10)),
]


def demo_files(dbsession: Session) -> list[DemoFile]:
    """The runs, details and changes files of every deposit group with 財形."""
    groups = sorted(records.RUNS.groups(dbsession).by_number)
    runs, details, changes = [], [], []
    for contract_no, group_no in groups:
        rng = random.Random(f"zaikei-{contract_no}-{group_no}")  # noqa: S311 (demo names)
        people: list[tuple[str, str, str, str, int]] = []
        for number in range(1, EMPLOYEES + 1):
            (surname, surname_kana), (given, given_kana) = (
                rng.choice(SURNAMES),
                rng.choice(GIVEN_NAMES),
            )
            kinds = ["1"] if number % 4 else ["1", rng.choice(["2", "3"])]
            for kind in kinds:
                people.append(
                    (f"{number * 3 + 5000:06d}", f"{surname_kana} {given_kana}",
                     f"{surname}　{given}", kind, rng.choice([5000, 10000, 20000]))
                )  # fmt: skip
        for document, basis_date in RUNS:
            runs.append([contract_no, group_no, document, f"{basis_date:%Y%m%d}"])
        for months, (document, basis_date) in enumerate(RUNS[:3], 1):
            key = [contract_no, group_no, document, f"{basis_date:%Y%m%d}"]
            for person in people:
                monthly = person[4]
                details.append(
                    [*key, *person[:4], monthly, monthly * 3, monthly * 3, monthly * (24 + months)]
                )
            for person in rng.sample(people, 8):
                after = rng.choice([a for a in (0, 5000, 10000, 20000) if a != person[4]])
                kind = "3" if after == 0 else "2"
                changes.append([*key, *person[:4], kind, person[4], after])
    return [
        DemoFile("runs", "demo_zaikei_runs.csv", write_file(RUN_COLUMNS, runs)),
        DemoFile("details", "demo_zaikei_details.csv", write_file(DETAIL_COLUMNS, details)),
        DemoFile("changes", "demo_zaikei_changes.csv", write_file(CHANGE_COLUMNS, changes)),
    ]
