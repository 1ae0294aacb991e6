"""core.outputs.pdfstream: long lists written page by page (#13 item 6, SPEC 6)."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from core.outputs.pdfstream import (
    ListColumn,
    ListHeader,
    RowCountMismatch,
    amount,
    list_pdf,
    page_count,
    rows_per_page,
    write_list_pdf,
)
from core.timefmt import JST

HEADER = ListHeader(
    "一斉積立内訳明細表", "デモ労働組合連合会", "00000001 本部", "2026年10月14日",
    dt.datetime(2026, 11, 30, 9, 5, tzinfo=JST),
)  # fmt: skip
COLUMNS = [
    ListColumn("No", 12, "right"),
    ListColumn("漢字氏名", 40),
    ListColumn("金額", 25, "right", amount),
]


def _rows(count: int):
    return ([n, f"髙橋　{n}郎", n * 1000] for n in range(1, count + 1))


def _pdftotext(path: Path) -> str:
    tool = shutil.which("pdftotext")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdftotext is missing (poppler-utils; the Makefile installs it)")
        pytest.skip("pdftotext is not installed (apt-get install poppler-utils)")
    return subprocess.run(
        [tool, "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_the_page_count_is_known_before_the_first_page():
    per_page = rows_per_page()
    assert page_count(0, 0) == 1
    assert page_count(per_page, 0) == 1
    assert page_count(per_page, 1) == 2  # the totals line needs another page
    assert page_count(per_page * 3 + 1, 2) == 4


def test_every_page_carries_the_banks_header_and_the_totals_come_last(tmp_path):
    count = rows_per_page() * 2 + 5
    path = tmp_path / "list.pdf"
    with path.open("wb") as out:
        pages = write_list_pdf(
            out, HEADER, COLUMNS, _rows(count), row_count=count, totals=[("合計件数", f"{count}件")]
        )
    assert pages == 3
    text = _pdftotext(path)
    page_texts = text.split("\f")
    for number, page in enumerate(page_texts[:3], 1):
        assert "デモ労働組合連合会" in page and "一斉積立内訳明細表" in page
        assert "入金グループ 00000001 本部" in page and "作成基準日 2026年10月14日" in page
        assert "印刷日時 2026年11月30日 09:05" in page and f"{number} / 3 ページ" in page
    assert re.search(rf"{count} +髙橋\s+{count}郎", page_texts[2])  # as written, the space too
    assert "合計件数" in page_texts[2] and "合計件数" not in page_texts[1]
    assert f"{count * 1000:,}" in page_texts[2]


def test_a_list_is_a_rewound_temporary_file_and_refuses_a_wrong_row_count():
    file = list_pdf(HEADER, COLUMNS, _rows(3), row_count=3)
    assert file.read(5) == b"%PDF-"
    file.close()
    with pytest.raises(RowCountMismatch):
        write_list_pdf(io.BytesIO(), HEADER, COLUMNS, _rows(3), row_count=4)


def test_rows_are_read_one_at_a_time():
    """Streaming: the writer pulls rows as it fills pages; it never asks for them all first."""
    pulled = []

    def rows():
        for n in range(1, rows_per_page() * 2 + 1):
            pulled.append(n)
            yield [n, "名", n]

    out = io.BytesIO()

    class Watch(io.BytesIO):
        def write(self, data):  # the first page is written before the second page's rows are read
            if b"/Type /Page " in data and not hasattr(self, "at_first_page"):
                self.at_first_page = len(pulled)
            return super().write(data)

    watched = Watch()
    write_list_pdf(watched, HEADER, COLUMNS, rows(), row_count=rows_per_page() * 2)
    assert watched.at_first_page <= rows_per_page() + 1
    assert out.getvalue() == b""
