"""The CA signer of the application (CERT-1): chosen by ``cjs.ca.signer`` among the signers the
plugins provide (``cjs_signer_factories``; built-in: ``hsm.software``, ``hsm.pkcs11``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pluggy
from pyramid.config import Configurator
from pyramid.registry import Registry
from zope.interface.verify import verifyObject

from core.plugins import get_plugin_manager, make_plugin_manager
from core.settings import ConfigurationError
from hsm.interfaces import ISigner


def plugin_manager(settings: Mapping[str, Any]) -> pluggy.PluginManager:
    """The installed plugins but those ``cjs.plugins.disabled`` names (commands outside the app)."""
    return make_plugin_manager(disabled=settings.get("cjs.plugins.disabled", ()))


def signer_factories(pm: pluggy.PluginManager) -> dict[str, Any]:
    """Every signer factory the plugins provide, by name."""
    factories: dict[str, Any] = {}
    for answer in pm.hook.cjs_signer_factories():
        for name, factory in answer.items():
            if name in factories:
                raise ConfigurationError(f"cjs.ca.signer: signer {name!r} is provided twice")
            factories[name] = factory
    return factories


def load_signer(settings: Mapping[str, Any], pm: pluggy.PluginManager | None = None) -> Any:
    """Create the signer named by ``cjs.ca.signer``; a bad name or a broken CA stops with one line."""
    factories = signer_factories(pm or plugin_manager(settings))
    name = settings["cjs.ca.signer"]
    if name not in factories:
        available = ", ".join(sorted(factories)) or "none"
        raise ConfigurationError(f"cjs.ca.signer: unknown signer {name!r} (available: {available})")
    signer = factories[name](settings)
    verifyObject(ISigner, signer)
    return signer


_SIGNER = "cjs.pki.signer"


def get_signer(registry: Registry) -> Any:
    """The application's signer (an ``ISigner`` provider), created at start."""
    return registry[_SIGNER]


def configure_signer(config: Configurator) -> None:
    """Create the configured signer at start and keep it on the registry (:func:`get_signer`)."""
    config.registry[_SIGNER] = load_signer(
        config.get_settings(), get_plugin_manager(config.registry)
    )
