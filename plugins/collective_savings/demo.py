"""The demo's 一斉積立 files (``cjs demo``): for every deposit group with 一斉積立, a few hundred
employees with Japanese names, four rounds (one 臨時作成) and the change details of each round,
generated from small lists with a fixed seed (the same files every time, so the demo loads them once).
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy.orm import Session

from core.dataload import write_file
from core.hookspecs import DemoFile
from plugins.collective_savings import savings
from plugins.collective_savings.loader import CHANGE_COLUMNS, DETAIL_COLUMNS, ROUND_COLUMNS

#: (kanji, kana) surnames and given names; names are drawn from their combinations.
SURNAMES = [
    ("佐藤", "ｻﾄｳ"), ("鈴木", "ｽｽﾞｷ"), ("高橋", "ﾀｶﾊｼ"), ("田中", "ﾀﾅｶ"), ("伊藤", "ｲﾄｳ"),
    ("渡辺", "ﾜﾀﾅﾍﾞ"), ("山本", "ﾔﾏﾓﾄ"), ("中村", "ﾅｶﾑﾗ"), ("小林", "ｺﾊﾞﾔｼ"), ("加藤", "ｶﾄｳ"),
    ("吉田", "ﾖｼﾀﾞ"), ("山田", "ﾔﾏﾀﾞ"), ("佐々木", "ｻｻｷ"), ("山口", "ﾔﾏｸﾞﾁ"), ("松本", "ﾏﾂﾓﾄ"),
    ("井上", "ｲﾉｳｴ"), ("木村", "ｷﾑﾗ"), ("林", "ﾊﾔｼ"), ("斎藤", "ｻｲﾄｳ"), ("清水", "ｼﾐｽﾞ"),
]  # fmt: skip
GIVEN_NAMES = [
    ("太郎", "ﾀﾛｳ"), ("花子", "ﾊﾅｺ"), ("一郎", "ｲﾁﾛｳ"), ("陽子", "ﾖｳｺ"), ("健太", "ｹﾝﾀ"),
    ("美咲", "ﾐｻｷ"), ("翔太", "ｼｮｳﾀ"), ("愛", "ｱｲ"), ("大輔", "ﾀﾞｲｽｹ"), ("由美", "ﾕﾐ"),
    ("誠", "ﾏｺﾄ"), ("恵", "ﾒｸﾞﾐ"), ("拓也", "ﾀｸﾔ"), ("直子", "ﾅｵｺ"), ("浩二", "ｺｳｼﾞ"),
]  # fmt: skip
#: (round number, name, creation date, 臨時作成)
ROUNDS = [
    ("011", "定例積立", dt.date(2026, 7, 10), False),
    ("012", "夏季積立", dt.date(2026, 8, 10), False),
    ("013", "定例積立", dt.date(2026, 9, 10), False),
    ("014", "特別積立", dt.date(2026, 10, 14), True),
]
EMPLOYEES = 300


def _employees(rng: random.Random) -> list[list[str]]:
    people = []
    for number in range(1, EMPLOYEES + 1):
        (surname, surname_kana), (given, given_kana) = rng.choice(SURNAMES), rng.choice(GIVEN_NAMES)
        people.append(
            [
                f"{number * 7 + 1000:06d}",
                f"{surname_kana} {given_kana}",
                f"{surname}　{given}",
                rng.choice(["101", "102", "205"]),
                f"{rng.randrange(1_000_000, 9_999_999):07d}",
            ]
        )
    return people


def demo_files(dbsession: Session) -> list[DemoFile]:
    """The rounds, details and changes files of every deposit group with 一斉積立."""
    groups = sorted(savings.ROUNDS.groups(dbsession).by_number)
    rounds, details, changes = [], [], []
    for contract_no, group_no in groups:
        rng = random.Random(f"{contract_no}-{group_no}")  # noqa: S311 (demo names, not secrets)
        people = _employees(rng)
        amounts = {person[0]: rng.choice([5000, 10000, 20000, 30000]) for person in people}
        for round_no, name, created_on, extra in ROUNDS:
            key = [contract_no, group_no, round_no]
            rounds.append([*key, name, f"{created_on:%Y%m%d}", "1" if extra else "0"])
            for person in rng.sample(people, 12):
                before = amounts[person[0]]
                after = rng.choice([a for a in (0, 5000, 10000, 20000, 30000) if a != before])
                kind = "3" if after == 0 else "2"
                changes.append([*key, *person, kind, before, after])
                amounts[person[0]] = after
            details += [[*key, *p, amounts[p[0]]] for p in people if amounts[p[0]]]
    return [
        DemoFile("rounds", "demo_collective_savings_rounds.csv", write_file(ROUND_COLUMNS, rounds)),
        DemoFile(
            "details", "demo_collective_savings_details.csv", write_file(DETAIL_COLUMNS, details)
        ),
        DemoFile(
            "changes", "demo_collective_savings_changes.csv", write_file(CHANGE_COLUMNS, changes)
        ),
    ]
