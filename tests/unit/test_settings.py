"""Settings are validated at start, with one line naming a bad setting (Foundation)."""

from __future__ import annotations

import pytest

from core.settings import ConfigurationError, validate

BASE = {"sqlalchemy.url": "sqlite://", "cjs.environment": "development"}


def test_defaults_follow_the_manuals():
    """AUTH-7: Monday–Friday 08:00–20:00 by default; the issuer name is "Rokin-KW CA" style (CERT-1)."""
    settings = validate(BASE)
    assert settings["cjs.hours.open_days"] == frozenset({0, 1, 2, 3, 4})
    assert [t.isoformat() for t in settings["cjs.hours.open_hours"]] == ["08:00:00", "20:00:00"]
    assert settings["cjs.ca.issuer_name"] == "Rokin-KW CA"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("cjs.hours.open_hours", "20:00-08:00", "start before end"),
        ("cjs.hours.open_days", "mon funday", "unknown weekday 'funday'"),
        ("cjs.hours.closed_days", "12-32", "MM-DD"),
        ("cjs.hours.maintenance", "2026-12-01T01:00", "START/END"),
        ("cjs.hours.always_open", "maybe", "true or false"),
        ("cjs.ca.key_type", "dsa-1024", "ec-p384, rsa-3072"),
        ("retry.attempts", "0", "positive"),
        ("cjs.environment", "staging", "development, production"),
    ],
)
def test_a_malformed_setting_is_named_in_one_line(name, value, fragment):
    with pytest.raises(ConfigurationError) as caught:
        validate({**BASE, name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}: ")
    assert fragment in message
    assert "\n" not in message


def test_a_missing_required_setting_is_named():
    with pytest.raises(ConfigurationError, match=r"^sqlalchemy\.url: missing"):
        validate({"cjs.environment": "development"})


def test_an_unknown_cjs_setting_is_refused_not_ignored():
    with pytest.raises(ConfigurationError, match=r"^cjs\.ca\.sigher: unknown setting$"):
        validate({**BASE, "cjs.ca.sigher": "software"})


def test_production_refuses_a_secret_written_in_the_ini_file():
    with pytest.raises(ConfigurationError, match="must come from env:NAME or file:/path"):
        validate({**BASE, "cjs.environment": "production", "cjs.ca.key_passphrase": "hunter2"})


def test_secrets_come_from_the_environment_or_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CJS_TEST_PASSPHRASE", "from-env")
    production = {**BASE, "cjs.environment": "production"}
    settings = validate({**production, "cjs.ca.key_passphrase": "env:CJS_TEST_PASSPHRASE"})
    assert settings["cjs.ca.key_passphrase"] == "from-env"

    secret = tmp_path / "passphrase"
    secret.write_text("from-file\n")
    settings = validate({**production, "cjs.ca.key_passphrase": f"file:{secret}"})
    assert settings["cjs.ca.key_passphrase"] == "from-file"


def test_a_missing_secret_source_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("CJS_NO_SUCH_VARIABLE", raising=False)
    with pytest.raises(ConfigurationError, match="CJS_NO_SUCH_VARIABLE is not set"):
        validate({**BASE, "cjs.ca.key_passphrase": "env:CJS_NO_SUCH_VARIABLE"})
    with pytest.raises(ConfigurationError, match=r"^cjs\.ca\.key_passphrase: cannot read"):
        validate({**BASE, "cjs.ca.key_passphrase": f"file:{tmp_path / 'absent'}"})
