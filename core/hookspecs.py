"""The hooks through which plugins extend CJS: service modules, authentication steps, CA signers.

Every hook is ``cjs_``-prefixed and takes keyword arguments only. Built-in plugins register through the
same entry-point groups a third-party package uses: ``cjs.modules``, ``cjs.auth_backends`` and
``cjs.signers``. ``docs/hooks.md`` documents each hook; a test keeps it complete.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import datetime as dt
    from pathlib import Path

    from cryptography import x509
    from pyramid.config import Configurator
    from pyramid.request import Request
    from sqlalchemy import Table

    from core.auth.flows import Flow, StepResult
    from core.db.models import DepositGroup

PROJECT = "cjs"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: Restriction levels of ACC-7, as stored and as shown.
RESTRICTION_LEVELS = {"show": "表示", "hide": "非表示", "view_only": "閲覧のみ"}


@dataclass(frozen=True)
class ServiceModule:
    """What a service-module plugin declares about itself.

    ``code`` is the stable identifier stored in the database (module enablement, restrictions);
    ``contract_kinds`` lists the contract kinds ("member", "employer") it serves;
    ``restriction_levels`` the ACC-7 levels the master may choose from, "show" first; ``order`` places
    it in menus and lists.
    """

    code: str
    name: str
    menu_title: str
    contract_kinds: tuple[str, ...]
    restriction_levels: tuple[str, ...] = ("show", "hide")
    options: Mapping[str, str] = field(default_factory=dict)
    #: Position in menus and lists (001's order: 労金控除, 賃控元帳, 一斉積立; 財形).
    order: int = 100


@dataclass(frozen=True)
class MenuEntry:
    """One entry of a module's menu: a title and the route it leads to.

    ``changes_data`` marks entries that a 閲覧のみ user may not use (ACC-7).
    """

    title: str
    route_name: str
    changes_data: bool = False


@dataclass(frozen=True)
class InfoPanel:
    """A part of the information screen (DC671101) contributed by a module."""

    template: str
    context: Mapping[str, Any]
    order: int = 100


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
