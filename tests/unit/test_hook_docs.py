"""datasette's rules for hooks: each is documented in docs/hooks.md and exercised by a test."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from core import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOK_NAMES = sorted(name for name, _ in inspect.getmembers(hookspecs) if name.startswith("cjs_"))


def test_there_are_hooks_for_modules_auth_steps_and_signers():
    assert {"cjs_service_module", "cjs_auth_steps", "cjs_signer_factories"} <= set(HOOK_NAMES)


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_every_hook_is_documented(hook):
    text = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    assert re.search(rf"^## `{hook}\(", text, re.MULTILINE), f"{hook} is not in docs/hooks.md"
    assert inspect.getdoc(getattr(hookspecs, hook)), f"{hook} has no docstring"


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_every_hook_is_implemented_in_a_test(hook):
    this = Path(__file__).resolve()
    implementing = [
        path
        for path in (ROOT / "tests").rglob("test_*.py")
        if path.resolve() != this and f"def {hook}(" in path.read_text(encoding="utf-8")
    ]
    assert implementing, f"no test implements {hook}"
