"""The benches still run (bench/README.md): one iteration of each, figures not judged.

Performance is read by people from the benches' full runs, never asserted here; these tests only
keep the scripts working as the code they drive changes (CERT-7, CERT-1).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: A table row: the key type, then figures such as ``32.1 ms`` and a ratio such as ``1.33``.
ROW = r"^{key_type}\s+\d+\.\d+ ms\s+\d+\.\d+ ms\s+\d+\.\d+ ms\s+\d+\.\d+ ms\s+\d+\.\d\d\s"


def _bench(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize(
    "extra",
    [pytest.param([], id="http-first-issuance"), pytest.param(["--replace"], id="http-cert8")],
)
def test_issue_cert_bench_prints_each_key_type_beside_its_bare_cost(extra: list[str]) -> None:
    """CERT-7: POST 発行 → .p12 through the app, beside the bare crypto, with the ratio and the
    ratio with key generation equalised."""
    out = _bench(
        "bench/issue_cert.py", "-n", "2", "--warmup", "0", "--key-types", "ec-p256", *extra
    )
    assert re.search(ROW.format(key_type="ec-p256"), out, re.M), out
    assert re.search(r"^ec-p256\s+\d+\.\d+ ms\s+\d+\.\d+ ms\s+\d+\.\d\d\s+\d", out, re.M), out
    scenario = "CERT-8 replaces the unused one" if extra else "first issuance"
    assert scenario in out


def test_issue_cert_bench_direct_mode() -> None:
    """CERT-7: the service function alone, beside the bare crypto."""
    out = _bench(
        "bench/issue_cert.py", "--mode", "direct", "-n", "2", "--warmup", "0",
        "--key-types", "rsa-2048",
    )  # fmt: skip
    assert re.search(ROW.format(key_type="rsa-2048"), out, re.M), out


def test_sign_bench_compares_the_software_key_and_the_token() -> None:
    """CERT-1: signatures per second with the software key and SoftHSM2, and whole issuances."""
    out = _bench("bench/sign.py", "-n", "3", "--issuances", "2", "--key-types", "ec-p384")
    assert re.search(r"^ec-p384\s+software\s", out, re.M), out
    assert re.search(r"^ec-p384\s+pkcs11\s", out, re.M), out


def test_outputs_bench_prints_load_inquiry_pdf_and_csv() -> None:
    """#13 (SPEC 6.3, BANK-6): the 一斉積立 load beside its bare cost, the inquiry's pages, the
    streamed PDF with its memory growth, the CSV export."""
    out = _bench("bench/outputs.py", "--rows", "300", "-n", "1")
    assert re.search(r"^  load\s+\d+ ms\s+bare\s+\d+ ms\s+ratio\s+\d+\.\d\d", out, re.M), out
    assert re.search(r"^  inquiry\s+page\s+1: p50\s+\d+\.\d ms\s+p95 .* CPU p50", out, re.M), out
    assert re.search(r"^  inquiry\s+page\s+6: p50", out, re.M), out
    assert re.search(r"^  PDF\s+\d+ ms\s+6 pages, .* resident memory grew", out, re.M), out
    assert re.search(r"^  CSV\s+\d+ ms", out, re.M), out


def test_audit_record_bench_prints_the_chain_beside_the_bare_record() -> None:
    """#14 item 6: one auditing transaction with the hash chain beside the same without it."""
    out = _bench("bench/audit_record.py", "-n", "3", "--writers", "2")
    assert re.search(r"^bare\s+\d+\.\d\dms\s+\d+\.\d\dms$", out, re.M), out
    assert re.search(r"^chained\s+\d+\.\d\dms\s+\d+\.\d\dms$", out, re.M), out
    assert re.search(r"^ratio of medians \d+\.\d\d, difference [+-]\d+\.\d\d ms$", out, re.M), out
    assert "numbered without a gap: yes" in out
