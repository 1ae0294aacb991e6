"""The plugin manager and what the module plugins contribute, collected and checked once at start.

The plugin manager is one per application, kept on the Pyramid registry (never module-global).
Plugins come from the entry-point groups ``cjs.modules``, ``cjs.auth_backends`` and ``cjs.signers``
(built-ins are declared there too, in pyproject.toml) and, for tests, from objects passed to the app
factory.

:class:`ModuleRegistry` asks each module plugin alone for its contributions (docs/hooks.md) and
refuses, with one line, what would clash or escape its namespace: settings outside
``cjs.module.<code>.``, action labels outside ``<code>.``, mail templates not named ``<code>_…``,
routes not named ``<code>:…``, and a job, command, loader, template file or branch declared twice.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy
from pyramid.interfaces import IRoutesMapper

from core import hookspecs
from core.hookspecs import (
    Command,
    DailyJob,
    DemoFile,
    InfoPanel,
    Loader,
    MailTemplate,
    MenuEntry,
    Output,
    ServiceModule,
)
from core.i18n import _
from core.settings import ConfigurationError, Setting, validate, validate_module_settings

if TYPE_CHECKING:
    import datetime as dt

    from pyramid.config import Configurator
    from pyramid.registry import Registry
    from pyramid.request import Request
    from sqlalchemy.orm import Session

    from core.db.models import DepositGroup

ENTRY_POINT_GROUPS = ("cjs.modules", "cjs.auth_backends", "cjs.signers")
T = TypeVar("T")


def make_plugin_manager(
    extra_plugins: Iterable[object] = (), disabled: Sequence[str] = ()
) -> pluggy.PluginManager:
    """Create a plugin manager with every installed plugin and ``extra_plugins`` registered."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in disabled:
        pm.set_blocked(name)
    for group in ENTRY_POINT_GROUPS:
        pm.load_setuptools_entrypoints(group)
    for plugin in extra_plugins:
        pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigurationError(f"plugin {exc.plugin!r}: {exc}") from None
    return pm


def listed(items: Sequence[str]) -> str:
    """``items`` (messages or data) joined as a list of the screen's language: 「A・B・C」, in
    English "A, B, C" (a message of messages, each translated when the list is written)."""
    if len(items) <= 1:
        return items[0] if items else ""
    return _("${first}・${rest}", first=items[0], rest=listed(items[1:]))


@dataclass(frozen=True)
class MenuLink:
    """A module menu entry as drawn: ``changes_data`` comes from the view of its route, never from
    the entry (ACC-7: 閲覧のみ users do not see it)."""

    title: str
    route_name: str
    changes_data: bool


def _package_folder(plugin: object, name: str) -> tuple[str, Path] | None:
    """The package a plugin lives in and its folder ``name`` (e.g. templates), if it has one."""
    module = plugin if isinstance(plugin, ModuleType) else sys.modules.get(type(plugin).__module__)
    if module is None:
        return None
    package = module.__name__ if hasattr(module, "__path__") else (module.__package__ or "")
    if not package:
        return None
    folder = Path(sys.modules[package].__path__[0]) / name
    return (package, folder) if folder.is_dir() else None


#: The "module" of the bank data files the core loads itself (``cjs bank load core messages FILE``).
CORE_LOADERS = "core"


def load_action(code: str, kind: str) -> str:
    """The audit action of a bank data file of module ``code`` and ``kind`` loaded: ``load.<kind>``
    for the core's files, ``load.<code>.<kind>`` for a module's."""
    return f"load.{kind}" if code == CORE_LOADERS else f"load.{code}.{kind}"


class ModuleRegistry:
    """The service modules declared by plugins, by code, with the plugin behind each, and what
    each contributes: settings, mail templates, action labels, jobs, commands, loaders, outputs."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._pm = pm
        self.modules: dict[str, ServiceModule] = {}
        self._plugins: dict[str, object] = {}
        for plugin in pm.get_plugins():
            impl = getattr(plugin, "cjs_service_module", None)
            if impl is None:
                continue
            module = impl()
            if module.code in self.modules:
                raise ConfigurationError(f"service module {module.code!r}: declared twice")
            self.modules[module.code] = module
            self._plugins[module.code] = plugin
        self.modules = dict(sorted(self.modules.items(), key=lambda i: (i[1].order, i[0])))
        self._changes_data: dict[str, bool] = {}
        self.settings: list[Setting] = []
        self.mail_templates: dict[str, MailTemplate] = {}
        self.action_labels: dict[str, str] = {}
        for code in self.modules:
            self.settings += self._named(
                code, "cjs_settings", "setting", lambda s: s.name, f"cjs.module.{code}."
            )
            for template in self._named(
                code, "cjs_mail_templates", "mail template", lambda t: t.name, f"{code}_"
            ):
                if not (template.folder / f"{template.name}.txt").is_file():
                    raise ConfigurationError(
                        f"mail template {template.name!r}: {template.folder}/{template.name}.txt "
                        "not found"
                    )
                self.mail_templates[template.name] = template
            for labels in self._answers(code, "cjs_action_labels"):
                for action, label in labels.items():
                    if not action.startswith(f"{code}."):
                        raise ConfigurationError(
                            f"service module {code!r}: action label {action!r} must begin '{code}.'"
                        )
                    self.action_labels[action] = label
        self.daily_jobs: dict[str, DailyJob] = self._unique(
            "daily job", "cjs_daily_jobs", lambda j: j.name
        )
        self.commands: dict[str, Command] = self._unique(
            "command", "cjs_cli_commands", lambda c: c.name
        )
        #: Loaders by (module code, kind): ``cjs bank load MODULE KIND FILE``.
        self.loaders: dict[tuple[str, str], Loader] = {}
        for code in self.modules:
            for answer in self._answers(code, "cjs_loaders"):
                for loader in answer:
                    if (code, loader.kind) in self.loaders:
                        raise ConfigurationError(f"loader {code} {loader.kind!r}: declared twice")
                    self.loaders[code, loader.kind] = loader
                    self.action_labels[load_action(code, loader.kind)] = _(
                        "データ取込（${title}）", title=loader.title
                    )
        self.template_folders = self._template_folders()

    # -- collecting ----------------------------------------------------------------------------

    def _caller_for(self, hook_name: str, codes: set[str]) -> Any:
        keep = {id(self._plugins[c]) for c in codes if c in self._plugins}
        remove = [p for p in self._pm.get_plugins() if id(p) not in keep]
        return self._pm.subset_hook_caller(hook_name, remove_plugins=remove)

    def _answers(self, code: str, hook_name: str, **kwargs: Any) -> list[Any]:
        """The answers of module ``code``'s plugin alone to ``hook_name``."""
        return list(self._caller_for(hook_name, {code})(**kwargs))

    def _named(
        self, code: str, hook_name: str, what: str, name: Callable[[Any], str], prefix: str
    ) -> list[Any]:
        items = [item for answer in self._answers(code, hook_name) for item in answer]
        for item in items:
            if not name(item).startswith(prefix):
                raise ConfigurationError(f"{what} {name(item)!r}: must begin '{prefix}'")
        return items

    def _unique(self, what: str, hook_name: str, name: Callable[[T], str]) -> dict[str, T]:
        result: dict[str, T] = {}
        for code in self.modules:
            for item in (item for answer in self._answers(code, hook_name) for item in answer):
                if name(item) in result:
                    raise ConfigurationError(f"{what} {name(item)!r}: declared twice")
                result[name(item)] = item
        return result

    def _template_folders(self) -> dict[str, str]:
        """Each module's ``templates`` folder as an asset spec, by code; a file in two refuses."""
        folders: dict[str, str] = {}
        owner: dict[str, str] = {}
        for code, plugin in self._plugins.items():
            found = _package_folder(plugin, "templates")
            if found is None:
                continue
            package, folder = found
            for path in sorted(folder.rglob("*.html")):
                name = path.relative_to(folder).as_posix()
                if name in owner:
                    raise ConfigurationError(
                        f"template {name!r}: in the folders of {owner[name]!r} and {code!r}"
                    )
                owner[name] = code
            folders[code] = f"{package}:templates"
        return folders

    def validate_settings(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``settings`` with the modules' settings parsed; an unknown ``cjs.module.*`` is refused."""
        return validate_module_settings(settings, self.settings)

    # -- routes --------------------------------------------------------------------------------

    def add_routes(self, config: Configurator, code: str) -> None:
        """Let module ``code`` add its routes (the caller sets the prefix ``/m/<code>``)."""
        self._caller_for("cjs_module_routes", {code})(config=config, module=self.modules[code])

    def configure_staff_routes(self, config: Configurator) -> None:
        """Let each module add its staff screens under ``/staff/m/<code>`` (staff app only)."""
        for code, module in self.modules.items():
            with config.route_prefix_context(f"/staff/m/{code}"):
                self._caller_for("cjs_staff_routes", {code})(config=config, module=module)
        self.check_route_names(config, "/staff/m/")

    def check_route_names(self, config: Configurator, prefix: str) -> None:
        """Refuse a route under ``<prefix><code>/`` not named ``<code>:…`` (commits ``config``)."""
        config.commit()
        mapper = config.registry.getUtility(IRoutesMapper)
        for route in mapper.get_routes():
            path = "/" + route.pattern.lstrip("/")
            if path.startswith(prefix):
                code = path[len(prefix) :].split("/")[0]
                if code in self.modules and not route.name.startswith(f"{code}:"):
                    raise ConfigurationError(
                        f"service module {code!r}: route {route.name!r} must be named '{code}:…'"
                    )

    def outputs(self, code: str) -> list[Output]:
        """The PDF and CSV outputs of module ``code``."""
        return [
            output
            for answer in self._answers(code, "cjs_outputs", module=self.modules[code])
            for output in answer
        ]

    def record_view(self, route_name: str, changes_data: bool) -> None:
        """Note that a GET view of ``route_name`` is (or is not) declared ``changes_data``."""
        self._changes_data[route_name] = self._changes_data.get(route_name, False) or changes_data

    def changes_data(self, route_name: str) -> bool:
        """Whether the screen ``route_name`` leads to changes data (its view's declaration)."""
        return self._changes_data.get(route_name, False)

    # -- per deposit group ---------------------------------------------------------------------

    def enabled_codes(self, deposit_group: DepositGroup) -> list[str]:
        """Codes of the modules enabled for ``deposit_group`` and installed here, in declared order."""
        enabled = {e.module_code for e in deposit_group.module_enablements}
        return [code for code in self.modules if code in enabled]

    def summary(self, deposit_group: DepositGroup) -> str:
        """The 備考 of DC590101: enabled modules with their options, e.g. 労金控除(明細更新)・一斉積立
        (a message: the screen writes it in its language)."""
        options = {e.module_code: e.options for e in deposit_group.module_enablements}
        parts: list[str] = []
        for code in self.enabled_codes(deposit_group):
            module = self.modules[code]
            labels = [
                module.options[o] for o, on in options[code].items() if on and o in module.options
            ]
            if labels:
                parts.append(_("${module}(${options})", module=module.name, options=listed(labels)))
            else:
                parts.append(module.name)
        return listed(parts)

    def menu(
        self, request: Request, deposit_group: DepositGroup
    ) -> list[tuple[ServiceModule, list[MenuLink]]]:
        """The menu bar's module menus for ``deposit_group``: only its enabled modules answer."""
        result = []
        for code in self.enabled_codes(deposit_group):
            module = self.modules[code]
            entries: Iterator[MenuEntry] = (
                entry
                for answer in self._answers(
                    code,
                    "cjs_menu_entries",
                    request=request,
                    deposit_group=deposit_group,
                    module=module,
                )
                for entry in answer
            )
            links = [
                MenuLink(e.title, e.route_name, self.changes_data(e.route_name)) for e in entries
            ]
            result.append((module, links))
        return result

    def info_panels(
        self, request: Request, deposit_group: DepositGroup, hidden: Collection[str] = ()
    ) -> list[InfoPanel]:
        """The information screen's module panels for ``deposit_group``, sorted by ``order``,
        without those of the modules ``hidden`` from the user (ACC-7 非表示); of the panels
        sharing a ``key`` only the first is kept."""
        panels: list[InfoPanel] = []
        for code in self.enabled_codes(deposit_group):
            if code in hidden:
                continue
            answers = self._answers(
                code,
                "cjs_info_panels",
                request=request,
                deposit_group=deposit_group,
                module=self.modules[code],
            )
            panels.extend(panel for answer in answers for panel in answer)
        shown: list[InfoPanel] = []
        keys: set[str] = set()
        for panel in sorted(panels, key=lambda panel: panel.order):
            if panel.key and panel.key in keys:
                continue
            keys.add(panel.key)
            shown.append(panel)
        return shown

    def demo_files(self, dbsession: Session, now: dt.datetime) -> list[tuple[str, DemoFile]]:
        """Every module's demo data files (``cjs_demo_files``), with the module code of each."""
        return [
            (code, demo_file)
            for code in self.modules
            for answer in self._answers(code, "cjs_demo_files", dbsession=dbsession, now=now)
            for demo_file in answer
        ]

    def module_enabled(
        self, dbsession: Session, deposit_group: DepositGroup, code: str, options: Mapping[str, Any]
    ) -> None:
        """Tell module ``code`` it was enabled for ``deposit_group`` (in the same transaction)."""
        if code in self.modules:
            self._caller_for("cjs_module_enabled", {code})(
                dbsession=dbsession,
                deposit_group=deposit_group,
                module=self.modules[code],
                options=options,
            )

    def module_disabled(self, dbsession: Session, deposit_group: DepositGroup, code: str) -> None:
        """Tell module ``code`` it was disabled for ``deposit_group`` (in the same transaction)."""
        if code in self.modules:
            self._caller_for("cjs_module_disabled", {code})(
                dbsession=dbsession, deposit_group=deposit_group, module=self.modules[code]
            )


@dataclass(frozen=True)
class Plugins:
    """The validated settings (core and modules), the plugin manager and the module registry."""

    settings: dict[str, Any]
    manager: pluggy.PluginManager
    modules: ModuleRegistry


def load_plugins(raw: Mapping[str, Any], extra_plugins: Iterable[object] = ()) -> Plugins:
    """Validate the core settings, load the plugins not disabled, validate the modules' settings.

    The app factory and every ``cjs`` command start here. Raises :class:`ConfigurationError`.
    """
    settings = validate(raw)
    manager = make_plugin_manager(extra_plugins, disabled=settings["cjs.plugins.disabled"])
    modules = ModuleRegistry(manager)
    return Plugins(modules.validate_settings(settings), manager, modules)


_MANAGER = "cjs.plugins.manager"
_MODULES = "cjs.plugins.modules"


def install_plugins(
    registry: Registry, manager: pluggy.PluginManager, modules: ModuleRegistry
) -> None:
    """Give the application its plugin manager and module registry (the app factory, tests)."""
    registry[_MANAGER] = manager
    registry[_MODULES] = modules


def get_plugin_manager(registry: Registry) -> pluggy.PluginManager:
    """The application's plugin manager (one per application)."""
    manager: pluggy.PluginManager = registry[_MANAGER]
    return manager


def get_modules(registry: Registry) -> ModuleRegistry:
    """The application's :class:`ModuleRegistry`."""
    modules: ModuleRegistry = registry[_MODULES]
    return modules
