"""Settings: one declared table of every ``cjs.*`` setting, validated once at start.

A missing or malformed setting stops the start with :class:`ConfigurationError`, whose message is one
line naming the setting (Kinto's way). Secrets are never read from the ini file in production: their
value is ``env:NAME`` (an environment variable) or ``file:/path`` (a file, e.g. a mounted secret).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.i18n import _

#: The service's name as the bank's manuals write it (「ろうきん賃金控除事務支援サービス」): the mails
#: and the paper forms use it. The page header shows the system's name instead (``cjs.system_name``,
#: 「…システム」 as on the manuals' screens).
SERVICE_NAME = _("ろうきん賃金控除事務支援サービス")


class ConfigurationError(Exception):
    """A setting is missing or malformed; the message is one line naming it."""


# The parsers below are part of the plugin API: a module's own settings use them too.


def boolean(value: str) -> bool:
    """``true``/``yes``/``on``/``1`` or ``false``/``no``/``off``/``0``."""
    lowered = value.strip().lower()
    if lowered in {"true", "yes", "on", "1"}:
        return True
    if lowered in {"false", "no", "off", "0"}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _int(value: str) -> int:
    return int(value.strip())


def positive_int(value: str) -> int:
    """A whole number above zero."""
    number = int(value.strip())
    if number <= 0:
        raise ValueError(f"expected a positive whole number, got {value!r}")
    return number


def words(value: str) -> tuple[str, ...]:
    """Words separated by blanks."""
    return tuple(value.split())


def choice(*choices: str) -> Callable[[str], str]:
    """A parser accepting one of ``choices``."""

    def parse(value: str) -> str:
        value = value.strip()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    return parse


def public_url(value: str) -> str:
    """An ``https://host[:port]/`` (or ``http://``) base URL, normalised: lower-case host, a port
    only when it is not the scheme's default, and the path ``/`` (the service is served at the root).
    """
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"expected http(s)://host[:port]/, got {value!r}")
    if parts.path not in {"", "/"} or parts.query or parts.fragment or parts.username:
        raise ValueError(f"expected a base URL with no path, query or user, got {value!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"expected a port number, got {value!r}") from None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default_port = 443 if parts.scheme == "https" else 80
    netloc = host if port in {None, default_port} else f"{host}:{port}"
    return f"{parts.scheme}://{netloc}/"


def listen_address(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:port`` for IPv6) where a server listens."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, got {value!r}")
    return host.strip("[]"), int(port)


def _path(value: str) -> Path:
    return Path(value.strip())


_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _hours(value: str) -> tuple[dt.time, dt.time]:
    """Parse ``HH:MM-HH:MM`` (Japan time)."""
    start, sep, end = value.strip().partition("-")
    if not sep or not _HHMM.match(start) or not _HHMM.match(end) or start >= end:
        raise ValueError(f"expected HH:MM-HH:MM with start before end, got {value!r}")
    return dt.time.fromisoformat(start), dt.time.fromisoformat(end)


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekdays(value: str) -> frozenset[int]:
    days = value.split()
    unknown = [d for d in days if d not in _WEEKDAYS]
    if unknown:
        raise ValueError(f"unknown weekday {unknown[0]!r} (use {' '.join(_WEEKDAYS)})")
    return frozenset(_WEEKDAYS.index(d) for d in days)


_MMDD = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


def _month_days(value: str) -> frozenset[tuple[int, int]]:
    """Parse closed days of every year, ``MM-DD`` words."""
    result = set()
    for word in value.split():
        if not _MMDD.match(word):
            raise ValueError(f"expected MM-DD words, got {word!r}")
        month, day = word.split("-")
        result.add((int(month), int(day)))
    return frozenset(result)


def _windows(value: str) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    """Parse maintenance windows: ``YYYY-MM-DDTHH:MM/YYYY-MM-DDTHH:MM`` words, Japan time."""
    windows = []
    for word in value.split():
        start, sep, end = word.partition("/")
        try:
            begin, finish = dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end)
        except ValueError:
            raise ValueError(f"expected START/END ISO date-times, got {word!r}") from None
        if not sep or begin >= finish:
            raise ValueError(f"expected START/END with start before end, got {word!r}")
        windows.append((begin, finish))
    return tuple(windows)


@dataclass(frozen=True)
class Setting:
    """One declared setting: its parser, its default (None: required) and whether it is a secret."""

    name: str
    parse: Callable[[str], Any]
    default: str | None
    doc: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "cjs.environment",
        choice("development", "production"),
        "production",
        "development allows secrets written in the ini file; production refuses them",
    ),
    Setting("sqlalchemy.url", str, None, "database URL (sqlite:///… or postgresql+psycopg://…)"),
    Setting(
        "cjs.system_name",
        str,
        _("ろうきん 賃金控除事務支援システム"),
        "name in the page header (the default has an English name; a bank's own name is shown as written)",
    ),
    Setting("cjs.ca.signer", str, "software", "name of the CA signer plugin (cjs.signers)"),
    Setting("cjs.ca.dir", _path, "var/ca", "folder of the CA certificate, key file and CRL"),
    Setting(
        "cjs.ca.issuer_name", str, "Rokin-KW CA", "common name of the CA (issuer of certificates)"
    ),
    Setting("cjs.ca.organization", str, "Rokin-KW", "organisation in the CA name"),
    Setting("cjs.ca.key_type", choice("ec-p384", "rsa-3072"), "ec-p384", "CA key algorithm"),
    Setting(
        "cjs.ca.key_passphrase", str, "", "passphrase of the software CA key file", secret=True
    ),
    Setting(
        "cjs.secrets.key_file",
        _path,
        "var/secrets.key",
        "key for data at rest (sealed outbox mails, audit pseudonyms); created in development only",
    ),
    Setting("cjs.hours.always_open", boolean, "false", "ignore service hours (demo only)"),
    Setting("cjs.hours.open_days", _weekdays, "mon tue wed thu fri", "weekdays of service"),
    Setting("cjs.hours.open_hours", _hours, "08:00-20:00", "hours of service, Japan time"),
    Setting("cjs.hours.national_holidays_closed", boolean, "true", "closed on national holidays"),
    Setting(
        "cjs.hours.closed_days",
        _month_days,
        "12-31 01-01 01-02 01-03",
        "closed every year on these MM-DD days",
    ),
    Setting("cjs.hours.maintenance", _windows, "", "maintenance windows START/END, Japan time"),
    Setting(
        "cjs.software_keyboard.shuffle",
        boolean,
        "false",
        "the software keyboard of password fields opens with its keys in random order "
        "(the customer can switch it on the keyboard itself; SPEC section 8)",
    ),
    Setting("cjs.demo", boolean, "false", "demo mode: shows the demo mailbox page"),
    Setting("cjs.demo.maildir", _path, "var/demo-mail", "where the demo SMTP server keeps mail"),
    Setting(
        "cjs.demo.staff_dir",
        _path,
        "var/demo-staff",
        "where `cjs demo` writes the demo staff's certificates (<staff ID>.p12)",
    ),
    Setting("cjs.plugins.disabled", words, "", "names of installed plugins not to load"),
    Setting("cjs.session.idle_minutes", positive_int, "60", "idle limit of a session (AUTH-6)"),
    Setting("cjs.session.absolute_hours", positive_int, "12", "absolute limit of a session"),
    Setting("cjs.proxy.trusted", words, "", "addresses or networks of the TLS proxy (nginx)"),
    Setting(
        "cjs.email.denied_domains",
        words,
        "docomo.ne.jp ezweb.ne.jp au.com softbank.ne.jp i.softbank.jp ymobile.ne.jp "
        "disney.ne.jp emnet.ne.jp willcom.com y-mobile.ne.jp pdx.ne.jp rakuten.jp",
        "mobile-carrier mail domains refused for user addresses (ACC-5)",
    ),
    Setting(
        "cjs.cert.key_type",
        choice("rsa-2048", "rsa-3072", "ec-p256"),
        "rsa-2048",
        "key type of issued client certificates (CERT-3)",
    ),
    Setting(
        "cjs.cert.allow_unused_replacement",
        boolean,
        "true",
        "a never-used certificate may be replaced by its user (CERT-8)",
    ),
    Setting("cjs.code.valid_minutes", positive_int, "30", "validity of the emailed code (AUTH-3)"),
    Setting("cjs.mail.from", str, "noreply@localhost", "sender address of the service's emails"),
    Setting("cjs.mail.smtp_host", str, "127.0.0.1", "SMTP server host"),
    Setting("cjs.mail.smtp_port", positive_int, "25", "SMTP server port"),
    Setting("cjs.mail.starttls", boolean, "false", "use STARTTLS with the SMTP server"),
    Setting("cjs.mail.smtp_user", str, "", "SMTP user name (empty: no authentication)"),
    Setting("cjs.mail.smtp_password", str, "", "SMTP password", secret=True),
    Setting(
        "cjs.mail.sender",
        choice("thread", "off"),
        "thread",
        "thread: each app process sends its outbox after commit; off: only `cjs jobs send-mail`",
    ),
    Setting("cjs.mail.poll_seconds", positive_int, "30", "how often the sender retries the outbox"),
    Setting("cjs.mail.timeout_seconds", positive_int, "30", "SMTP connection timeout"),
    Setting(
        "cjs.mail.lease_seconds",
        positive_int,
        "120",
        "how long a sender owns a claimed message (more than twice the timeout)",
    ),
    Setting(
        "cjs.crl.reload_command",
        str,
        "",
        "command run without a shell after the CRL files are written (e.g. nginx -s reload)",
    ),
    Setting("cjs.crl.next_update_hours", positive_int, "48", "nextUpdate of the CRL, in hours"),
    Setting(
        "cjs.service_url",
        public_url,
        "https://localhost:8443/",
        "the public base URL (scheme, host, port): links, redirects and mails use it, and a "
        "request whose Host header names another host is refused with 400",
    ),
    Setting(
        "cjs.staff.service_url",
        public_url,
        "https://localhost:9443/",
        "the staff application's public base URL (#14): its links and redirects use it, and a "
        "request to the staff listener whose Host header names another host is refused with 400",
    ),
    Setting(
        "cjs.staff.listen",
        listen_address,
        "127.0.0.1:9443",
        "host:port of the staff application's listener (`cjs serve --staff`), on the bank's "
        "internal network, apart from the customers' listener",
    ),
    Setting(
        "cjs.staff.session.idle_minutes",
        positive_int,
        "30",
        "idle limit of a staff session (AUTH-6 for the back office)",
    ),
    Setting(
        "cjs.staff.session.absolute_hours",
        positive_int,
        "10",
        "absolute limit of a staff session",
    ),
    Setting(
        "cjs.request.max_form_bytes",
        positive_int,
        "1048576",
        "largest request body, in bytes, of a screen that takes no file; a larger one gets 413",
    ),
    Setting(
        "cjs.request.max_upload_bytes",
        positive_int,
        "20971520",
        "largest request body, in bytes, of a screen that takes files (accepts_upload=True), "
        "and cheroot's max_request_body_size",
    ),
    Setting(
        "cjs.request.max_fields",
        positive_int,
        "1000",
        "most fields in a query string or a form body; more gets 400",
    ),
    Setting(
        "retry.attempts", positive_int, "3", "attempts of a request on a serialization failure"
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}
#: The settings of service modules: ``cjs.module.<code>.<name>``, declared by each module
#: (``cjs_settings``) and parsed by :func:`validate_module_settings`.
MODULE_PREFIX = "cjs.module."


def resolve_secret(name: str, raw: str, *, environment: str) -> str:
    """Return a secret's value from ``env:NAME`` or ``file:/path``; a literal only in development."""
    if raw.startswith("env:"):
        var = raw[4:]
        value = os.environ.get(var)
        if not value:
            raise ConfigurationError(f"{name}: environment variable {var} is not set")
        return value
    if raw.startswith("file:"):
        path = Path(raw[5:])
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"{name}: cannot read {path}: {exc.strerror}") from None
        if not value:
            raise ConfigurationError(f"{name}: {path} is empty")
        return value
    if environment != "development":
        raise ConfigurationError(
            f"{name}: a secret must come from env:NAME or file:/path, not from the ini file"
        )
    return raw


def _environment(raw: Mapping[str, Any]) -> str:
    try:
        return choice("development", "production")(str(raw.get("cjs.environment", "production")))
    except ValueError as exc:
        raise ConfigurationError(f"cjs.environment: {exc}") from None


def _parse_declared(
    raw: Mapping[str, Any], declared: Iterable[Setting], result: dict[str, Any]
) -> dict[str, Any]:
    """Parse each of ``declared`` from ``raw`` into ``result`` (a value already parsed is kept)."""
    environment = _environment(raw)
    for setting in declared:
        value = raw.get(setting.name, setting.default)
        if value is None:
            raise ConfigurationError(f"{setting.name}: missing ({setting.doc})")
        if not isinstance(value, str):
            result[setting.name] = value
            continue
        if setting.secret and value:
            value = resolve_secret(setting.name, value, environment=environment)
        try:
            result[setting.name] = setting.parse(value)
        except ValueError as exc:
            raise ConfigurationError(f"{setting.name}: {exc}") from None
    return result


def validate(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Parse every declared setting from ``raw``; return raw settings updated with parsed values.

    Unknown ``cjs.*`` names are refused too: a typo must not silently fall back to a default. The
    modules' ``cjs.module.<code>.*`` settings are left to :func:`validate_module_settings`, once the
    plugins that declare them are loaded.
    """
    unknown = sorted(
        k
        for k in raw
        if k.startswith("cjs.")
        and k not in _BY_NAME
        and not k.startswith(("cjs.pipeline.", "cjs.signer.", MODULE_PREFIX))
    )
    if unknown:
        raise ConfigurationError(f"{unknown[0]}: unknown setting")
    return _parse_declared(raw, SETTINGS, dict(raw))


def value_of(settings: Mapping[str, Any], name: str) -> Any:
    """The value of the declared setting ``name`` in ``settings`` (raw or already parsed), or its
    default: for a command that reads a few settings without validating them all."""
    setting = _BY_NAME[name]
    value = settings.get(name, setting.default)
    return setting.parse(value) if isinstance(value, str) else value


def validate_module_settings(
    settings: Mapping[str, Any], declared: Sequence[Setting]
) -> dict[str, Any]:
    """Parse the modules' ``declared`` settings from ``settings``; refuse an undeclared
    ``cjs.module.*`` name, as :func:`validate` refuses an unknown core one."""
    names = {setting.name for setting in declared}
    unknown = sorted(k for k in settings if k.startswith(MODULE_PREFIX) and k not in names)
    if unknown:
        raise ConfigurationError(f"{unknown[0]}: unknown setting")
    return _parse_declared(settings, declared, dict(settings))
