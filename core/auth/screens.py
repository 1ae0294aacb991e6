"""The screens of the authentication steps, one generic view per (flow, step)."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.response import Response

from core.auth.flows import (
    FlowRegistry,
    FlowSpec,
    StepResult,
    get_flows,
    leave,
    route_name,
    run,
    set_flows,
)
from core.auth.pipelines import build_pipelines
from core.hookspecs import AuthStep
from core.i18n import _, localize
from core.plugins import get_plugin_manager

RESTART_MESSAGE = _("お手数ですが、はじめから操作してください。")


class StepView:
    """GET shows the step's screen when it is the current one; POST checks its input."""

    def __init__(self, spec: FlowSpec, step: AuthStep, first_screen: AuthStep) -> None:
        self.spec = spec
        self.step = step
        self.first_screen = first_screen

    def __call__(self, request: Request) -> Response:
        flows = get_flows(request.registry)
        flow = flows.current(request, self.spec.name)
        if request.method == "GET":
            if flow is None or "restart" in request.GET:
                if self.step is not self.first_screen:
                    return HTTPFound(request.route_url(route_name(self.spec, self.first_screen)))
                return run(request, flows.start(request, self.spec.name))
            if flow.current_step is not self.step or not flow.entered:
                return run(request, flow)
            return self.render(request, flow, self.step.make_form(request, flow))
        if flow is None:
            request.session.flash(localize(request, RESTART_MESSAGE), "error")
            return HTTPFound(request.route_url(route_name(self.spec, self.first_screen)))
        if flow.current_step is not self.step:
            return run(request, flow)  # a double submit or a stale page: show what is due now
        form = self.step.make_form(request, flow)
        if not form.validate():
            return self.render(request, flow, form)
        result = self.step.check(request, flow, form)
        if result.ok:
            flow.advance()
            return run(request, flow)
        if result.restart or result.leave:
            return leave(request, flow, result)
        return self.render(request, flow, form, result)

    def render(
        self, request: Request, flow: Any, form: Any, result: StepResult | None = None
    ) -> Response:
        """The step's screen with the form, its field errors and the step's message."""
        for name, message in (result.errors if result else {}).items():
            form[name].errors = [*form[name].errors, message]
        screen = self.step.screen(flow)
        return render_to_response(
            screen.template,
            {
                "screen": screen,
                "form": form,
                "flow": flow,
                "message": result.message if result else None,
                "errors": request.session.pop_flash("error"),
                "restart_url": request.route_url(
                    route_name(self.spec, self.first_screen), _query={"restart": "1"}
                ),
            },
            request=request,
        )


def register_flows(config: Configurator, specs: list[FlowSpec]) -> None:
    """Resolve the flows' pipelines from the settings, and add a route and view per step screen."""
    pipelines = build_pipelines(
        get_plugin_manager(config.registry),
        config.get_settings(),
        {spec.name: spec.default_pipeline for spec in specs},
    )
    flows = FlowRegistry(specs, pipelines)
    set_flows(config.registry, flows)
    for spec in specs:
        steps = flows.pipelines[spec.name]
        screens = [step for step in steps if step.slug is not None]
        for step in screens:
            pattern = spec.prefix + (f"/{step.slug}" if step.slug else "")
            config.add_route(route_name(spec, step), pattern)
            config.add_view(
                StepView(spec, step, screens[0]),
                route_name=route_name(spec, step),
                request_method=("GET", "POST"),
            )
