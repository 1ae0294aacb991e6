"""SPEC 8, #15 item 3: every Japanese text of the customer screens goes through the catalogue, and
the English catalogue translates every message the screens ask for.

What counts as Japanese text: any run of kana, kanji, CJK punctuation (「」、。・), full-width
forms (（）：～, full-width letters) or the reference mark ※.

What is checked in each customer template (``templates/**.html`` without ``templates/staff``, the
bank's Japanese-only console; the modules' ``plugins/*/templates/**.html``; the mails,
``templates/mail/*.txt``), read with Jinja's own lexer so that comments are skipped:

- the template's text (what Jinja writes as it is) holds no Japanese outside ``{% trans %}`` …
  ``{% endtrans %}``;
- a string literal inside ``{{ … }}`` or ``{% … %}`` holds no Japanese unless it is the message of a
  gettext call, ``_("…")`` / ``gettext("…")``: a Japanese literal handed to a macro, compared or
  joined would be drawn untranslated. (A trans block's variables, ``{% trans name="…" %}``, are
  literals too, so they are checked.)

Expressions that draw data (``{{ user.name }}``) are not text of the template: the data is
whatever the customer or the bank wrote.

In the Python modules of ``core``, ``auth_backends`` and ``plugins`` (read with :mod:`ast`), a string
literal holding Japanese must be the message of a ``_("…")`` call of :mod:`core.i18n` (or of a
``pgettext("context", "…")`` call) — a literal, so that Babel extracts it — or a docstring;
modules that are Japanese by design are listed in ``JAPANESE_ONLY_MODULES`` with the reason.

Then every message Babel extracts from those templates with ``babel.cfg`` (what ``make messages``
writes into the catalogue) must have an English translation in ``core/locale/en/LC_MESSAGES/cjs.po``
(the entry of its msgctxt, if it has one): present, not fuzzy, holding no Japanese and the same
``%(name)s`` / ``${name}`` placeholders as its msgid.
"""

from __future__ import annotations

import ast
import re
from fnmatch import fnmatch
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from jinja2 import Environment

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
PLUGINS = ROOT / "plugins"
CATALOGUE = ROOT / "core" / "locale" / "en" / "LC_MESSAGES" / "cjs.po"

JAPANESE = re.compile(r"[\u3000-\u303f\u3040-\u309f\u30a0-\u30ff\u4e00-\u9fff\uff00-\uffef\u203b]+")
GETTEXT_CALLS = {"_", "gettext", "ngettext", "pgettext"}
#: The message functions of core.i18n and the position of the message among their arguments.
MESSAGE_CALLS = {"_": 0, "pgettext": 1}
PLACEHOLDER = re.compile(r"%\((\w+)\)s|\$\{(\w+)\}")
PYTHON_PACKAGES = ("core", "auth_backends", "plugins")

#: Modules whose Japanese is not a screen text of the customer, with the reason (paths, fnmatch).
JAPANESE_ONLY_MODULES = {
    "core/staff/*": "the bank's staff console is Japanese only (SPEC 8)",
    "core/bank/config.py": "the bank's configuration file and its checks",
    "core/bank/loaders.py": "the checks of the files the bank loads, read by the bank's staff",
    "core/bank/manuals.py": "the manuals' list the bank loads (titles are the bank's data)",
    "core/bank/messages.py": "the bank's notices file and its checks (the texts are the bank's)",
    "core/bank/organisations.py": "the bank's file of contracts and groups",
    "core/bank/paper_forms.py": "the bank's paper forms, printed in Japanese for its counters",
    "core/bank/schedules_file.py": "the bank's schedules file and its checks",
    "core/cli/*": "the operator's commands and the demo's data",
    "core/dataload.py": "the checks of the files the bank loads, read by the bank's staff",
    "plugins/*/demo.py": "the demo's data (names of members and groups)",
    "plugins/*/loader.py": "the checks of the files the bank loads, read by the bank's staff",
    "plugins/*/layouts.py": "the CSV exports keep the bank's Japanese column layout",
    "core/outputs/csvexport.py": "the CSV files keep the bank's Japanese column layout",
    "core/web/language.py": "the header's switch names each language in that language (日本語)",
}


def customer_templates() -> list[Path]:
    """Every customer screen template (the staff console's are Japanese-only), the modules' too,
    and every mail's (all go to customers)."""
    screens = [
        path for path in TEMPLATES.rglob("*.html") if TEMPLATES / "staff" not in path.parents
    ]
    return sorted(
        [*screens, *PLUGINS.glob("*/templates/**/*.html"), *(TEMPLATES / "mail").glob("*.txt")]
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


def extracted_messages() -> dict[tuple[str, str | None], str]:
    """(msgid, msgctxt) → "template:line" of every message Babel extracts from the customer
    templates and Python modules."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    messages: dict[tuple[str, str | None], str] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                messages.setdefault((msgid, context), f"{filename}:{lineno}")
    return messages


def test_the_mapping_extracts_the_customer_templates_only():
    places = extracted_messages().values()
    assert any(place.startswith("templates/base.html") for place in places)
    assert any(place.startswith("plugins/zaikei/templates/") for place in places)
    assert not any(place.startswith("templates/staff/") for place in places)


def test_every_message_of_the_screens_has_an_english_translation():
    with CATALOGUE.open("rb") as po:
        catalogue = read_po(po, locale="en")
    assert not catalogue.fuzzy, "pybabel compile skips a catalogue whose header is fuzzy"
    problems = []
    for (msgid, context), place in sorted(extracted_messages().items(), key=lambda item: item[1]):
        entry = catalogue.get(msgid, context=context)
        if entry is None or not entry.string:
            problems.append(f"{place}: no English for {msgid!r}")
        elif entry.fuzzy:
            problems.append(f"{place}: fuzzy English for {msgid!r}")
        elif JAPANESE.search(str(entry.string)):
            problems.append(f"{place}: Japanese left in the English for {msgid!r}")
        elif placeholders(msgid) != placeholders(str(entry.string)):
            problems.append(f"{place}: placeholders differ in the English for {msgid!r}")
    assert not problems, f"{len(problems)} messages:\n" + "\n".join(problems)


def placeholders(message: str) -> set[str]:
    """The names of the ``%(name)s`` and ``${name}`` placeholders of ``message``."""
    return {template or python for template, python in PLACEHOLDER.findall(message)}


def python_modules() -> list[Path]:
    """Every module of ``core``, ``auth_backends`` and ``plugins`` that screens may draw from."""
    return sorted(
        path
        for package in PYTHON_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if not any(
            fnmatch(str(path.relative_to(ROOT)), pattern) for pattern in JAPANESE_ONLY_MODULES
        )
    )


def japanese_outside_messages(source: str) -> list[tuple[int, str]]:
    """(line, text) of each Japanese literal of ``source`` that is neither a docstring nor the
    literal message of a ``_()`` (or ``pgettext()``) call; an f-string or a name given to ``_()``
    is reported too."""
    tree = ast.parse(source)
    allowed: set[int] = set()
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            allowed.add(id(node.value))  # a docstring, or the docstring of an attribute
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in MESSAGE_CALLS
        ):
            position = MESSAGE_CALLS[node.func.id]
            message = node.args[position] if len(node.args) > position else None
            if isinstance(message, ast.Constant) and isinstance(message.value, str):
                allowed.add(id(message))
            else:
                found.append((node.lineno, "_() of something other than a literal"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in allowed
        ):
            found += [(node.lineno, run) for run in JAPANESE.findall(node.value)]
    return sorted(found)


@pytest.mark.parametrize("path", python_modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_python_messages_hold_no_japanese_outside_the_catalogue(path):
    found = japanese_outside_messages(path.read_text(encoding="utf-8"))
    assert not found, "\n".join(f"{path.relative_to(ROOT)}:{line}: {text}" for line, text in found)


def test_the_python_scan_finds_what_it_should():
    source = (
        '"""モジュール。"""\n'
        'A = _("ログイン")\n'
        'B = "未翻訳"\n'
        'C = _(f"{x}件")\n'
        'D = _("${label}を入力", label=_("ユーザーID"))\n'
        'E = pgettext("level", "表示")\n'
        'def f():\n    """説明。"""\n    return {"key": "値"}\n'
    )
    assert japanese_outside_messages(source) == [
        (3, "未翻訳"),
        (4, "_() of something other than a literal"),
        (4, "件"),
        (9, "値"),
    ]
