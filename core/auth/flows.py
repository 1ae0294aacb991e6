"""Flows (AUTH-8, AUTH-9): master registration, certificate issuance and login, each a pipeline of
authentication steps named in the settings, run one screen at a time.

A flow's state lives in the server-side session: which flow, its random id, the index of the current
step and what the steps found out (the contract, the user, the certificate). A request for a screen
that is not the current step's is redirected to the current one, so the back and forward buttons,
reloads and double submits never skip a step or apply one twice.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyramid.httpexceptions import HTTPFound
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response

from core.hookspecs import Screen
from core.i18n import localize
from core.settings import ConfigurationError

if TYPE_CHECKING:
    from core.hookspecs import AuthStep

FLOW_KEY = "flow"
#: Sealed session values a flow may keep (core.security.sessions): the password is wiped when the flow ends,
#: the issued PKCS#12 when its result screen is closed or another flow starts.
SEALED_PASSWORD = "flow_password"  # noqa: S105 (a key name, not a password)
SEALED_PKCS12 = "pkcs12"


@dataclass(frozen=True)
class StepResult:
    """What a step concluded about the input of its screen.

    ``ok``: go on to the next step. Otherwise ``errors`` (per field) and ``message`` (for the whole
    form) are shown on the same screen; ``restart`` ends the flow and shows ``message`` on its first
    screen; ``leave`` ends it and goes to the top page with ``message``.
    """

    ok: bool = False
    errors: Mapping[str, str] = field(default_factory=dict)
    message: str | None = None
    restart: bool = False
    leave: bool = False


OK = StepResult(ok=True)


@dataclass(frozen=True)
class FlowSpec:
    """A flow: where its screens live, its default pipeline, and what happens when it completes."""

    name: str
    prefix: str
    default_pipeline: str
    required_steps: frozenset[str]
    #: Called when the last step is done; returns the response (e.g. a redirect).
    on_complete: Callable[[Request, Flow], Response]
    #: Called when a step identifies the user; returns a message refusing the flow, or None.
    check_user: Callable[[Request, Any], str | None] | None = None
    #: Whether the password typed in the flow is kept (sealed) for the end of the flow (PKCS#12).
    keeps_password: bool = False
    #: The screens of this flow's steps where a step's own does not fit, by step name (the staff
    #: sign-in draws the password step in the staff console's layout).
    screens: Mapping[str, Screen] = field(default_factory=dict)
    #: Where a flow that a step ended goes, with its message (the customer app's top page).
    exit_route: str = "top"


class Flow:
    """The running flow of a browser session (a view of ``session["flow"]``)."""

    def __init__(self, request: Request, spec: FlowSpec, steps: tuple[AuthStep, ...]) -> None:
        self.request = request
        self.spec = spec
        self.steps = steps

    @property
    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.request.session[FLOW_KEY]
        return state

    @property
    def id(self) -> str:
        return str(self.state["id"])

    @property
    def current_step(self) -> AuthStep | None:
        """The step whose screen is shown now; None when every step is done."""
        index = self.state["index"]
        return self.steps[index] if index < len(self.steps) else None

    def get(self, key: str, default: Any = None) -> Any:
        """A value a step found out (``user_pk``, ``contract_pk``, ``certificate_id`` …)."""
        return self.state.get("data", {}).get(key, default)

    def set(self, **values: Any) -> None:
        """Record values found out by a step."""
        state = dict(self.state)
        state["data"] = {**state.get("data", {}), **values}
        self.request.session[FLOW_KEY] = state

    def advance(self) -> None:
        """Mark the current step done."""
        state = dict(self.state)
        state["index"] += 1
        state["entered"] = False
        self.request.session[FLOW_KEY] = state

    def mark_entered(self) -> None:
        """Remember that the current step's ``enter`` ran (e.g. the code was sent)."""
        state = dict(self.state)
        state["entered"] = True
        self.request.session[FLOW_KEY] = state

    @property
    def entered(self) -> bool:
        return bool(self.state.get("entered"))

    @property
    def complete(self) -> bool:
        return self.current_step is None

    def step_url(self, step: AuthStep) -> str:
        """The address of a step's screen."""
        return self.request.route_url(route_name(self.spec, step))


def route_name(spec: FlowSpec, step: AuthStep) -> str:
    """The route of a step's screen in a flow: ``<flow>.<step>``."""
    return f"{spec.name}.{step.name}"


class FlowRegistry:
    """Every flow with its pipeline, built at start from the specs and the ``cjs.pipeline.*`` settings."""

    def __init__(
        self, specs: list[FlowSpec], pipelines: Mapping[str, tuple[AuthStep, ...]]
    ) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.pipelines: dict[str, tuple[AuthStep, ...]] = {}
        for spec in specs:
            steps = pipelines[spec.name]
            names = {step.name for step in steps}
            missing = sorted(spec.required_steps - names)
            if missing:
                raise ConfigurationError(
                    f"cjs.pipeline.{spec.name}: the flow needs the step {missing[0]!r}"
                )
            screens = [step for step in steps if step.slug is not None]
            if not screens or screens[0].slug != "":
                raise ConfigurationError(
                    f"cjs.pipeline.{spec.name}: the first step with a screen must be the flow's "
                    f"entry screen ({spec.prefix})"
                )
            self.pipelines[spec.name] = steps

    def current(self, request: Request, name: str) -> Flow | None:
        """The session's running flow if it is ``name``."""
        state = request.session.get(FLOW_KEY)
        if not state or state.get("name") != name:
            return None
        return Flow(request, self.specs[name], self.pipelines[name])

    def start(self, request: Request, name: str) -> Flow:
        """Start flow ``name`` afresh, replacing any running flow (and wiping what it kept).

        A file issued by an earlier issuance flow and still held for its result screen is wiped too.
        """
        end(request)
        request.session.discard_sealed(SEALED_PKCS12)
        request.session[FLOW_KEY] = {
            "name": name,
            "id": secrets.token_urlsafe(16),
            "index": 0,
            "entered": False,
            "data": {},
        }
        return Flow(request, self.specs[name], self.pipelines[name])


def end(request: Request) -> None:
    """End the running flow, wiping any password it kept."""
    if FLOW_KEY in request.session:
        request.session.pop(FLOW_KEY)
    request.session.discard_sealed(SEALED_PASSWORD)


def still_the_flows_certificate(
    flow: Flow, presented: Any, problem: Callable[[Any, Any], str | None], now: Any
) -> bool:
    """At the end of a login flow: the certificate presented now is the one the flow started
    with, and ``problem`` (the application's check: expired, revoked…) finds nothing wrong."""
    return (
        presented is not None
        and presented.id == flow.get("certificate_id")
        and problem(presented, now) is None
    )


_FLOWS = "cjs.auth.flows"


def set_flows(registry: Registry, flows: FlowRegistry) -> None:
    """Make ``flows`` the application's flows (``core.auth.screens`` at configuration)."""
    registry[_FLOWS] = flows


def get_flows(registry: Registry) -> FlowRegistry:
    """The application's flows."""
    flows: FlowRegistry = registry[_FLOWS]
    return flows


def run(request: Request, flow: Flow) -> Response:
    """Go as far as the flow can without input: run screenless steps, complete the flow when done.

    Returns a redirect to the screen now due, or the flow's completion response.
    """
    while True:
        step = flow.current_step
        if step is None:
            return flow.spec.on_complete(request, flow)
        if step.slug is not None and flow.entered:
            return HTTPFound(flow.step_url(step))
        result = step.enter(request, flow)
        if result is None:
            flow.mark_entered()
            return HTTPFound(flow.step_url(step))
        if not result.ok:
            return leave(request, flow, result)
        flow.advance()


def leave(request: Request, flow: Flow, result: StepResult) -> Response:
    """End or restart the flow after a step refused it, carrying its message."""
    spec = flow.spec
    end(request)
    if result.message:
        request.session.flash(localize(request, result.message), "error")
    if result.restart:
        first = next(step for step in flow.steps if step.slug is not None)
        return HTTPFound(request.route_url(route_name(spec, first)))
    return HTTPFound(request.route_url(spec.exit_route))
