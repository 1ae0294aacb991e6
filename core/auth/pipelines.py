"""Authentication pipelines (AUTH-8): each flow runs the steps named in ``cjs.pipeline.<flow>``.

Steps come from ``cjs_auth_steps`` plugins (``cjs.auth_backends``). A flow naming a step no plugin
provides stops the start with one line naming the setting.

The flows of the staff application are named ``staff_<flow>`` (``cjs.pipeline.staff_login``); each
application resolves only its own flows and leaves the other's settings to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pluggy

from core.hookspecs import AuthStep
from core.settings import ConfigurationError

PREFIX = "cjs.pipeline."
#: The names of the staff application's flows begin with this.
STAFF_FLOW_PREFIX = "staff_"


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
    pm: pluggy.PluginManager, settings: Mapping[str, Any], defaults: Mapping[str, str]
) -> dict[str, tuple[AuthStep, ...]]:
    """Resolve each flow's ``cjs.pipeline.<flow>`` setting (or its default) into steps, in order.

    A setting for a flow that does not exist stops the start too (a flow of the other application,
    told apart by :data:`STAFF_FLOW_PREFIX`, is left to it).
    """
    steps = available_steps(pm)
    staff = all(flow.startswith(STAFF_FLOW_PREFIX) for flow in defaults)
    configured = {
        k[len(PREFIX) :]: str(v)
        for k, v in settings.items()
        if k.startswith(PREFIX) and k[len(PREFIX) :].startswith(STAFF_FLOW_PREFIX) == staff
    }
    unknown = sorted(set(configured) - set(defaults))
    if unknown:
        raise ConfigurationError(
            f"{PREFIX}{unknown[0]}: no such flow ({', '.join(sorted(defaults))})"
        )
    pipelines = {}
    for flow in sorted(defaults):
        key = PREFIX + flow
        names = configured.get(flow, defaults[flow]).split()
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
        pipelines[flow] = tuple(steps[name] for name in names)
    return pipelines
