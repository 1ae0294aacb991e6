"""The hooks through which plugins extend CJS: service modules (and their staff screens),
authentication steps, CA signers; and the declarations the hooks exchange.

Every hook is ``cjs_``-prefixed and takes keyword arguments only. Built-in plugins register through the
same entry-point groups a third-party package uses: ``cjs.modules``, ``cjs.auth_backends`` and
``cjs.signers``. ``docs/hooks.md`` documents each hook; a test keeps it complete.
"""

from __future__ import annotations

import datetime as dt
import enum
from argparse import ArgumentParser, Namespace
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, Protocol

import pluggy

from core.i18n import DEFAULT_LOCALE, pgettext, translate

if TYPE_CHECKING:
    import datetime as dt
    from pathlib import Path

    from cryptography import x509
    from pyramid.config import Configurator
    from pyramid.i18n import Localizer
    from pyramid.request import Request
    from sqlalchemy import Table
    from sqlalchemy.orm import Session

    from core.auth.flows import Flow, StepResult
    from core.db.models import DepositGroup, User
    from core.settings import Setting

PROJECT = "cjs"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: Restriction levels of ACC-7, as stored and as shown (messages: the screen's language).
RESTRICTION_LEVELS = {
    "show": pgettext("restriction level", "表示"),
    "hide": pgettext("restriction level", "非表示"),
    "view_only": pgettext("restriction level", "閲覧のみ"),
}


@dataclass(frozen=True)
class ServiceModule:
    """What a service-module plugin declares about itself.

    ``code`` is the stable identifier stored in the database (module enablement, restrictions);
    ``contract_kinds`` lists the contract kinds ("member", "employer") it serves;
    ``restriction_levels`` the ACC-7 levels the master may choose from, "show" first; ``order`` places
    it in menus and lists; ``short_name`` is the name the user screens' ユーザー別機能制限 show when
    it differs from ``name`` (001: 「賃控元帳」 there, 「賃金控除元帳」 in DC590101's 備考).
    ``name``, ``menu_title``, ``short_name`` and the labels of ``options`` are ``core.i18n._``
    messages (``name=_("一斉積立")``): the screens write them in the customer's language.
    """

    code: str
    name: str
    menu_title: str
    contract_kinds: tuple[str, ...]
    restriction_levels: tuple[str, ...] = ("show", "hide")
    options: Mapping[str, str] = field(default_factory=dict)
    #: Position in menus and lists (001's order: 労金控除, 賃控元帳, 一斉積立; 財形).
    order: int = 100
    short_name: str = ""

    @property
    def restriction_label(self) -> str:
        """The module's name on ユーザー別機能制限 (DM492101, user registration)."""
        return self.short_name or self.name


@dataclass(frozen=True)
class MenuEntry:
    """One entry of a module's menu: a title and the route it leads to.

    Whether it changes data (hidden from 閲覧のみ users, ACC-7) is not said here: it is read from the
    ``changes_data=True`` of the route's GET view, the one place it is declared.
    """

    title: str
    route_name: str


@dataclass(frozen=True)
class InfoPanel:
    """A part of the information screen (DC671101) contributed by a module.

    ``key`` names a part that several modules contribute alike (the deduction schedule of 労金控除
    and 賃控元帳): of the panels sharing a non-empty key only the first by ``order`` is shown.
    """

    template: str
    context: Mapping[str, Any]
    order: int = 100
    key: str = ""


@dataclass(frozen=True)
class Screen:
    """What heads a screen: the manuals' screen ID (may be empty), its title, its template."""

    screen_id: str
    title: str
    template: str


class AuthStep(Protocol):
    """One step of an authentication pipeline (AUTH-8), named in ``cjs.pipeline.<flow>`` settings.

    ``slug`` places the step's screen under the flow's prefix ("" for the entry screen, e.g. ``/cert``;
    "code" for ``/cert/code``); None for a step without a screen (the client certificate).
    """

    name: str
    slug: str | None

    def screen(self, flow: Flow) -> Screen:
        """The screen ID, title and template of the step's screen in ``flow``."""

    def enter(self, request: Request, flow: Flow) -> StepResult | None:
        """Prepare the step when the flow reaches it (send a code, read the certificate).

        None shows the step's screen; a result with ``ok`` completes the step without a screen;
        any other result ends or restarts the flow with its message.
        """

    def make_form(self, request: Request, flow: Flow) -> Any:
        """The WTForms form of the screen, bound to the request's POST data when there is some."""

    def check(self, request: Request, flow: Flow, form: Any) -> StepResult:
        """Check a validated form; update the flow (``flow.set``) and the counters as needed."""


@dataclass(frozen=True)
class ModuleSchema:
    """A plugin's tables and the Alembic revisions that create them.

    ``tables`` are declared on ``core.db.models.Base`` (one shared MetaData, so that they may refer to
    core tables and ``cjs db check`` compares them). ``versions`` is the folder of the plugin's
    revision scripts, an Alembic version location; ``branch`` is the branch label of its first
    revision, whose ``depends_on`` names the core revision it builds on.
    """

    branch: str
    versions: Path
    tables: Sequence[Table] = ()


@dataclass(frozen=True)
class MailTemplate:
    """A plain-text mail template: ``<folder>/<name>.txt`` and the context keys it needs.

    The file is Jinja2 (StrictUndefined): a first line ``Subject: …``, a blank line, the body;
    ``service_name`` and ``service_url`` are added to the context. ``name`` is also the outbox
    ``kind``: unique among the core's templates and every plugin's.
    """

    name: str
    context_keys: frozenset[str]
    folder: Path


@dataclass(frozen=True)
class JobContext:
    """What a daily job is given: a session factory (the job commits its own transactions), the
    validated settings (a module's own ``cjs.module.<code>.*`` included) and the time of the run."""

    session_factory: Callable[[], Session]
    settings: Mapping[str, Any]
    now: dt.datetime


@dataclass(frozen=True)
class DailyJob:
    """A module's part of ``cjs jobs daily``: ``run`` returns a count, printed as ``<name>: <count>``.

    Running it twice, or twice at once, must do nothing twice (as the core's notices).
    """

    name: str
    run: Callable[[JobContext], int]


@dataclass(frozen=True)
class Command:
    """A ``cjs`` subcommand: ``add_arguments`` fills its parser, ``run`` gets the parsed arguments and
    the validated settings and returns the exit status."""

    name: str
    help: str
    add_arguments: Callable[[ArgumentParser], None]
    run: Callable[[Namespace, Mapping[str, Any]], int]


@dataclass(frozen=True)
class RowError:
    """Why one row of a bank data file was refused: its line number (1 = first line), a Japanese
    message and, when one cell is at fault, its column name and value as written in the file."""

    line: int
    message: str
    column: str = ""
    value: str = ""


@dataclass(frozen=True)
class Parsed:
    """A parsed bank data file: the rows to store, or the errors of every refused row."""

    rows: Sequence[Any] = ()
    errors: Sequence[RowError] = ()


class Loader(Protocol):
    """A kind of bank data file a module accepts (``cjs bank load MODULE KIND FILE``), stored all or
    nothing.

    ``kind`` names it on the command line and in the audit log (``load.<code>.<kind>``); ``title`` is
    its name, a ``core.i18n._`` message (the 操作ログ label is データ取込（<title>）). ``store`` must be idempotent for
    the file's content: a file loaded again replaces what it loaded before (e.g. the same round),
    it never adds it twice. ``core.dataload`` reads and checks the rows.
    """

    kind: str
    title: str

    def parse(self, dbsession: Session, data: bytes) -> Parsed:
        """Read the whole file (checking it against the database if need be, writing nothing):
        every row, or an error for each row that cannot be stored."""

    def store(self, dbsession: Session, rows: Sequence[Any], *, now: dt.datetime) -> None:
        """Write the parsed rows in ``dbsession``, in the transaction of the parse; the core commits."""


@dataclass(frozen=True)
class OutputContext:
    """What an output is built from: the request's database session, the selected deposit group,
    the logged-in user and the time (Japan time), never the request itself; and the language of the
    request, in which a PDF writes its headings (:meth:`text`). A CSV file stays Japanese whatever
    the language: its header is the bank's file layout."""

    dbsession: Session
    deposit_group: DepositGroup
    user: User
    now: dt.datetime
    #: The query string of the download (e.g. the round a list is for), never trusted: check it.
    params: Mapping[str, str] = field(default_factory=dict)
    #: The localizer of the download's request; None: Japanese.
    localizer: Localizer | None = None

    @property
    def language(self) -> str:
        """The language of the download (``ja``, ``en``)."""
        return DEFAULT_LOCALE if self.localizer is None else str(self.localizer.locale_name)

    def text(self, message: Any) -> str:
        """``message`` (a ``core.i18n._`` message) in the language of the download."""
        return str(message) if self.localizer is None else translate(self.localizer, message)


@dataclass(frozen=True)
class CsvTable:
    """A CSV output's content: the header and the rows (cells are made safe by the core)."""

    header: Sequence[str]
    rows: Iterable[Sequence[Any]]


@dataclass(frozen=True)
class Output:
    """A PDF or CSV a module hands out through the shared engines (``core.outputs``).

    The core serves it at ``/m/<code>/output/<name>`` (route ``<code>:output:<name>``, guarded like
    every module route) as ``<title>_YYYYMMDD.<format>``. ``build`` returns the PDF as bytes
    (``core.outputs.pdf.PdfDocument(...).build()``, for short documents) or as a binary file
    positioned at its start (``core.outputs.pdfstream.list_pdf(...)``, streamed to the browser and
    closed after), or a :class:`CsvTable` (``?encoding=utf-8`` gives UTF-8 with a BOM, cp932
    otherwise; a character cp932 cannot hold is reported, never replaced). Raising
    :class:`OutputRefused` answers with its message instead (e.g. an unknown round), in the
    request's language. A PDF's title and headings are ``_()`` messages written in the language of
    the request (:meth:`OutputContext.text`; ``pdfstream.list_pdf`` does it for its lists); so is
    the name of its file. A CSV's header and name stay Japanese (the bank's file layout).
    """

    name: str
    title: str
    format: Literal["pdf", "csv"]
    build: Callable[[OutputContext], bytes | IO[bytes] | CsvTable]


class OutputRefused(Exception):
    """An output cannot be built for what was asked; the message (a ``core.i18n._`` message) is
    shown to the user in the request's language."""


@dataclass(frozen=True)
class DemoFile:
    """A bank data file of the demo (``cjs demo``), loaded through the module's loader ``kind``."""

    kind: str
    name: str
    data: bytes


class StaffPermission(enum.StrEnum):
    """Permissions of the staff application, named ``scope:resource:action``."""

    #: Any authenticated bank staff member: the home screen and the modules' read-only screens.
    USE = "staff:backoffice:use"
    #: File, change and withdraw a customer's paper request (取扱者: the operator).
    REQUEST_FILE = "staff:requests:file"
    #: Approve or reject a request another staff member filed (検印者: the approver, BANK-2..5, 8).
    REQUEST_APPROVE = "staff:requests:approve"
    #: Create and change contracts, deposit groups and the modules enabled per group (BANK-1).
    CONTRACTS_MANAGE = "staff:contracts:manage"
    #: Publish messages, schedules, manuals and forms; upload the modules' bank data (BANK-6, BANK-7).
    CONTENT_MANAGE = "staff:content:manage"
    #: Read the audit log of every contract and export it.
    AUDIT_READ = "staff:audit:read"
    #: Create staff accounts, give roles, lock and unlock them, revoke their certificates.
    STAFF_MANAGE = "staff:accounts:manage"


#: A signer factory takes the validated settings and returns an object providing ``ISigner``
#: (zope.interface, checked with verifyObject at start).
SignerFactory = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class NewCAKey:
    """A new CA key made by a signer plugin (``cjs ca init``, ``cjs ca rotate``).

    ``certificate`` is its self-signed CA certificate; ``key`` says where the key is as ``cjs ca
    show`` prints it (a file name in ``cjs.ca.dir``, a label on a token); ``key_files`` are the files
    (name in ``cjs.ca.dir`` → content) the core writes there, mode 0600, before the certificate (a
    key kept on a token has none); ``next_steps`` are what the operator must do besides.
    """

    certificate: x509.Certificate
    key: str
    key_files: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    next_steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetiredKey:
    """The key of the CA ``cjs ca rotate`` retires, as the signer plugin holding it keeps it.

    ``signer`` and ``key`` are recorded in the previous CA's file (the key as the signer finds it
    again, see ``cjs_signer_previous_ca``); ``renames`` are files of ``cjs.ca.dir`` the core renames
    (old name → new name) so that the new key can take their place; undone if the rotation fails.
    """

    signer: str
    key: str
    renames: Mapping[str, str] = field(default_factory=dict)


# -- (a) service modules -------------------------------------------------------------------------


@hookspec
def cjs_service_module() -> ServiceModule:
    """Declare the service module this plugin provides.

    Called once at start for every plugin; each module plugin returns its :class:`ServiceModule`.
    Codes must be unique. Not firstresult: the core collects one declaration per plugin.
    """


@hookspec
def cjs_module_routes(config: Configurator, module: ServiceModule) -> None:
    """Add the module's routes and views.

    Called once at start, for each module plugin alone, with the route prefix ``/m/<code>`` in effect.
    Every route name must begin with ``<code>:`` so that the core can refuse it for deposit groups
    where the module is not enabled. Returns nothing.
    """


@hookspec
def cjs_menu_entries(
    request: Request, deposit_group: DepositGroup, module: ServiceModule
) -> Sequence[MenuEntry]:
    """Return the menu entries of the module for the selected deposit group.

    Called on each request that draws the menu bar, only for the plugins whose module is enabled for
    ``deposit_group`` (a subset hook caller). Not firstresult: one list per module.
    """


@hookspec
def cjs_info_panels(
    request: Request, deposit_group: DepositGroup, module: ServiceModule
) -> Sequence[InfoPanel]:
    """Return the module's parts of the information screen (DC671101).

    Called when the information screen is drawn, only for modules enabled for ``deposit_group``.
    Not firstresult: the core sorts every module's panels by ``order``.
    """


@hookspec
def cjs_schema() -> ModuleSchema:
    """Declare the plugin's tables and the folder of its Alembic revisions (its own branch).

    Called whenever migrations are run or checked (``cjs db upgrade`` goes to every branch's head,
    ``cjs db check`` compares every plugin's tables). Not firstresult: one schema per plugin.
    """


@hookspec
def cjs_settings() -> Sequence[Setting]:
    """Declare the module's settings, each named ``cjs.module.<code>.<name>``.

    Called once at start for each module plugin alone. The core parses them like its own (the same
    :class:`core.settings.Setting`; a bad value stops the start with one line naming it) and refuses
    any ``cjs.module.*`` name no module declared. Not firstresult.
    """


@hookspec
def cjs_mail_templates() -> Sequence[MailTemplate]:
    """Declare the module's mail templates, each named ``<code>_<name>``, with their context keys.

    Called once at start for each module plugin alone; a missing file or a name declared twice stops
    the start. The module writes a mail with ``core.mail.enqueue(..., template=<its MailTemplate>)``.
    Not firstresult.
    """


@hookspec
def cjs_action_labels() -> Mapping[str, str]:
    """Return the 操作ログ label of each audit action the module records (``<code>.…``): a
    ``core.i18n._`` message, so that 操作ログ照会 shows it in the customer's language.

    Called once at start for each module plugin alone; 操作ログ照会 shows these labels beside the
    core's. Not firstresult.
    """


@hookspec
def cjs_daily_jobs() -> Sequence[DailyJob]:
    """Return the module's parts of ``cjs jobs daily``, run after the core's, each with its count.

    Called at every run of the daily job for each module plugin alone. Job names are unique. Not
    firstresult.
    """


@hookspec
def cjs_cli_commands() -> Sequence[Command]:
    """Return the module's ``cjs`` subcommands.

    Called when ``cjs`` starts, for each module plugin alone (plugins of ``cjs.plugins.disabled`` in
    the ``-c`` file are not asked). A name taken by the core or another module stops the start. Not
    firstresult.
    """


@hookspec
def cjs_loaders() -> Sequence[Loader]:
    """Return the kinds of bank data file the module accepts (``cjs bank load MODULE KIND FILE``).

    Called once at start for each module plugin alone; kinds are unique within the module. The core
    parses a whole file before it stores any of it, and stores it in one transaction with an audit
    event ``load.<code>.<kind>``; a file already loaded (same bytes) is not loaded again. Not
    firstresult.
    """


@hookspec
def cjs_outputs(module: ServiceModule) -> Sequence[Output]:
    """Return the module's PDF and CSV outputs, served by the core at ``/m/<code>/output/<name>``.

    Called once at start for each module plugin alone, while its routes are added. The core's view
    builds each from an :class:`OutputContext` and answers with the shared engines' headers. Not
    firstresult.
    """


@hookspec
def cjs_demo_files(dbsession: Session, now: dt.datetime) -> Sequence[DemoFile]:
    """Return the bank data files of the demo, generated for the demo contracts in ``dbsession``.

    Called by ``cjs demo`` (``make demo``) for each module plugin alone, after the demo bank file is
    applied; each file is loaded through the module's loader of its ``kind`` like ``cjs bank load``,
    so running the demo again changes nothing. Not firstresult.
    """


@hookspec
def cjs_module_enabled(
    dbsession: Session,
    deposit_group: DepositGroup,
    module: ServiceModule,
    options: Mapping[str, Any],
) -> None:
    """The bank enabled ``module`` for ``deposit_group`` (``cjs bank apply``).

    Called for the module's plugin alone, in the transaction that enables it (an error aborts the
    whole file). Returns nothing.
    """


@hookspec
def cjs_module_disabled(
    dbsession: Session, deposit_group: DepositGroup, module: ServiceModule
) -> None:
    """The bank disabled ``module`` for ``deposit_group`` (``cjs bank apply``).

    Called for the module's plugin alone, in the transaction that disables it; the module's data
    stays (the bank may enable it again). Returns nothing.
    """


# -- (a) service modules: their staff screens ---------------------------------------------------


@hookspec
def cjs_staff_routes(config: Configurator, module: ServiceModule) -> None:
    """Add the module's staff screens to the staff application.

    Called once when the staff app is built, for each module plugin alone, with the route prefix
    ``/staff/m/<code>`` in effect. Route names begin with ``<code>:``; views declare a
    :class:`StaffPermission` (``USE`` to read) and may join the console's menu with
    ``config.add_staff_menu_entry``. No service hours and no module enablement apply there.
    Returns nothing.
    """


# -- (b) authentication backends -----------------------------------------------------------------


@hookspec
def cjs_auth_steps() -> Sequence[AuthStep]:
    """Return the authentication steps this plugin provides.

    Called once at start. The core indexes the steps by ``name`` and builds each flow's pipeline from
    the ``cjs.pipeline.<flow>`` setting; an unknown or duplicate name stops the start.
    """


# -- (c) CA signers ------------------------------------------------------------------------------


@hookspec
def cjs_signer_factories() -> Mapping[str, SignerFactory]:
    """Return the CA signers this plugin provides, by name, each a factory taking the settings.

    Called once at start. ``cjs.ca.signer`` names the one to use; the factory returns an object
    providing :class:`hsm.interfaces.ISigner` or raises ``ConfigurationError`` with one line.
    """


@hookspec(firstresult=True)
def cjs_signer_has_ca_key(
    signer: str, settings: Mapping[str, Any], ca_certificate: x509.Certificate
) -> bool | None:
    """Say whether signer ``signer`` holds the key of the existing CA certificate (``cjs ca init``).

    Answered by the plugin providing ``signer``; the others return None. True keeps the CA as it
    is, False makes a new one (``cjs_signer_new_ca_key``); a key that is there but cannot be used
    raises ``ConfigurationError`` with one line.
    """


@hookspec(firstresult=True)
def cjs_signer_new_ca_key(
    signer: str,
    settings: Mapping[str, Any],
    key_label: str | None,
    replacing: x509.Certificate | None,
    replacing_key: RetiredKey | None,
    now: dt.datetime,
) -> NewCAKey | None:
    """Make a new CA key for signer ``signer`` and its self-signed CA certificate.

    Called by ``cjs ca init`` (``replacing`` None) and ``cjs ca rotate`` (``replacing`` the current
    CA certificate, ``replacing_key`` how its key is kept, ``key_label`` the operator's name for the
    new key, or None). Answered by the plugin providing ``signer``; the others return None. The
    certificate comes from ``core.pki.x509.build_ca_certificate``. Writes nothing in ``cjs.ca.dir``
    (the core writes ``key_files`` and the certificate); a key on a token is made there at once.
    """


@hookspec(firstresult=True)
def cjs_signer_retire_ca_key(
    settings: Mapping[str, Any], ca_certificate: x509.Certificate, stamp: str
) -> RetiredKey | None:
    """Say how the key of the CA ``cjs ca rotate`` retires is kept, when this plugin holds it.

    Called once per rotation for every signer plugin until one answers (whatever ``cjs.ca.signer``
    names: a rotation may move the CA to another signer); ``stamp`` is the rotation's UTC stamp, for
    names of files kept. None: not this plugin's key.
    """


@hookspec(firstresult=True)
def cjs_signer_previous_ca(
    signer: str,
    key: str,
    settings: Mapping[str, Any],
    ca_certificate: x509.Certificate,
    path: Path,
) -> Any:
    """Return a signer (``ISigner``) for a previous CA whose key ``signer`` recorded as ``key``.

    ``path`` is the previous CA's certificate file. Answered by the plugin providing ``signer`` with
    what ``cjs_signer_retire_ca_key`` recorded; the others return None, and so does it when the key
    is gone. Such a signer can still sign the previous CA's CRLs during the cross-over.
    """
