"""The input rules of SPEC section 1, checked by East Asian Width where full-width matters."""

from __future__ import annotations

import pytest

from core import rules


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("Abcd#123", True),
        ("abcd#123", False),
        ("ABCD#123", False),
        ("Abcd1234", False),
        ("Abcd#12", False),
        ("Abcd#1234", False),
        ("Ａbcd#123", False),
        ("Abc #123", False),
    ],
)
def test_initial_password_is_eight_characters_of_four_classes(value, ok):
    """ACC-3: 8 characters with upper, lower, digit and symbol."""
    assert (rules.check_initial_password(value) is None) is ok


def test_initial_password_length_is_a_setting_for_older_banks():
    """ACC-3: the length is a setting (older banks: 6)."""
    assert rules.check_initial_password("Ab#1cd", length=6) is None


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("abc123", True),
        ("ABCdef123456", True),
        ("abcdef", False),
        ("123456", False),
        ("abc12", False),
        ("abcdef1234567", False),
        ("abc_123", False),
        ("ａｂｃ１２３", False),
    ],
)
def test_user_id(value, ok):
    """ACC-1: 6–12 half-width letters and digits, at least one of each."""
    assert (rules.check_user_id(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("Passw0rd!", True),
        ("Pa0!Pa0!Pa0!", True),
        ("Passw0rd", False),
        ("passw0rd!", False),
        ("PASSW0RD!", False),
        ("Password!", False),
        ("Pa0!", False),
        ("Passw0rd!123", True),
        ("Passw0rd!1234", False),
        ("Passw0rd ！", False),
        ("Passw0rd\t!", False),
    ],
)
def test_password(value, ok):
    """ACC-2: 8–12 half-width, upper, lower, digit and one of the 32 symbols (no space)."""
    assert (rules.check_password(value) is None) is ok


def test_the_symbols_are_the_32_printable_ascii_symbols():
    """SPEC section 0, 記号."""
    assert len(rules.SYMBOLS) == 32 and " " not in rules.SYMBOLS


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("労金　五郎", True),
        ("ロウキンタロウ", True),
        ("あ" * 20, True),
        ("あ" * 21, False),
        ("ﾛｳｷﾝ", False),
        ("労金 五郎", False),
        ("Taro", False),
        ("　", False),
    ],
)
def test_user_name_is_full_width_by_east_asian_width(value, ok):
    """ACC-4: full-width only (the ideographic space allowed), at most 20."""
    assert (rules.check_user_name(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("taro@example.com", True),
        ("taro.yamada+x@mail.example.co.jp", True),
        ("taro@example", False),
        ("taro..x@example.com", False),
        ("taro@docomo.ne.jp", False),
        ("taro@x.ezweb.ne.jp", False),
        ("ｔａｒｏ@example.com", False),
        ("a" * 38 + "@example.com", True),
        ("a" * 39 + "@example.com", False),
    ],
)
def test_email(value, ok):
    """ACC-5: at most 50 half-width characters, local@domain, mobile-carrier domains refused."""
    denied = frozenset({"docomo.ne.jp", "ezweb.ne.jp"})
    assert (rules.check_email(value, denied) is None) is ok
