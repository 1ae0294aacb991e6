"""The layer rules of docs/architecture.md hold, and import-linter (run by ``make test``) notices when
an import breaks them (#11)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "hsm", "auth_backends", "plugins")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports on ``tree`` (a copy of the packages and pyproject.toml), nothing else on the path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the project's packages and configuration to break on purpose."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    example = ROOT / "examples" / "cjs_example_module" / "cjs_example_module"
    shutil.copytree(example, tmp_path / example.name, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(tree: Path, module: str, statement: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = tree / module.replace(".", "/") / "__init__.py"
    path.write_text(path.read_text() + f"\n{statement}\n")


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "statement", "contract"),
    [
        # A domain reaching up into the screens: web is above the domains, never below.
        ("core.audit", "from core.web import oplog  # noqa", "core: commands above the app"),
        # A cycle between two domain packages of one layer.
        ("core.mail", "from core.audit import record  # noqa", "core: commands above the app"),
        # A service module reaching past the plugin API into the app factory.
        ("plugins.zaikei", "from core.app import make_app  # noqa", "service modules use only"),
        # An authentication step reaching into the customer screens.
        ("auth_backends.password", "from core.web import login  # noqa", "authentication steps"),
        # The example module outside the tree reaching past the plugin API, like a module would.
        (
            "cjs_example_module.notes",
            "from core.plugins import get_modules  # noqa",
            "the example module outside the tree",
        ),
        # A CA signer reaching into revocation code.
        ("hsm.software", "from core.pki import crl  # noqa", "CA signers use only"),
    ],
)
def test_a_forbidden_import_fails_the_lint(
    tree: Path, module: str, statement: str, contract: str
) -> None:
    add_import(tree, module, statement)
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert contract in broken.replace("\n", " ")
