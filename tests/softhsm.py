"""SoftHSM2 for tests: a token in a temporary folder and a CA whose key lives on it (CERT-1).

A pytest plugin (``pytest_plugins`` in tests/conftest.py). Fixtures:

- ``softhsm`` (session): a :class:`SoftHSM` of this worker, a fresh token in a temporary folder
  (``SOFTHSM2_CONF`` naming ``directories.tokendir`` and ``objectstore.backend = file``, set in
  this process's environment so that subprocesses such as ``cjs serve`` see the same token). Without
  Debian's softhsm2 the tests that need it are skipped, or fail when ``CI=true``.
- ``pkcs11_settings`` (session): raw settings (strings, as an ini file gives them) of a CA whose
  EC P-384 key was generated on that token by ``cjs ca init``'s logic; the PIN comes from
  ``env:CJS_TEST_HSM_PIN``. Same keys as ``ca_settings``, so either can stand for the other.
- ``pkcs11_rsa_settings`` (session): the same with an RSA-3072 key (PKCS#1 v1.5), its own folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SOFTHSM_MODULE = Path(os.environ.get("CJS_SOFTHSM_MODULE", "/usr/lib/softhsm/libsofthsm2.so"))
SOFTHSM_UTIL = "softhsm2-util"
TOKEN_LABEL = "cjs-test"
USER_PIN = "4711-test-pin"
SO_PIN = "so-4711-test"
PIN_ENV = "CJS_TEST_HSM_PIN"
CA_KEY_LABEL = "cjs-test-ca"


@dataclass
class SoftHSM:
    """A SoftHSM2 configuration with one initialised token, for this test process."""

    root: Path
    module: Path = SOFTHSM_MODULE
    token_label: str = TOKEN_LABEL
    pin: str = USER_PIN

    @property
    def conf(self) -> Path:
        return self.root / "softhsm2.conf"

    @property
    def tokendir(self) -> Path:
        return self.root / "tokens"

    def util(self, *args: str) -> str:
        """Run softhsm2-util on this configuration; returns its output."""
        result = subprocess.run(
            [SOFTHSM_UTIL, *args],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "SOFTHSM2_CONF": str(self.conf)},
        )
        if result.returncode != 0:
            raise RuntimeError(f"softhsm2-util {' '.join(args)}: {result.stdout}{result.stderr}")
        return result.stdout

    def init_token(self, label: str) -> None:
        """Initialise a new token ``label`` in the first free slot, with this PIN."""
        self.util("--init-token", "--free", "--label", label, "--pin", self.pin, "--so-pin", SO_PIN)

    def settings(self, ca_dir: Path, key_label: str = CA_KEY_LABEL, **extra: str) -> dict[str, str]:
        """Raw settings of a pkcs11 CA in ``ca_dir`` with key ``key_label`` on this token."""
        return {
            "cjs.ca.dir": str(ca_dir),
            "cjs.ca.signer": "pkcs11",
            "cjs.ca.issuer_name": "Rokin-KW CA",
            "cjs.ca.organization": "Rokin-KW",
            "cjs.signer.pkcs11.module": str(self.module),
            "cjs.signer.pkcs11.token_label": self.token_label,
            "cjs.signer.pkcs11.key_label": key_label,
            "cjs.signer.pkcs11.pin": f"env:{PIN_ENV}",
            **extra,
        }


def softhsm_unavailable() -> str | None:
    """Why no SoftHSM2 token can be made here, or None."""
    if not SOFTHSM_MODULE.exists():
        return f"SoftHSM2 module {SOFTHSM_MODULE} not found (apt-get install softhsm2)"
    if shutil.which(SOFTHSM_UTIL) is None:
        return f"{SOFTHSM_UTIL} not found (apt-get install softhsm2)"
    return None


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and SoftHSM2 is needed: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHSM]:
    """A SoftHSM2 token in a temporary folder; SOFTHSM2_CONF and the PIN variable set meanwhile."""
    reason = softhsm_unavailable()
    if reason:
        _skip_or_fail(reason)
    hsm = SoftHSM(tmp_path_factory.mktemp("softhsm"))
    hsm.tokendir.mkdir()
    hsm.conf.write_text(
        f"directories.tokendir = {hsm.tokendir}\nobjectstore.backend = file\nlog.level = ERROR\n",
        encoding="utf-8",
    )
    saved = {name: os.environ.get(name) for name in ("SOFTHSM2_CONF", PIN_ENV)}
    # The module reads SOFTHSM2_CONF at C_Initialize, once per process: set it before any use.
    os.environ["SOFTHSM2_CONF"] = str(hsm.conf)
    os.environ[PIN_ENV] = hsm.pin
    try:
        hsm.init_token(hsm.token_label)
        yield hsm
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _pkcs11_ca(softhsm: SoftHSM, ca_dir: Path, key_label: str, **extra: str) -> dict[str, str]:
    from core.pki.ca import init_ca
    from core.settings import validate

    settings = softhsm.settings(ca_dir, key_label, **extra)
    init_ca(validate({**settings, "sqlalchemy.url": "sqlite://", "cjs.environment": "development"}))
    return settings


@pytest.fixture(scope="session")
def pkcs11_settings(softhsm: SoftHSM, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Raw settings of a CA whose EC P-384 key is on the SoftHSM2 token (made by ``cjs ca init``)."""
    return _pkcs11_ca(softhsm, tmp_path_factory.mktemp("ca-pkcs11"), CA_KEY_LABEL)


@pytest.fixture(scope="session")
def pkcs11_rsa_settings(
    softhsm: SoftHSM, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Raw settings of a CA whose RSA-3072 key is on the token (PKCS#1 v1.5 signatures)."""
    return _pkcs11_ca(
        softhsm,
        tmp_path_factory.mktemp("ca-pkcs11-rsa"),
        "cjs-test-ca-rsa",
        **{"cjs.ca.key_type": "rsa-3072"},
    )


def pytest_report_header(config: pytest.Config) -> str:
    reason = softhsm_unavailable()
    if reason:
        then = "fail (CI=true)" if os.environ.get("CI") == "true" else "are skipped"
        return f"softhsm2: {reason}; tests that need it {then}"
    return f"softhsm2: {SOFTHSM_MODULE} (one token per worker, in a temporary folder)"
