"""#11: the signers depend only on the signer API of core; certificates, CRL and OCSP code stay out."""

from __future__ import annotations

import subprocess
import sys

#: What a signer may load of core: the X.509 profile and the leaves it stands on, the hooks, the
#: settings and the message catalogue's marker they use (docs/hooks.md, "The plugin API").
SIGNER_API = {
    "core",
    "core.hookspecs",
    "core.i18n",
    "core.settings",
    "core.timefmt",
    "core.pki",
    "core.pki.x509",
}


def test_importing_the_signers_loads_no_certificate_crl_or_ocsp_code():
    code = (
        "import sys, hsm.software, hsm.pkcs11.plugin\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m == 'core' or m.startswith('core.'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = set(result.stdout.split())
    assert loaded <= SIGNER_API, sorted(loaded - SIGNER_API)
    assert "core.pki.x509" in loaded
