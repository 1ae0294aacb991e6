"""What the browser tests share: Debian's Chromium driven by Playwright over the ``deployment``'s TLS.

- :func:`require_browser` — the Playwright sync API, or a skip (a failure when ``CI=true``);
- :func:`launch_chromium` — headless Chromium for one deployment: Chromium trusts the server's key
  only (``--ignore-certificate-errors-spki-list``, the key checked first against the deployment's
  CA), and Playwright's Node proxy, which presents client certificates, trusts the deployment's CA
  (``NODE_EXTRA_CA_CERTS``). No ``ignore_https_errors``;
- :class:`Problems` — console errors, CSP violations, uncaught script errors and HTTP error answers
  of the pages watched; :func:`csp_violations_are_seen` proves the watch works;
- :class:`Accessibility` — axe-core (WCAG 2.0/2.1/2.2 A and AA) and no sideways scrolling on every
  screen a walk reaches; :func:`axe_violations_are_seen` proves the checker works;
- :class:`Screens` — numbered full-page screenshots in ``var/screens/<language>/<width>/``, at a
  desktop's and a phone's width, each screen checked by axe-core at each; on an English walk each
  screen's text is read for Japanese (:func:`japanese_on`); :func:`export_doc_images` copies some
  of them to docs/images;
- :class:`Language` — what a screen shows for a catalogue message in the walk's language;
- :class:`Laps` — seconds per part of a walk;
- :func:`screen`, :func:`heading` — the screen ID and the title a page must show;
- :func:`certificate_came_through_tls` — the logged-in requests carried a verified certificate;
- :func:`issue_in_browser` — FLOW-2 from DC586101 to the saved ``.p12``.

pytest imports the test modules of this folder with the folder on ``sys.path`` (no package), so they
``import browser``.
"""

from __future__ import annotations

import base64
import contextlib
import gettext
import hashlib
import os
import re
import shutil
import socket
import ssl
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

CHROMIUM = Path(os.environ.get("CJS_CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[2]
SCREENS = ROOT / "var" / "screens"
LOCALE_DIR = ROOT / "core" / "locale"
DOC_IMAGES_DIR = ROOT / "docs" / "images"
VIEWPORT = {"width": 1024, "height": 768}
#: A phone held upright (CSS pixels): the customer walk runs at this size too (#15).
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def require_browser() -> Any:
    """The Playwright sync API; skipped without it or Chromium, failed instead when CI=true."""
    reason = None
    try:
        from playwright import sync_api
    except ImportError:
        reason = "playwright is not installed (pip install -e '.[test]')"
    if reason is None and not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found (apt-get install chromium)"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the browser test needs it: {reason}", pytrace=False)
        pytest.skip(reason)
    return sync_api


# --- The browser ---------------------------------------------------------------------------------


def server_spki_hash(base_url: str, ca_file: str) -> str:
    """Base64 SHA-256 of the server's public key, after checking its certificate against our CA."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "localhost", parts.port or 443
    context = ssl.create_default_context(cafile=ca_file)  # verifies the chain and the host name
    with (
        socket.create_connection((host, port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    certificate = x509.load_der_x509_certificate(der)
    spki = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@contextlib.contextmanager
def launch_chromium(deployment: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Headless Debian Chromium for this deployment, with its own Playwright driver (the driver
    reads NODE_EXTRA_CA_CERTS when it starts: the CA of this deployment)."""
    sync_api = require_browser()
    monkeypatch.setenv("NODE_EXTRA_CA_CERTS", str(deployment.ca_file))
    spki = server_spki_hash(deployment.base_url, str(deployment.ca_file))
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                f"--ignore-certificate-errors-spki-list={spki}",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-domain-reliability",
                "--no-first-run",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


# --- Watching the pages --------------------------------------------------------------------------


class Problems:
    """What a page must never show: console errors (CSP violations among them), uncaught script
    errors, HTTP error answers.

    Known and tolerated: Chromium's own request for ``/favicon.ico`` (no page asks for it), which
    the service answers 404 — it has no icon yet. Kept in ``.tolerated`` and printed.
    """

    TOLERATED = re.compile(r"^console\.error https://[^/]+/favicon\.ico: .* 404 ")

    def __init__(self) -> None:
        self.items: list[str] = []
        self.tolerated: list[str] = []

    def watch(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.items.append(f"pageerror {page.url}: {error}"))
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type in {"error", "assert"} or "Content Security Policy" in message.text:
            item = f"console.{message.type} {message.location.get('url')}: {message.text}"
            (self.tolerated if self.TOLERATED.match(item) else self.items).append(item)

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.items.append(f"HTTP {response.status} {response.request.method} {response.url}")


def csp_violations_are_seen(context: Any, url: str) -> None:
    """The watch works: an inline script on our page is refused by the CSP, and that is seen."""
    page = context.new_page()
    probe = Problems()
    probe.watch(page)
    page.goto(url)
    with contextlib.suppress(Exception):  # Playwright may report the refused script as an error
        page.add_script_tag(content="document.title = 'inline'")
    page.wait_for_timeout(200)
    assert page.title() != "inline"
    assert any("Content Security Policy" in item for item in probe.items), probe.items
    page.close()


class Laps:
    """Seconds per part of the walk, printed at the end (``-s``)."""

    def __init__(self) -> None:
        self.start = self.last = time.monotonic()
        self.parts: list[tuple[str, float]] = []

    def __call__(self, name: str) -> None:
        now = time.monotonic()
        self.parts.append((name, now - self.last))
        self.last = now

    def __str__(self) -> str:
        parts = ", ".join(f"{name} {seconds:.1f}" for name, seconds in self.parts)
        return f"{self.last - self.start:.1f} s ({parts})"


#: The innermost elements that reach beyond the window's right edge, as ``tag#id.class`` (at most 5).
BEYOND_THE_WINDOW = """() => {
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.getBoundingClientRect().right <= window.innerWidth + 0.5) continue;
    if ([...el.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 0.5)) continue;
    if (el.closest('[tabindex="0"][role=region]')) continue;
    out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
             (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : ''));
    if (out.length === 5) break;
  }
  return out.join(', ') || '-';
}"""


class Accessibility:
    """axe-core's verdict on every screen a walk reaches: WCAG 2.0, 2.1 and 2.2, levels A and AA
    (ACC-8, #15). The axe-core of ``axe-playwright-python`` is evaluated in the page through the
    browser's debugging protocol, which the page's CSP does not govern.

    :meth:`check` records the screen (name, screen ID or title, URL) and its violations, and a
    ``reflow`` violation (WCAG 1.4.10) when the page is wider than the window;
    :meth:`assert_no_violations` ends a walk: it prints ``axe: N screens checked, M violations``
    and fails with one line per violation (rule, impact, screen, target selectors).
    """

    TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa")

    def __init__(self) -> None:
        self.screens: list[str] = []
        self.violations: list[str] = []

    def check(self, page: Any, name: str) -> None:
        """Run axe-core on ``page`` as it is now, recorded under ``name``."""
        from axe_playwright_python.base import AXE_SCRIPT

        if not page.evaluate("typeof window.axe === 'object'"):
            page.evaluate(AXE_SCRIPT)
        results = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
            " resultTypes: ['violations']})",
            list(self.TAGS),
        )
        label = page.evaluate(
            "() => (document.querySelector('.screen-id') || {}).textContent"
            " || (document.querySelector('main h1') || {}).textContent || document.title"
        )
        where = f"{name} [{' '.join(str(label).split())}] {page.url}"
        self.screens.append(where)
        self.check_reflow(page, where)
        for violation in results["violations"]:
            targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"])
            self.violations.append(
                f"{violation['id']} ({violation['impact']}) on {where}: {targets}"
                f" — {violation['help']}"
            )

    def check_reflow(self, page: Any, where: str) -> None:
        """WCAG 1.4.10 Reflow, which axe-core cannot judge: the page never scrolls sideways (wide
        tables scroll inside their own keyboard-reachable region)."""
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if widths[0] > widths[1]:
            self.violations.append(
                f"reflow (serious) on {where}: the page is {widths[0]} px wide in a"
                f" {widths[1]} px window — content must fit without horizontal scrolling;"
                f" beyond the window: {page.evaluate(BEYOND_THE_WINDOW)}"
            )

    def check_zoomed(self, page: Any, name: str) -> None:
        """The page as a browser zoomed to 400 % shows it in a 1280 px window (WCAG 1.4.10's
        320 CSS px; 200 % zoom, 640 px, lies between it and the desktop): nothing lost sideways."""
        own = page.viewport_size
        page.set_viewport_size(ZOOMED)
        try:
            self.check_reflow(page, f"{name} at {ZOOMED['width']} px (zoomed) {page.url}")
        finally:
            page.set_viewport_size(own)

    @property
    def summary(self) -> str:
        return f"axe: {len(self.screens)} screens checked, {len(self.violations)} violations"

    def assert_no_violations(self) -> None:
        """Print the summary; fail, listing them, if any screen had a violation."""
        print(f"\n{self.summary}")
        assert not self.violations, "\n".join([self.summary, *self.violations])


def axe_violations_are_seen(context: Any) -> None:
    """The checker works: a page with an unlabelled field, an image without text and pale text
    gives those violations, and a page wider than the window a reflow one."""
    page = context.new_page()
    page.set_content(
        '<!DOCTYPE html><html lang="ja"><title>probe</title><main><h1>probe</h1>'
        '<p style="color:#bbb">pale</p><input type="text"><img src="data:,">'
        '<div style="width:4000px">wide</div></main></html>'
    )
    probe = Accessibility()
    probe.check(page, "probe")
    found = {item.split(" ", 1)[0] for item in probe.violations}
    assert {"color-contrast", "image-alt", "label", "reflow"} <= found, probe.violations
    page.close()


#: The widths every customer screen is photographed at (#15): a desktop window, a phone held upright.
WIDTHS = {"desktop": VIEWPORT, "phone": PHONE["viewport"]}
#: A 1280×1024 window zoomed to 400 % (WCAG 1.4.10 Reflow): checked, not photographed.
ZOOMED = {"width": 320, "height": 256}
#: What the browser of each language sends as Accept-Language (Playwright's ``locale``).
BROWSER_LOCALES = {"ja": "ja-JP", "en": "en-GB"}


class Language:
    """The language a walk runs in (SPEC 8): ``ja`` or ``en``; calling it gives what a screen shows.

    ``t("登録件数：%(count)s件", count=2)`` is the catalogue's translation of that msgid
    (core/locale/<code>/LC_MESSAGES/cjs.mo, the one the app reads), its ``${name}`` (Python) or
    ``%(name)s`` (templates) placeholders filled in; in Japanese, the msgid itself. A msgid the
    catalogue lacks comes back unchanged, as the app shows it: :meth:`Screens.finish` then finds
    its Japanese on the English screen. :meth:`pattern` matches it whatever its placeholders hold.
    """

    def __init__(self, code: str) -> None:
        assert code in BROWSER_LOCALES, code
        self.code = code
        self.locale = BROWSER_LOCALES[code]
        if code == "ja":
            self.catalogue: gettext.NullTranslations = gettext.NullTranslations()
        else:
            self.catalogue = gettext.translation("cjs", LOCALE_DIR, languages=[code])

    def __repr__(self) -> str:
        return f"Language({self.code!r})"

    def pattern(self, msgid: str) -> re.Pattern[str]:
        """What a screen shows for ``msgid`` whatever its placeholders hold."""
        text = self.catalogue.gettext(msgid)
        parts = re.split(r"\$\{\w+\}|%\(\w+\)s", text)
        return re.compile(".+?".join(map(re.escape, parts)))

    def __call__(self, msgid: str, **values: Any) -> str:
        text = self.catalogue.gettext(msgid)
        text = PYTHON_PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), text)
        return text % values if values and "%(" in text else text


JAPANESE_LANGUAGE = Language("ja")
PYTHON_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
#: Japanese script: kana, kanji, CJK punctuation (、。「」 and the ideographic space), full-width
#: forms (（）：～) and the reference mark ※ (as tests/unit/test_translations.py reads it).
JAPANESE_TEXT = re.compile(
    r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u203b]+"
)
#: Every text of the page a reader meets: the title, the body's text (hidden parts too: a closed
#: submenu, the software keyboard) and the names and hints in attributes; not what is marked
#: ``lang="ja"`` (the language switch's 日本語), nor the elements ``selectors`` name as data.
PAGE_TEXTS = """selectors => {
  const skipped = el => (el.closest('[lang]')?.getAttribute('lang') || '').startsWith('ja')
    || (selectors && el.closest(selectors) !== null);
  const texts = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (parent && !skipped(parent) && !parent.closest('script, style, template')) {
      texts.push(node.data);
    }
  }
  for (const el of document.body.querySelectorAll('[aria-label], [title], [alt], [placeholder], input')) {
    if (skipped(el)) continue;
    for (const name of ['aria-label', 'title', 'alt', 'placeholder']) texts.push(el.getAttribute(name) || '');
    if (el.matches('input[type=submit], input[type=button], input[type=reset]')) texts.push(el.value);
  }
  return texts;
}"""


def japanese_on(page: Any, data: Iterable[str] = (), data_selectors: str = "") -> list[str]:
    """The Japanese a page shows once ``data`` (names of people, companies, groups…) and the
    elements of ``data_selectors`` (lists of data) are taken out: each run with a few characters
    around it."""
    text = "\n".join(page.evaluate(PAGE_TEXTS, data_selectors or None))
    for item in sorted(data, key=len, reverse=True):
        text = text.replace(item, " ")
    unexpected: list[str] = []
    for match in JAPANESE_TEXT.finditer(text):
        around = " ".join(text[max(0, match.start() - 12) : match.end() + 12].split())
        if around not in unexpected:
            unexpected.append(around)
    return unexpected


class Screens:
    """Every screen a walk photographs, in ``var/screens/<language>/<width>/<prefix>NN-name.png``,
    at each of ``widths`` (the walk's own window first, then the others by resizing it, then back);
    with ``save=False`` (a walk whose screens another run photographs already, e.g. behind nginx)
    nothing is written and only the walk's own window is checked.

    Each screen is checked by axe-core at each width (``.accessibility``). On an English walk each
    screen must show no Japanese but ``data``, the elements of ``data_selectors`` and what is marked
    ``lang="ja"`` (:func:`japanese_on`). :meth:`finish` ends every walk with both verdicts.

    Starting a run removes the previous run's ``<prefix>NN-*.png`` only, so the walks of several
    tests (each with its own prefix) share the folders.
    """

    def __init__(
        self,
        prefix: str = "",
        language: Language = JAPANESE_LANGUAGE,
        *,
        widths: Iterable[str] = tuple(WIDTHS),
        save: bool = True,
        data: Iterable[str] = (),
        data_selectors: str = "",
    ) -> None:
        self.prefix = prefix
        self.language = language
        self.widths = tuple(widths)
        self.save = save
        self.data = tuple(data)
        self.data_selectors = data_selectors
        self.folders = {width: SCREENS / language.code / width for width in self.widths}
        if save:
            for folder in self.folders.values():
                folder.mkdir(parents=True, exist_ok=True)
                for old in folder.glob(f"{prefix}[0-9][0-9]-*.png"):
                    old.unlink()
        self.names: list[str] = []
        #: The files written, by width then screen name (``paths["desktop"]["top"]``).
        self.paths: dict[str, dict[str, Path]] = {width: {} for width in self.widths}
        self.accessibility = Accessibility()
        #: The Japanese read on each English screen, by screen name.
        self.readings: dict[str, list[str]] = {}
        #: The time spent photographing and checking the screens.
        self.seconds = 0.0

    @property
    def count(self) -> int:
        return len(self.names)

    def __str__(self) -> str:
        return f"{self.count} screens ({self.seconds:.1f} s photographing and checking them)"

    def __call__(self, page: Any, name: str, widths: Iterable[str] | None = None) -> None:
        """Photograph and check the page as it is now, at the walk's widths or at ``widths``
        (e.g. a printed screen: a desktop's only)."""
        assert name not in self.names, f"screenshot {name!r} taken twice"
        self.names.append(name)
        started = time.monotonic()
        chosen = tuple(widths or self.widths)
        own = page.viewport_size
        here = next((w for w, size in WIDTHS.items() if size["width"] == own["width"]), "window")
        if not self.save:
            order = [here]  # the walk's own window, nothing written
        else:
            order = [here] if here in chosen else []
            order += [width for width in chosen if width != here]
        for width in order:
            if width != here:
                page.set_viewport_size(WIDTHS[width])
            if self.save:
                path = self.folders[width] / f"{self.prefix}{self.count:02d}-{name}.png"
                page.screenshot(path=str(path), full_page=True)
                self.paths[width][name] = path
            self.accessibility.check(page, name if order == [here] else f"{name} ({width})")
        if page.viewport_size != own:
            page.set_viewport_size(own)
        if self.save:
            self.accessibility.check_zoomed(page, name)
        if self.language.code != "ja":
            self.readings[name] = japanese_on(page, self.data, self.data_selectors)
        self.seconds += time.monotonic() - started

    def finish(self) -> None:
        """End the walk: no axe-core violation (:meth:`Accessibility.assert_no_violations`); on
        an English walk, no Japanese on any screen but the customers' data."""
        self.accessibility.assert_no_violations()
        if self.language.code == "ja":
            return
        unexpected = {name: runs for name, runs in self.readings.items() if runs}
        print(
            f"{self.language.code}: {len(self.readings)} screens read, {len(unexpected)} with"
            " Japanese"
        )
        assert not unexpected, "Japanese on English screens:\n" + "\n".join(
            f"{name}: {' | '.join(runs[:12])}{' …' if len(runs) > 12 else ''}"
            for name, runs in unexpected.items()
        )


def export_doc_images(paths: Mapping[str, Path], names: Mapping[str, str]) -> None:
    """Copy the screenshots ``names`` maps (screenshot name → file name) to docs/images, as
    64-colour PNGs when Pillow is there."""
    DOC_IMAGES_DIR.mkdir(parents=True, exist_ok=True)
    try:
        from PIL import Image
    except ImportError:
        for name, filename in names.items():
            shutil.copyfile(paths[name], DOC_IMAGES_DIR / filename)
        return
    for name, filename in names.items():
        with Image.open(paths[name]) as image:
            small = image.convert("RGB").quantize(colors=64, dither=Image.Dither.NONE)
            small.save(DOC_IMAGES_DIR / filename, optimize=True)


# --- What a page shows ---------------------------------------------------------------------------


def screen(page: Any, screen_id: str) -> None:
    """The page is the screen ``screen_id`` (shown at the top left)."""
    from playwright.sync_api import expect

    expect(page.locator(".screen-id")).to_have_text(screen_id)


def heading(page: Any, text: str) -> None:
    """The page's title (``main h1``) is ``text``."""
    from playwright.sync_api import expect

    expect(page.locator("main h1")).to_have_text(text)


def certificate_came_through_tls(deployment: Any, path: str = "/info") -> None:
    """The requests for ``path`` reached the application with the certificate verified by the TLS
    server itself (cheroot's SSL_CLIENT_VERIFY) or by nginx (X-SSL-Client-Verify, from the trusted
    proxy)."""
    key = "SSL_CLIENT_VERIFY" if deployment.mode == "direct" else "HTTP_X_SSL_CLIENT_VERIFY"
    seen = [r for r in deployment.requests if r.path == path]
    assert seen, f"no request for {path} reached the application"
    assert all(r.headers.get(key) == "SUCCESS" for r in seen), seen


# --- Walks ---------------------------------------------------------------------------------------


def issue_in_browser(
    page: Any, deployment: Any, user_id: str, password: str, email: str, folder: Path
) -> Path:
    """FLOW-2 from DC586101 (on ``page``): user ID and password, the code from the mail the SMTP
    server received, 発行; the ``.p12`` the result screen downloads by itself, saved in ``folder``."""
    from playwright.sync_api import expect

    screen(page, "DC586101")
    page.locator("[name=user_id]").fill(user_id)
    page.locator("[name=password]").fill(password)
    page.get_by_role("button", name="認証").click()
    heading(page, "認証コード入力")
    page.locator("[name=code]").fill(deployment.read_code(email))
    page.get_by_role("button", name="認証").click()
    heading(page, "電子証明書発行")
    with page.expect_download(timeout=15_000) as download_info:
        page.get_by_role("button", name="発行").click()
        page.wait_for_url("**/cert/result")
        expect(page.locator("main")).to_contain_text("電子証明書を発行しました。")
    download = download_info.value
    assert download.failure() is None
    path = folder / download.suggested_filename
    download.save_as(path)
    return path
