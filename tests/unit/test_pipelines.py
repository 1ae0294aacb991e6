"""AUTH-8: flows are pipelines of pluggable steps named in the settings."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core import make_app
from core.hookspecs import hookimpl
from core.settings import ConfigurationError


@dataclass(frozen=True)
class Step:
    name: str


class StepPlugin:
    @hookimpl
    def cjs_auth_steps(self):
        return [Step("password"), Step("email_code")]


def test_a_flow_runs_the_steps_its_setting_names_in_order(app_settings):
    """AUTH-8: e.g. a bank that runs issuance without the email code."""
    settings = {
        **app_settings,
        "cjs.pipeline.issue": "password email_code",
        "cjs.pipeline.issue_without_code": "password",
    }
    app = make_app(settings, plugins=[StepPlugin()])
    pipelines = app.registry.cjs_pipelines
    assert [s.name for s in pipelines["issue"]] == ["password", "email_code"]
    assert [s.name for s in pipelines["issue_without_code"]] == ["password"]


def test_an_unknown_step_stops_the_start_naming_the_setting(app_settings):
    settings = {**app_settings, "cjs.pipeline.issue": "password sms_code"}
    with pytest.raises(ConfigurationError) as caught:
        make_app(settings, plugins=[StepPlugin()])
    assert str(caught.value) == (
        "cjs.pipeline.issue: unknown authentication step 'sms_code' "
        "(available: email_code, password)"
    )


def test_a_step_provided_twice_stops_the_start(app_settings):
    with pytest.raises(ConfigurationError, match="'password' is provided twice"):
        make_app(app_settings, plugins=[StepPlugin(), StepPlugin()])
