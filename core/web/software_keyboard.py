"""The ソフトウェアキーボード of every password field (SPEC section 8; 001 p.8 「ソフトウェアキーボード
について」): the keys it shows, each with the name a screen reader reads (a message: in the screen's language).

The keyboard holds every character a password may hold (ACC-2): the digits, the letters (one key per
letter, upper or lower case by the keyboard's shift) and the 32 記号 of SPEC section 0. The markup is
drawn by ``macros.html`` (``software_keyboard()``), the behaviour is ``templates/static/softkbd.js``;
without JavaScript the password field is an ordinary field and the keyboard stays hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.i18n import Message, _
from core.rules import SYMBOLS

#: The name of each 記号 as a screen reader should read it (a bare "!" or "`" is often skipped).
SYMBOL_NAMES: dict[str, Message] = {
    "!": _("エクスクラメーション"),
    '"': _("ダブルクォーテーション"),
    "#": _("シャープ"),
    "$": _("ドル"),
    "%": _("パーセント"),
    "&": _("アンパサンド"),
    "'": _("シングルクォーテーション"),
    "(": _("左丸括弧"),
    ")": _("右丸括弧"),
    "*": _("アスタリスク"),
    "+": _("プラス"),
    ",": _("カンマ"),
    "-": _("ハイフン"),
    ".": _("ピリオド"),
    "/": _("スラッシュ"),
    ":": _("コロン"),
    ";": _("セミコロン"),
    "<": _("小なり"),
    "=": _("イコール"),
    ">": _("大なり"),
    "?": _("クエスチョン"),
    "@": _("アットマーク"),
    "[": _("左角括弧"),
    "\\": _("バックスラッシュ"),
    "]": _("右角括弧"),
    "^": _("キャレット"),
    "_": _("アンダースコア"),
    "`": _("バッククォート"),
    "{": _("左波括弧"),
    "|": _("縦線"),
    "}": _("右波括弧"),
    "~": _("チルダ"),
}

DIGIT_ROWS = ("1234567890",)
LETTER_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_SYMBOLS_IN_ORDER = "".join(sorted(SYMBOLS))
SYMBOL_ROWS = (_SYMBOLS_IN_ORDER[:11], _SYMBOLS_IN_ORDER[11:22], _SYMBOLS_IN_ORDER[22:])


@dataclass(frozen=True)
class Key:
    """One key: what it types and its name, without and with shift (the same for digits, 記号)."""

    char: str
    label: str  # a message, or the digit itself
    shifted_char: str
    shifted_label: str


@dataclass(frozen=True)
class KeyGroup:
    """Keys that stay together when the order is shuffled: 数字, 英字 or 記号, in rows."""

    name: str
    label: Message
    rows: tuple[tuple[Key, ...], ...]


def _same(char: str, label: str) -> Key:
    return Key(char, label, char, label)


def _letter(char: str) -> Key:
    return Key(
        char,
        _("英小文字 ${letter}", letter=char),
        char.upper(),
        _("英大文字 ${letter}", letter=char.upper()),
    )


LAYOUT = (
    KeyGroup("digits", _("数字"), tuple(tuple(_same(c, c) for c in row) for row in DIGIT_ROWS)),
    KeyGroup("letters", _("英字"), tuple(tuple(_letter(c) for c in row) for row in LETTER_ROWS)),
    KeyGroup(
        "symbols",
        _("記号"),
        tuple(tuple(_same(c, SYMBOL_NAMES[c]) for c in row) for row in SYMBOL_ROWS),
    ),
)


def typable_characters() -> frozenset[str]:
    """Every character the keyboard can type, shift on or off."""
    return frozenset(
        char
        for group in LAYOUT
        for row in group.rows
        for key in row
        for char in (key.char, key.shifted_char)
    )
