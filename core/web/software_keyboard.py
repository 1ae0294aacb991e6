"""The ソフトウェアキーボード of every password field (SPEC section 8; 001 p.8 「ソフトウェアキーボード
について」): the keys it shows, each with the name a screen reader reads.

The keyboard holds every character a password may hold (ACC-2): the digits, the letters (one key per
letter, upper or lower case by the keyboard's shift) and the 32 記号 of SPEC section 0. The markup is
drawn by ``macros.html`` (``software_keyboard()``), the behaviour is ``templates/static/softkbd.js``;
without JavaScript the password field is an ordinary field and the keyboard stays hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.rules import SYMBOLS

#: The name of each 記号 as a screen reader should read it (a bare "!" or "`" is often skipped).
SYMBOL_NAMES = {
    "!": "エクスクラメーション",
    '"': "ダブルクォーテーション",
    "#": "シャープ",
    "$": "ドル",
    "%": "パーセント",
    "&": "アンパサンド",
    "'": "シングルクォーテーション",
    "(": "左丸括弧",
    ")": "右丸括弧",
    "*": "アスタリスク",
    "+": "プラス",
    ",": "カンマ",
    "-": "ハイフン",
    ".": "ピリオド",
    "/": "スラッシュ",
    ":": "コロン",
    ";": "セミコロン",
    "<": "小なり",
    "=": "イコール",
    ">": "大なり",
    "?": "クエスチョン",
    "@": "アットマーク",
    "[": "左角括弧",
    "\\": "バックスラッシュ",
    "]": "右角括弧",
    "^": "キャレット",
    "_": "アンダースコア",
    "`": "バッククォート",
    "{": "左波括弧",
    "|": "縦線",
    "}": "右波括弧",
    "~": "チルダ",
}

DIGIT_ROWS = ("1234567890",)
LETTER_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_SYMBOLS_IN_ORDER = "".join(sorted(SYMBOLS))
SYMBOL_ROWS = (_SYMBOLS_IN_ORDER[:11], _SYMBOLS_IN_ORDER[11:22], _SYMBOLS_IN_ORDER[22:])


@dataclass(frozen=True)
class Key:
    """One key: what it types and its name, without and with shift (the same for digits, 記号)."""

    char: str
    label: str
    shifted_char: str
    shifted_label: str


@dataclass(frozen=True)
class KeyGroup:
    """Keys that stay together when the order is shuffled: 数字, 英字 or 記号, in rows."""

    name: str
    label: str
    rows: tuple[tuple[Key, ...], ...]


def _same(char: str, label: str) -> Key:
    return Key(char, label, char, label)


def _letter(char: str) -> Key:
    return Key(char, f"英小文字 {char}", char.upper(), f"英大文字 {char.upper()}")


LAYOUT = (
    KeyGroup("digits", "数字", tuple(tuple(_same(c, c) for c in row) for row in DIGIT_ROWS)),
    KeyGroup("letters", "英字", tuple(tuple(_letter(c) for c in row) for row in LETTER_ROWS)),
    KeyGroup(
        "symbols",
        "記号",
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
