"""お知らせ, the messages the bank publishes on the information screens (BANK-6, SPEC 6.4 and 6.5).

A message has a 掲載日, a 件名 and a メッセージ, an audience (everyone, 会員 or 事業主 contracts, one
contract, or one deposit group of a contract) and is shown from ``publish_at`` until ``withdraw_at``.
:func:`visible_messages` is the one query of what a contract and deposit group see now; the bank's
file (``cjs bank load core messages FILE``, :class:`MessagesLoader`) and, later, the back office write them
through :func:`save_message`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core.bank import datafile
from core.db.models import Contract, DepositGroup, Message, MessageAudience
from core.hookspecs import Parsed
from core.timefmt import JST

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
#: The columns of the file, in order (docs/data-formats.md).
COLUMNS = (
    "お知らせ番号",
    "掲載日",
    "件名",
    "メッセージ",
    "対象",
    "契約番号",
    "入金グループ",
    "掲載開始",
    "掲載終了",
)


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
        raise ValueError(f"半角英数字{MESSAGE_NO_MAX}文字以内で入力してください。")
    return value


class MessagesLoader:
    """``cjs bank load core messages FILE``: the bank's messages, added or updated by お知らせ番号."""

    kind = "messages"
    title = "お知らせ"

    def parse(self, dbsession: Session, data: bytes) -> Parsed:
        """Every message of the file, or an error for each refused cell or line."""
        records, errors = datafile.read_records(data, COLUMNS)
        organisations = datafile.Organisations(dbsession)
        rows: list[MessageData] = []
        seen: set[str] = set()
        for record in records:
            message = self._message(record, organisations, seen)
            errors += record.errors
            if message is not None and not record.errors:
                rows.append(message)
        return Parsed(rows=rows, errors=sorted(errors, key=lambda e: e.line))

    @staticmethod
    def _message(
        record: datafile.Record, organisations: datafile.Organisations, seen: set[str]
    ) -> MessageData | None:
        number = record.get("お知らせ番号", _message_no)
        if number is not None and number in seen:
            record.refuse("同じお知らせ番号がファイル内にあります。", "お知らせ番号")
        seen.add(number or "")
        posted_on = record.get("掲載日", datafile.date)
        subject = record.get("件名", datafile.text(SUBJECT_MAX))
        body = record.get("メッセージ", datafile.text(BODY_MAX))
        audience_word = record.get("対象", datafile.choice(list(AUDIENCE_WORDS)))
        publish_at = record.get("掲載開始", datafile.optional_jst_minute)
        withdraw_at = record.get("掲載終了", datafile.optional_jst_minute)
        contract = group = None
        audience = AUDIENCE_WORDS.get(audience_word or "")
        if audience in (MessageAudience.CONTRACT, MessageAudience.GROUP):
            contract = organisations.contract(record, "契約番号")
        elif record.cells["契約番号"]:
            record.refuse("対象が契約・入金グループでないときは空にしてください。", "契約番号")
        if audience == MessageAudience.GROUP:
            if contract is not None:
                group = organisations.group(record, "契約番号", "入金グループ")
        elif record.cells["入金グループ"]:
            record.refuse("対象が入金グループでないときは空にしてください。", "入金グループ")
        if posted_on is not None and publish_at is None and not record.cells["掲載開始"]:
            publish_at = dt.datetime.combine(posted_on, dt.time(), tzinfo=JST)
        if publish_at is not None and withdraw_at is not None and withdraw_at <= publish_at:
            record.refuse("掲載終了は掲載開始より後にしてください。", "掲載終了")
        if (
            record.errors
            or number is None
            or posted_on is None
            or subject is None
            or body is None
            or audience is None
            or publish_at is None
        ):
            return None
        return MessageData(
            number, posted_on, subject, body, audience, contract, group, publish_at, withdraw_at
        )

    def store(self, dbsession: Session, rows: Sequence[Any], *, now: dt.datetime) -> None:
        """Add or update each message; the core commits them with the file's audit event."""
        for row in rows:
            save_message(dbsession, row)
