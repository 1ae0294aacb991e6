"""core.inquiry.paged: every page of every sort, both ways, is the full order cut in pages (SPEC
6.3's inquiry screens, #13): pages in the second half are read from the other end, and must still
neither overlap nor leave a row out."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from core.inquiry import Sort, paged


class _Base(DeclarativeBase):
    pass


class Line(_Base):
    __tablename__ = "lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(Integer)


SORTS = {
    "name": Sort("名前", [Line.name, Line.id]),
    "amount": Sort("金額", [Line.amount, Line.id]),
}


@pytest.fixture(scope="module")
def session():
    engine = create_engine("sqlite://")
    _Base.metadata.create_all(engine)
    with Session(engine) as session:
        # 123 lines, amounts repeating (ties broken by id), names in another order.
        session.add_all(
            Line(id=n, name=f"{(n * 37) % 123:03d}", amount=(n * 7) % 10) for n in range(1, 124)
        )
        session.commit()
        yield session
    engine.dispose()


@pytest.mark.parametrize("sort", ["name", "amount"])
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("page_size", [50, 41, 123, 200])
def test_pages_cut_the_full_order(session, sort, descending, page_size):
    keys = [
        (line.name, line.id) if sort == "name" else (line.amount, line.id)
        for line in session.scalars(select(Line))
    ]
    expected = [key[1] for key in sorted(keys, reverse=descending)]
    seen: list[int] = []
    number, pages = 1, None
    while pages is None or number <= pages:
        page = paged(
            session,
            select(Line),
            {"sort": sort, "desc": "1" if descending else "", "page": str(number)},
            searches={},
            sorts=SORTS,
            default_sort="name",
            page_size=page_size,
        )
        pages = page.pages
        assert page.number == number and page.total == 123
        assert len(page.rows) == min(page_size, 123 - (number - 1) * page_size)
        seen += [row.id for row in page.rows]
        number += 1
    assert seen == expected


def test_an_empty_result_is_one_empty_page(session):
    page = paged(
        session,
        select(Line).where(Line.amount > 100),
        {"page": "3"},
        searches={},
        sorts=SORTS,
        default_sort="name",
    )
    assert (page.number, page.pages, page.total, list(page.rows)) == (1, 1, 0, [])
