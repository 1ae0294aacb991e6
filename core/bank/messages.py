"""お知らせ, the messages the bank publishes on the information screens (BANK-6, SPEC 6.4 and 6.5).

A message has a 掲載日, a 件名 and a メッセージ, an audience (everyone, 会員 or 事業主 contracts, one
contract, or one deposit group of a contract) and is shown from ``publish_at`` until ``withdraw_at``.
:func:`visible_messages` is the one query of what a contract and deposit group see now; the bank's
file (``cjs bank load core messages FILE``, :class:`MessagesLoader`) and, later, the back office
write them through :func:`save_message`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core.bank.organisations import Organisations
from core.dataload import (
    CellError,
    Column,
    choice,
    digits,
    optional,
    read_rows,
    text,
    yyyymmdd,
    yyyymmddhhmm,
)
from core.db.models import Contract, DepositGroup, Message, MessageAudience
from core.hookspecs import Parsed, RowError
from core.timefmt import JST, to_jst

SUBJECT_MAX = 50
BODY_MAX = 1000
MESSAGE_NO_MAX = 10

#: How the file names each audience (the 対象 column).
AUDIENCE_WORDS: dict[str, MessageAudience] = {
    "全体": MessageAudience.ALL,
    "会員": MessageAudience.MEMBER,
    "事業主": MessageAudience.EMPLOYER,
    "契約": MessageAudience.CONTRACT,
    "入金グループ": MessageAudience.GROUP,
}


def visible_messages(
    dbsession: Session, contract: Contract, deposit_group: DepositGroup | None, now: dt.datetime
) -> list[Message]:
    """The messages ``contract`` sees in ``deposit_group`` (None: no group selected) at ``now``:
    published and not withdrawn, for everyone, its contract kind, the contract or the group;
    newest 掲載日 first, in the bank's numbering within a day."""
    audiences = [
        Message.audience == MessageAudience.ALL,
        Message.audience == contract.kind,
        and_(Message.audience == MessageAudience.CONTRACT, Message.contract_id == contract.id),
    ]
    if deposit_group is not None:
        audiences.append(
            and_(
                Message.audience == MessageAudience.GROUP,
                Message.deposit_group_id == deposit_group.id,
            )
        )
    query = (
        select(Message)
        .where(
            or_(*audiences),
            Message.publish_at <= now,
            or_(Message.withdraw_at.is_(None), Message.withdraw_at > now),
        )
        .order_by(Message.posted_on.desc(), Message.message_no)
    )
    return list(dbsession.scalars(query))


@dataclass(frozen=True)
class MessageData:
    """What a message says and whom it is for, as the bank gives it."""

    message_no: str
    posted_on: dt.date
    subject: str
    body: str
    audience: MessageAudience
    contract: Contract | None
    deposit_group: DepositGroup | None
    publish_at: dt.datetime
    withdraw_at: dt.datetime | None


def save_message(dbsession: Session, data: MessageData) -> Message:
    """Add the message numbered ``data.message_no``, or update it to ``data`` (no change when it
    already says the same: loading a file again changes nothing)."""
    message = dbsession.scalars(
        select(Message).where(Message.message_no == data.message_no)
    ).one_or_none()
    if message is None:
        message = Message(message_no=data.message_no)
        dbsession.add(message)
    values: dict[str, Any] = {
        "posted_on": data.posted_on,
        "subject": data.subject,
        "body": data.body,
        "audience": str(data.audience),
        "contract_id": data.contract.id if data.contract is not None else None,
        "deposit_group_id": data.deposit_group.id if data.deposit_group is not None else None,
        "publish_at": data.publish_at,
        "withdraw_at": data.withdraw_at,
    }
    for name, value in values.items():
        if getattr(message, name) != value:
            setattr(message, name, value)
    return message


def _message_no(value: str) -> str:
    if not value or len(value) > MESSAGE_NO_MAX or not (value.isascii() and value.isalnum()):
        raise CellError(f"半角英数字{MESSAGE_NO_MAX}文字以内で指定してください。")
    return value


def _body(value: str) -> str:
    """The text of a message: line breaks kept, no other control characters."""
    if not value or len(value) > BODY_MAX or not value.replace("\n", "").isprintable():
        raise CellError(f"{BODY_MAX}文字以内で指定してください（改行は可）。")
    return value


#: The columns of the file, in order (docs/data-formats.md).
COLUMNS = (
    Column("お知らせ番号", _message_no),
    Column("掲載日", yyyymmdd),
    Column("件名", text(SUBJECT_MAX)),
    Column("メッセージ", _body),
    Column("対象", choice(AUDIENCE_WORDS)),
    Column("契約番号", optional(digits(8))),
    Column("入金グループ", optional(digits(8))),
    Column("掲載開始", optional(yyyymmddhhmm)),
    Column("掲載終了", optional(yyyymmddhhmm)),
)


def _message(
    line: int,
    values: Sequence[Any],
    organisations: Organisations,
    seen: set[str],
    refused: list[RowError],
) -> MessageData:
    """The message of a line whose cells are each right, checked as a whole: a number not seen
    before, the contract and group the audience needs and nothing else, 掲載終了 after 掲載開始;
    each fault is added to ``refused``."""
    number, posted_on, subject, body, audience, contract_no, group_no, publish_at, withdraw_at = (
        values
    )

    def refuse(message: str, column: str, value: str | None) -> None:
        refused.append(RowError(line, message, column, value or ""))

    if number in seen:
        refuse("同じお知らせ番号がファイル内にあります。", "お知らせ番号", number)
    seen.add(number)
    contract = group = None
    if audience in (MessageAudience.CONTRACT, MessageAudience.GROUP):
        contract = organisations.contract(contract_no or "")
        if contract_no is None:
            refuse("対象が契約・入金グループのときは指定してください。", "契約番号", contract_no)
        elif contract is None:
            refuse("この契約番号の契約はありません。", "契約番号", contract_no)
    elif contract_no is not None:
        refuse("対象が契約・入金グループでないときは空にしてください。", "契約番号", contract_no)
    if audience == MessageAudience.GROUP:
        group = organisations.group(contract_no or "", group_no or "")
        if group_no is None:
            refuse("対象が入金グループのときは指定してください。", "入金グループ", group_no)
        elif contract is not None and group is None:
            refuse("この契約にこの入金グループはありません。", "入金グループ", group_no)
    elif group_no is not None:
        refuse("対象が入金グループでないときは空にしてください。", "入金グループ", group_no)
    if publish_at is None:
        publish_at = dt.datetime.combine(posted_on, dt.time(), tzinfo=JST)
    if withdraw_at is not None and withdraw_at <= publish_at:
        refuse("掲載終了は掲載開始より後にしてください。", "掲載終了", f"{withdraw_at:%Y%m%d%H%M}")
    return MessageData(
        number, posted_on, subject, body, audience, contract, group, publish_at, withdraw_at
    )


def message_from_cells(
    cells: Mapping[str, str], organisations: Organisations
) -> tuple[MessageData | None, list[RowError]]:
    """One message from its cells written as in the file (by column name, a missing one empty),
    checked by the rules of a line of the file: the message, or every fault (line 1) and None.
    The console's form goes through here, the file through :class:`MessagesLoader`."""
    values: list[Any] = []
    errors: list[RowError] = []
    for column in COLUMNS:
        cell = cells.get(column.name, "")
        try:
            values.append(column.parse(cell))
        except CellError as exc:
            errors.append(RowError(1, str(exc), column.name, cell))
    if errors:
        return None, errors
    message = _message(1, values, organisations, set(), errors)
    return (None if errors else message), errors


def cells_of(dbsession: Session, message: Message) -> dict[str, str]:
    """``message`` as the file would write it, by column name (the console's form starts here)."""
    contract = dbsession.get(Contract, message.contract_id) if message.contract_id else None
    group = (
        dbsession.get(DepositGroup, message.deposit_group_id) if message.deposit_group_id else None
    )
    words = {audience: word for word, audience in AUDIENCE_WORDS.items()}
    withdraw_at = message.withdraw_at
    return {
        "お知らせ番号": message.message_no,
        "掲載日": f"{message.posted_on:%Y%m%d}",
        "件名": message.subject,
        "メッセージ": message.body,
        "対象": words[MessageAudience(message.audience)],
        "契約番号": contract.contract_no if contract is not None else "",
        "入金グループ": group.group_no if group is not None else "",
        "掲載開始": f"{to_jst(message.publish_at):%Y%m%d%H%M}",
        "掲載終了": f"{to_jst(withdraw_at):%Y%m%d%H%M}" if withdraw_at is not None else "",
    }


class MessagesLoader:
    """``cjs bank load core messages FILE``: the bank's messages, added or updated by お知らせ番号."""

    kind = "messages"
    title = "お知らせ"

    def parse(self, dbsession: Session, data: bytes) -> Parsed:
        """Every message of the file, or an error for each refused cell or line."""
        rows, errors = read_rows(data, COLUMNS)
        organisations = Organisations(dbsession)
        messages: list[MessageData] = []
        seen: set[str] = set()
        for line, values in rows:
            refused: list[RowError] = []
            message = _message(line, values, organisations, seen, refused)
            errors += refused
            if not refused:
                messages.append(message)
        return Parsed(rows=messages, errors=sorted(errors, key=lambda e: e.line))

    def store(self, dbsession: Session, rows: Sequence[Any], *, now: dt.datetime) -> None:
        """Add or update each message; the core commits them with the file's audit event."""
        for row in rows:
            save_message(dbsession, row)


def withdraw_message(message: Message, now: dt.datetime) -> bool:
    """Withdraw ``message`` at ``now`` (its 掲載終了 becomes now); False when it was withdrawn
    already by then (nothing changes)."""
    if message.withdraw_at is not None and message.withdraw_at <= now:
        return False
    message.withdraw_at = now
    return True
