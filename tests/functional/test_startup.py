"""A bad setting stops the start with one line naming it; nothing is served half-configured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.app import make_app
from core.settings import ConfigurationError

CJS = Path(sys.executable).with_name("cjs")


def write_ini(path: Path, settings: dict[str, str]) -> Path:
    lines = "\n".join(f"{k} = {v}" for k, v in settings.items())
    path.write_text(f"[app:main]\nuse = egg:cjs\n{lines}\n", encoding="utf-8")
    return path


def test_make_app_refuses_an_unknown_signer(app_settings):
    with pytest.raises(ConfigurationError, match=r"^cjs\.ca\.signer: unknown signer 'nope'"):
        make_app({**app_settings, "cjs.ca.signer": "nope"})


@pytest.mark.parametrize(
    ("override", "line"),
    [
        (
            {"cjs.ca.signer": "nope"},
            "cjs: cjs.ca.signer: unknown signer 'nope' (available: pkcs11, software)",
        ),
        ({"cjs.hours.open_hours": "8-20"}, "cjs: cjs.hours.open_hours: expected HH:MM-HH:MM"),
        ({"cjs.ca.key_passphrase": "wrong"}, "cjs: cjs.ca.key_passphrase: cannot decrypt"),
    ],
)
def test_cjs_serve_with_a_bad_setting_prints_one_line_and_exits(
    app_settings, tmp_path, override, line
):
    ini = write_ini(tmp_path / "bad.ini", {**app_settings, **override})
    result = subprocess.run(
        [CJS, "-c", ini, "serve", "--port", "1"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(line)


def test_a_missing_configuration_file_is_named(tmp_path):
    result = subprocess.run(
        [CJS, "-c", tmp_path / "absent.ini", "serve"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"cjs: {tmp_path / 'absent.ini'}: configuration file not found"
