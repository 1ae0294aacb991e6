"""AUTH-8: flows are pipelines of pluggable steps named in the settings."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.app import make_app
from core.auth.flows import get_flows
from core.db import get_engine
from core.hookspecs import hookimpl
from core.settings import ConfigurationError


@dataclass(frozen=True)
class Step:
    name: str
    slug: str | None = None


class StepPlugin:
    """A third-party authentication backend: an SMS code step, and one clashing with a built-in."""

    def __init__(self, *names: str) -> None:
        self.names = names

    @hookimpl
    def cjs_auth_steps(self):
        return [Step(name) for name in self.names]


def test_default_pipelines_follow_the_manuals(app):
    pipelines = get_flows(app.registry).pipelines
    assert [s.name for s in pipelines["register_master"]] == ["initial_password"]
    assert [s.name for s in pipelines["issue"]] == ["password", "email_code"]
    assert [s.name for s in pipelines["login"]] == ["client_cert", "password"]


def test_a_flow_runs_the_steps_its_setting_names_in_order(app_settings):
    """AUTH-8: e.g. a bank that runs issuance without the email code."""
    app = make_app({**app_settings, "cjs.pipeline.issue": "password"})
    assert [s.name for s in get_flows(app.registry).pipelines["issue"]] == ["password"]
    get_engine(app.registry).dispose()


def test_an_unknown_step_stops_the_start_naming_the_setting(app_settings):
    settings = {**app_settings, "cjs.pipeline.issue": "password sms_code"}
    with pytest.raises(ConfigurationError) as caught:
        make_app(settings)
    assert str(caught.value) == (
        "cjs.pipeline.issue: unknown authentication step 'sms_code' "
        "(available: client_cert, email_code, initial_password, password)"
    )


def test_a_step_from_a_plugin_can_be_named(app_settings):
    app = make_app(
        {**app_settings, "cjs.pipeline.login": "client_cert password sms_code"},
        plugins=[StepPlugin("sms_code")],
    )
    assert [s.name for s in get_flows(app.registry).pipelines["login"]][-1] == "sms_code"
    get_engine(app.registry).dispose()


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "cjs.pipeline.issue",
            "email_code",
            "cjs.pipeline.issue: the flow needs the step 'password'",
        ),
        (
            "cjs.pipeline.login",
            "password",
            "cjs.pipeline.login: the flow needs the step 'client_cert'",
        ),
        ("cjs.pipeline.issue", "", "cjs.pipeline.issue: names no step"),
        ("cjs.pipeline.issue", "password password", "cjs.pipeline.issue: names a step twice"),
        ("cjs.pipeline.signup", "password", "cjs.pipeline.signup: no such flow"),
        (
            "cjs.pipeline.issue",
            "email_code password",
            "cjs.pipeline.issue: the first step with a screen must be the flow's entry screen (/cert)",
        ),
    ],
)
def test_a_pipeline_that_cannot_work_stops_the_start(app_settings, setting, value, message):
    with pytest.raises(ConfigurationError) as caught:
        make_app({**app_settings, setting: value})
    assert str(caught.value).startswith(message)


def test_a_step_provided_twice_stops_the_start(app_settings):
    with pytest.raises(ConfigurationError, match="'password' is provided twice"):
        make_app(app_settings, plugins=[StepPlugin("password")])
