"""SPEC 8, #15 item 3: every Japanese text of the customer screens goes through the catalogue, and
the English catalogue translates every message the screens ask for.

What counts as Japanese text: any run of kana, kanji, CJK punctuation (「」、。・), full-width
forms (（）：～, full-width letters) or the reference mark ※.

What is checked in each customer template (``templates/**.html`` without ``templates/staff``, the
bank's Japanese-only console), read with Jinja's own lexer so that comments are skipped:

- the template's text (what Jinja writes as it is) holds no Japanese outside ``{% trans %}`` …
  ``{% endtrans %}``;
- a string literal inside ``{{ … }}`` or ``{% … %}`` holds no Japanese unless it is the message of a
  gettext call, ``_("…")`` / ``gettext("…")``: a Japanese literal handed to a macro, compared or
  joined would be drawn untranslated. (A trans block's variables, ``{% trans name="…" %}``, are
  literals too, so they are checked.)

Expressions that draw data (``{{ user.name }}``) are not text of the template: the data is
whatever the customer or the bank wrote. Texts from Python (screen titles, messages) are not
covered here.

Then every message Babel extracts from those templates with ``babel.cfg`` (what ``make messages``
writes into the catalogue) must have an English translation in ``core/locale/en/LC_MESSAGES/cjs.po``:
present, not fuzzy, holding no Japanese and the same ``%(name)s`` placeholders as its msgid.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from jinja2 import Environment

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
CATALOGUE = ROOT / "core" / "locale" / "en" / "LC_MESSAGES" / "cjs.po"

JAPANESE = re.compile(r"[\u3000-\u303f\u3040-\u309f\u30a0-\u30ff\u4e00-\u9fff\uff00-\uffef\u203b]+")
GETTEXT_CALLS = {"_", "gettext", "ngettext", "pgettext"}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def customer_templates() -> list[Path]:
    """Every customer screen template (the staff console's are Japanese-only)."""
    return sorted(
        path for path in TEMPLATES.rglob("*.html") if TEMPLATES / "staff" not in path.parents
    )


def untranslated_japanese(source: str) -> list[tuple[int, str]]:
    """(line, text) of each Japanese run in ``source`` that is outside trans and gettext calls."""
    environment = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)  # lexed only
    found: list[tuple[int, str]] = []
    in_trans = False
    previous: list[tuple[str, str]] = []  # the two tokens before the current one
    for token in environment.lexer.tokenize(source):
        if previous and previous[-1][0] == "block_begin" and token.type == "name":
            if token.value == "trans":
                in_trans = True
            elif token.value == "endtrans":
                in_trans = False
        if token.type == "data" and not in_trans:
            found += [(token.lineno, run) for run in JAPANESE.findall(token.value)]
        elif token.type == "string":
            in_gettext = len(previous) == 2 and (
                previous[0][0] == "name"
                and previous[0][1] in GETTEXT_CALLS
                and previous[1][0] == "lparen"
            )
            if not in_gettext:
                found += [(token.lineno, run) for run in JAPANESE.findall(token.value)]
        previous = [*previous, (token.type, str(token.value))][-2:]
    return found


@pytest.mark.parametrize("path", customer_templates(), ids=lambda path: str(path.relative_to(ROOT)))
def test_customer_templates_hold_no_japanese_outside_the_catalogue(path):
    found = untranslated_japanese(path.read_text(encoding="utf-8"))
    assert not found, "\n".join(f"{path.relative_to(ROOT)}:{line}: {text}" for line, text in found)


def test_the_scan_finds_what_it_should():
    """The scanner itself: text and literals outside trans are found, the rest is not."""
    source = (
        "{# コメント #}<p>{% trans %}ログイン{% endtrans %}</p>{{ _('パスワード') }}"
        "{{ user.name }}<p>未翻訳</p>{{ field(form.x, '（半角）') }}"
        "{% trans name='太郎' %}{{ name }}様{% endtrans %}"
    )
    assert [text for _, text in untranslated_japanese(source)] == ["未翻訳", "（半角）", "太郎"]


def extracted_messages() -> dict[str, str]:
    """msgid → "template:line" of every message Babel extracts from the customer templates."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    messages: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                messages.setdefault(msgid, f"{filename}:{lineno}")
    return messages


def test_the_mapping_extracts_the_customer_templates_only():
    places = extracted_messages().values()
    assert any(place.startswith("templates/base.html") for place in places)
    assert not any(place.startswith("templates/staff/") for place in places)


def test_every_message_of_the_screens_has_an_english_translation():
    with CATALOGUE.open("rb") as po:
        catalogue = read_po(po, locale="en")
    assert not catalogue.fuzzy, "pybabel compile skips a catalogue whose header is fuzzy"
    problems = []
    for msgid, place in sorted(extracted_messages().items(), key=lambda item: item[1]):
        entry = catalogue.get(msgid)
        if entry is None or not entry.string:
            problems.append(f"{place}: no English for {msgid!r}")
        elif entry.fuzzy:
            problems.append(f"{place}: fuzzy English for {msgid!r}")
        elif JAPANESE.search(str(entry.string)):
            problems.append(f"{place}: Japanese left in the English for {msgid!r}")
        elif set(PLACEHOLDER.findall(msgid)) != set(PLACEHOLDER.findall(str(entry.string))):
            problems.append(f"{place}: placeholders differ in the English for {msgid!r}")
    assert not problems, f"{len(problems)} messages:\n" + "\n".join(problems)
