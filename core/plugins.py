"""The plugin manager: one per application, kept on the Pyramid registry (never module-global).

Plugins come from the entry-point groups ``cjs.modules``, ``cjs.auth_backends`` and ``cjs.signers``
(built-ins are declared there too, in pyproject.toml) and, for tests, from objects passed to the app
factory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from core import hookspecs
from core.hookspecs import InfoPanel, MenuEntry, ServiceModule
from core.settings import ConfigurationError

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.registry import Registry
    from pyramid.request import Request

    from core.db.models import DepositGroup

ENTRY_POINT_GROUPS = ("cjs.modules", "cjs.auth_backends", "cjs.signers")


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


class ModuleRegistry:
    """The service modules declared by plugins, by code, with the plugin behind each."""

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

    def configure_routes(self, config: Configurator) -> None:
        """Let each module add its routes under ``/m/<code>``; refuse routes not named ``<code>:…``."""
        for code, module in self.modules.items():
            caller = self._caller_for("cjs_module_routes", {code})
            with config.route_prefix_context(f"/m/{code}"):
                caller(config=config, module=module)
        config.commit()
        from pyramid.interfaces import IRoutesMapper

        mapper = config.registry.getUtility(IRoutesMapper)
        for route in mapper.get_routes():
            if route.pattern.lstrip("/").startswith("m/"):
                code = route.pattern.lstrip("/").split("/")[1]
                if code in self.modules and not route.name.startswith(f"{code}:"):
                    raise ConfigurationError(
                        f"service module {code!r}: route {route.name!r} must be named '{code}:…'"
                    )

    def _caller_for(self, hook_name: str, codes: set[str]) -> Any:
        keep = {id(self._plugins[c]) for c in codes if c in self._plugins}
        remove = [p for p in self._pm.get_plugins() if id(p) not in keep]
        return self._pm.subset_hook_caller(hook_name, remove_plugins=remove)

    def enabled_codes(self, deposit_group: DepositGroup) -> list[str]:
        """Codes of the modules enabled for ``deposit_group`` and installed here, in declared order."""
        enabled = {e.module_code for e in deposit_group.module_enablements}
        return [code for code in self.modules if code in enabled]

    def summary(self, deposit_group: DepositGroup) -> str:
        """The 備考 of DC590101: enabled modules with their options, e.g. 労金控除(明細更新)・一斉積立."""
        options = {e.module_code: e.options for e in deposit_group.module_enablements}
        parts = []
        for code in self.enabled_codes(deposit_group):
            module = self.modules[code]
            labels = [
                module.options[o] for o, on in options[code].items() if on and o in module.options
            ]
            parts.append(module.name + (f"({'・'.join(labels)})" if labels else ""))
        return "・".join(parts)

    def menu(
        self, request: Request, deposit_group: DepositGroup
    ) -> list[tuple[ServiceModule, list[MenuEntry]]]:
        """The menu bar's module menus for ``deposit_group``: only its enabled modules answer."""
        result = []
        for code in self.enabled_codes(deposit_group):
            module = self.modules[code]
            caller = self._caller_for("cjs_menu_entries", {code})
            entries = [
                e
                for answer in caller(request=request, deposit_group=deposit_group, module=module)
                for e in answer
            ]
            result.append((module, entries))
        return result

    def info_panels(self, request: Request, deposit_group: DepositGroup) -> list[InfoPanel]:
        """The information screen's module panels for ``deposit_group``, sorted by ``order``."""
        panels: list[InfoPanel] = []
        for code in self.enabled_codes(deposit_group):
            caller = self._caller_for("cjs_info_panels", {code})
            answers = caller(
                request=request, deposit_group=deposit_group, module=self.modules[code]
            )
            panels.extend(panel for answer in answers for panel in answer)
        return sorted(panels, key=lambda panel: panel.order)


def get_modules(registry: Registry) -> ModuleRegistry:
    """The application's :class:`ModuleRegistry`."""
    modules: ModuleRegistry = registry.cjs_modules
    return modules
