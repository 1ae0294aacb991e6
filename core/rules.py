"""Input rules of SPEC section 1 that more than one screen or tool checks.

Each function returns None when the value is acceptable, else the Japanese message shown next to the
field. Full-width is judged by Unicode East Asian Width.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from core.i18n import _

#: 記号 (SPEC section 0): the 32 printable ASCII symbols, no space.
SYMBOLS = frozenset(chr(c) for c in range(0x21, 0x7F) if not chr(c).isalnum())

_DIGITS8 = re.compile(r"^[0-9]{8}$")


# U+FF61–U+FF9F: half-width katakana and marks; space, digits, upper-case letters and a few symbols
# are allowed in bank kana names (全銀 character set). One pattern: a loader checks 100,000 names.
HALF_WIDTH_KANA_CHARACTERS = r"[\uff61-\uff9f0-9A-Z ().\-/]"
_HALF_WIDTH_KANA = re.compile(HALF_WIDTH_KANA_CHARACTERS + "*")
#: The full-width space (U+3000), allowed inside a user name but not as the whole of it.
IDEOGRAPHIC_SPACE = chr(0x3000)


def is_half_width_kana_text(value: str) -> bool:
    """Every character is a half-width katakana (East Asian Width H, U+FF61–U+FF9F) or one of the
    few ASCII characters bank kana names allow (space, digits, capitals, ``().-/``)."""
    return _HALF_WIDTH_KANA.fullmatch(value) is not None


def check_contract_no(value: str) -> str | None:
    """契約番号: 8 half-width digits (001)."""
    if not _DIGITS8.match(value):
        return _("契約番号は半角数字8桁で入力してください。")
    return None


def check_group_no(value: str) -> str | None:
    """入金グループ: 8 half-width digits."""
    if not _DIGITS8.match(value):
        return _("入金グループは半角数字8桁で入力してください。")
    return None


def check_kana_name(value: str, *, max_length: int = 40) -> str | None:
    """A bank kana name: half-width katakana (ｶﾅ), at most ``max_length`` characters."""
    if not value or not is_half_width_kana_text(value) or len(value) > max_length:
        return _("カナ名は半角カナ${max_length}文字以内で入力してください。", max_length=max_length)
    return None


@functools.lru_cache(maxsize=65536)
def is_full_width(value: str) -> bool:
    """Every character is full-width (East Asian Width F or W); the ideographic space counts.

    Cached: a bank file repeats the same names and words many times over."""
    return all(unicodedata.east_asian_width(ch) in {"F", "W"} for ch in value)


def _classes(value: str) -> tuple[bool, bool, bool, bool]:
    return (
        any("A" <= ch <= "Z" for ch in value),
        any("a" <= ch <= "z" for ch in value),
        any("0" <= ch <= "9" for ch in value),
        any(ch in SYMBOLS for ch in value),
    )


def _only_half_width_password_chars(value: str) -> bool:
    return all(ch.isascii() and (ch.isalnum() or ch in SYMBOLS) for ch in value)


def check_initial_password(value: str, *, length: int = 8) -> str | None:
    """初期パスワード (ACC-3): ``length`` characters with upper, lower, digit and symbol."""
    if (
        len(value) != length
        or not _only_half_width_password_chars(value)
        or not all(_classes(value))
    ):
        return _(
            "初期パスワードは半角英大文字・英小文字・数字・記号を含む${length}文字で入力してください。",
            length=length,
        )
    return None


_USER_ID = re.compile(r"^[A-Za-z0-9]{6,12}$")
_DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN = re.compile(
    r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)


def check_user_id(value: str) -> str | None:
    """ユーザーID (ACC-1): 6–12 half-width letters and digits, at least one of each."""
    if (
        not _USER_ID.match(value)
        or not any(ch.isalpha() for ch in value)
        or not any(ch.isdigit() for ch in value)
    ):
        return _("ユーザーIDは半角英字と数字を混在させて6～12文字で入力してください。")
    return None


def check_password(value: str) -> str | None:
    """パスワード (ACC-2): 8–12 half-width characters with upper, lower, digit and symbol."""
    if (
        not 8 <= len(value) <= 12
        or not _only_half_width_password_chars(value)
        or not all(_classes(value))
    ):
        return _(
            "パスワードは半角英大文字・英小文字・数字・記号を混在させて8～12文字で入力してください。"
        )
    return None


def check_user_name(value: str) -> str | None:
    """ユーザー名 (ACC-4): full-width characters only, at most 20; the full-width space is allowed."""
    if not value.strip(IDEOGRAPHIC_SPACE):
        return _("ユーザー名を入力してください。")
    if not is_full_width(value) or len(value) > 20:
        return _("ユーザー名は全角20文字以内で入力してください。")
    return None


def check_email(value: str, denied_domains: frozenset[str] = frozenset()) -> str | None:
    """メールアドレス (ACC-5): at most 50 half-width characters, local@domain, no mobile carrier."""
    local, at, domain = value.rpartition("@")
    if (
        len(value) > 50
        or not value.isascii()
        or not at
        or not _DOT_ATOM.match(local)
        or not _DOMAIN.match(domain)
    ):
        return _("メールアドレスは半角50文字以内で正しく入力してください。")
    lowered = domain.lower()
    if any(lowered == d or lowered.endswith("." + d) for d in denied_domains):
        return _(
            "携帯電話のメールアドレスはご利用いただけません。パソコンのメールアドレスを入力してください。"
        )
    return None
