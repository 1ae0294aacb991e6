"""The application's clock: every "now" of a request, a job or a loader is read from here.

The app reads the time only through :func:`now` (or the :data:`Clock` given to a service), so that a
test can move time (:func:`set_clock`) and every rule that depends on it (lockout, sessions, service
hours, certificate validity) moves with it. Domain functions take ``now`` as an argument instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyramid.registry import Registry

#: A function giving the current time (aware, UTC).
Clock = Callable[[], dt.datetime]

_CLOCK = "cjs.clock"


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def set_clock(registry: Registry, clock: Clock) -> None:
    """Make ``clock`` the application's clock (the app factory; tests that move time)."""
    registry[_CLOCK] = clock


def get_clock(registry: Registry) -> Clock:
    """The application's clock (:func:`utcnow` unless :func:`set_clock` gave another)."""
    clock: Clock = registry.get(_CLOCK, utcnow)
    return clock


def now(registry: Registry) -> dt.datetime:
    """The current time by the application's clock."""
    return get_clock(registry)()
