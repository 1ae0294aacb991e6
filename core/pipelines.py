"""Authentication pipelines (AUTH-8): each flow runs the steps named in ``cjs.pipeline.<flow>``.

Steps come from ``cjs_auth_steps`` plugins (``cjs.auth_backends``). A flow naming a step no plugin
provides stops the start with one line naming the setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pluggy
from pyramid.config import Configurator

from core.hookspecs import AuthStep
from core.settings import ConfigurationError

PREFIX = "cjs.pipeline."


def available_steps(pm: pluggy.PluginManager) -> dict[str, AuthStep]:
    """Every step the plugins provide, by name; a name provided twice stops the start."""
    steps: dict[str, AuthStep] = {}
    for answer in pm.hook.cjs_auth_steps():
        for step in answer:
            if step.name in steps:
                raise ConfigurationError(f"authentication step {step.name!r} is provided twice")
            steps[step.name] = step
    return steps


def build_pipelines(
    pm: pluggy.PluginManager, settings: Mapping[str, Any]
) -> dict[str, tuple[AuthStep, ...]]:
    """Resolve every ``cjs.pipeline.<flow>`` setting into its steps, in order."""
    steps = available_steps(pm)
    pipelines = {}
    for key in sorted(k for k in settings if k.startswith(PREFIX)):
        names = str(settings[key]).split()
        if not names:
            raise ConfigurationError(f"{key}: names no step")
        for name in names:
            if name not in steps:
                available = ", ".join(sorted(steps)) or "none"
                raise ConfigurationError(
                    f"{key}: unknown authentication step {name!r} (available: {available})"
                )
        if len(set(names)) != len(names):
            raise ConfigurationError(f"{key}: names a step twice")
        pipelines[key[len(PREFIX) :]] = tuple(steps[name] for name in names)
    return pipelines


def includeme(config: Configurator) -> None:
    """Build the pipelines at start and keep them on the registry (``registry.cjs_pipelines``)."""
    config.registry.cjs_pipelines = build_pipelines(
        config.registry.cjs_plugins, config.get_settings()
    )
