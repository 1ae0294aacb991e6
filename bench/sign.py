"""Bench: the CA signer (CERT-1) — signatures per second with the software key and on SoftHSM2, and
the latency of a whole issuance (CERT-7) with each, every figure beside its bare cost.

    .venv/bin/python bench/sign.py                      # EC P-384 and RSA-3072 CA keys
    .venv/bin/python bench/sign.py -n 500 --issuances 50 --key-types ec-p384

Part 1, signatures: for each CA key type and signer, one ``signer.sign_certificate(builder)`` of a
client certificate (cryptography builds the to-be-signed bytes and calls the key; with pkcs11 the
key object takes the module lock, hashes for ECDSA, calls the token, converts r‖s to DER) beside the
bare signature of the same to-be-signed bytes: ``private_key.sign()`` for the software key, and a
direct python-pkcs11 ``key.sign()`` on a session of its own (no lock, no wrapper) for the token.
Part 2, issuance: one ``core.pki.certificates.issue_certificate`` call and its commit on SQLite with
each signer, beside the bare crypto of an issuance (client key, build and sign with the same signer,
PKCS#12). Series are interleaved in alternating order (bench/README.md, rules 1–2).

The token is a SoftHSM2 token made in a temporary folder (its own SOFTHSM2_CONF); nothing outside
that folder is touched.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cryptography
from cryptography.hazmat.backends.openssl.backend import backend as openssl_backend
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN_ENV = "CJS_BENCH_HSM_PIN"
PASSWORD = "Bench0rd!x"


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank


def timed(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def make_token(root: Path) -> None:
    """A SoftHSM2 token in ``root``; SOFTHSM2_CONF set for this process before the module loads."""
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    os.environ[PIN_ENV] = "bench-pin-1234"
    subprocess.run(
        [
            *("softhsm2-util", "--init-token", "--free", "--label", "bench"),
            *("--pin", "bench-pin-1234", "--so-pin", "bench-so-1234"),
        ],
        check=True,
        capture_output=True,
    )


def signers_for(root: Path, key_type: str) -> dict[str, Any]:
    """A software CA and a token CA with the same key type; returns the signers by name."""
    from core.pki.ca import init_ca
    from core.pki.signers import load_signer
    from core.settings import validate

    common = {"sqlalchemy.url": "sqlite://", "cjs.environment": "development"}
    software = validate(
        {
            **common,
            "cjs.ca.dir": str(root / f"ca-software-{key_type}"),
            "cjs.ca.key_passphrase": "bench-ca-passphrase",
            "cjs.ca.key_type": key_type,
        }
    )
    pkcs11 = validate(
        {
            **common,
            "cjs.ca.dir": str(root / f"ca-pkcs11-{key_type}"),
            "cjs.ca.signer": "pkcs11",
            "cjs.ca.key_type": key_type,
            "cjs.signer.pkcs11.module": MODULE,
            "cjs.signer.pkcs11.token_label": "bench",
            "cjs.signer.pkcs11.key_label": f"bench-{key_type}",
            "cjs.signer.pkcs11.pin": f"env:{PIN_ENV}",
        }
    )
    result = {}
    for name, settings in (("software", software), ("pkcs11", pkcs11)):
        init_ca(settings)
        result[name] = load_signer(settings)
    return result


def client_builder(signer: Any) -> Any:
    """A typical client certificate builder (CERT-2) for ``signer``'s CA."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    from core.db.models import utcnow
    from core.pki.certificates import build_client_certificate
    from core.pki.x509 import generate_key, random_serial

    key = generate_key("ec-p256")
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ろうきんベンチ労働組合"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "90000001"),
            x509.NameAttribute(NameOID.COMMON_NAME, "bench000001"),
        ]
    )
    return build_client_certificate(
        signer.ca_certificate, key.public_key(), subject, random_serial(), utcnow()
    )


def bare_signature(name: str, signer: Any) -> Callable[[bytes], Any]:
    """The bare signature of to-be-signed bytes with ``signer``'s key, outside our code."""
    from core.pki.x509 import signature_hash

    if name == "software":
        key = signer._key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            algorithm = signature_hash(key)
            return lambda data: key.sign(data, ec.ECDSA(algorithm))
        return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    # A python-pkcs11 session of its own (the login is the process's), the key object, no lock.
    from pkcs11 import Attribute, Mechanism, ObjectClass

    token = signer.key.ref.token
    with token.lock:
        session = token.token().open()
    (key,) = session.get_objects(
        {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: signer.config.key_label}
    )
    if isinstance(signer.key, ec.EllipticCurvePrivateKey):
        algorithm = signer._hash

        def sign_ec(data: bytes) -> Any:
            digest = hashes.Hash(algorithm)
            digest.update(data)
            raw = key.sign(digest.finalize(), mechanism=Mechanism.ECDSA)
            half = len(raw) // 2
            return utils.encode_dss_signature(
                int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
            )

        return sign_ec
    return lambda data: key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS)


def bench_signatures(key_types: list[str], signers: dict[str, dict[str, Any]], n: int) -> None:
    print()
    print("## Signatures: signer.sign_certificate() vs the bare signature of the same TBS bytes")
    print(
        f"{'CA key':<9} {'signer':<9} {'sign/s':>7} {'median':>10} {'p95':>10} "
        f"{'bare sign/s':>11} {'bare median':>11} {'bare p95':>10} {'ratio':>6} {'overhead':>10}"
    )
    for key_type in key_types:
        for name, signer in signers[key_type].items():
            bare = bare_signature(name, signer)
            ours: list[float] = []
            raw: list[float] = []
            for index in range(n + 10):
                builder = client_builder(signer)
                tbs = signer.sign_certificate(builder).tbs_certificate_bytes
                ours_once = functools.partial(signer.sign_certificate, builder)
                bare_once = functools.partial(bare, tbs)
                if index % 2:
                    b = timed(bare_once)
                    o = timed(ours_once)
                else:
                    o = timed(ours_once)
                    b = timed(bare_once)
                if index >= 10:  # warm-up
                    ours.append(o)
                    raw.append(b)
            print(
                f"{key_type:<9} {name:<9} {len(ours) / sum(ours):>7.0f} {ms(median(ours)):>10} "
                f"{ms(p95(ours)):>10} {len(raw) / sum(raw):>11.0f} {ms(median(raw)):>11} "
                f"{ms(p95(raw)):>10} {median(ours) / median(raw):>6.2f} "
                f"{ms(median(ours) - median(raw)):>10}"
            )


class IssuanceDb:
    """A SQLite database with one contract; users without certificates made outside the timing."""

    def __init__(self, path: Path) -> None:
        from core.db import make_engine, make_session_factory
        from core.db import migrate as dbmigrate
        from core.db.models import Contract, ContractKind

        self.url = f"sqlite:///{path}"
        dbmigrate.upgrade(self.url)
        self.engine = make_engine(self.url)
        self.sessions = make_session_factory(self.engine)
        self._ids = itertools.count(1)
        with self.sessions() as session:
            contract = Contract(
                contract_no="90000001",
                kind=ContractKind.MEMBER,
                organisation_name="ろうきんベンチ労働組合",
                initial_password_hash="$argon2id$placeholder",
            )
            session.add(contract)
            session.commit()
            self.contract_id = contract.id

    def new_user(self) -> int:
        from common import add_bench_user

        return add_bench_user(self.sessions, self.contract_id, f"bench{next(self._ids):06d}")

    def issue_once(self, signer: Any, user_pk: int, client_key: str, kdf_rounds: int) -> float:
        from core.db.models import User, utcnow
        from core.pki.certificates import issue_certificate

        session = self.sessions()
        try:
            start = time.perf_counter()
            user = session.get(User, user_pk)
            assert user is not None
            issue_certificate(
                session,
                signer,
                user,
                PASSWORD,
                key_type=client_key,
                now=utcnow(),
                actor=user.user_id,
                kdf_rounds=kdf_rounds,
            )
            session.commit()
            return time.perf_counter() - start
        finally:
            session.close()


def bare_issue(signer: Any, client_key: str, kdf_rounds: int) -> float:
    """Client key, build and sign with the same signer, PKCS#12: the crypto of one issuance."""
    from core.db.models import utcnow
    from core.pki.certificates import build_client_certificate, pkcs12_bytes
    from core.pki.x509 import generate_key, random_serial

    subject = signer.ca_certificate.subject  # any name: the subject costs nothing measurable

    def work() -> None:
        key = generate_key(client_key)
        builder = build_client_certificate(
            signer.ca_certificate, key.public_key(), subject, random_serial(), utcnow()
        )
        certificate = signer.sign_certificate(builder)
        pkcs12_bytes(
            key, certificate, [signer.ca_certificate], "bench", PASSWORD, kdf_rounds=kdf_rounds
        )

    return timed(work)


def bench_issuance(
    key_types: list[str],
    signers: dict[str, dict[str, Any]],
    root: Path,
    n: int,
    client_key: str,
    kdf_rounds: int,
) -> None:
    print()
    print(
        f"## Issuance: issue_certificate + commit (SQLite) vs the bare crypto; client key "
        f"{client_key}, PKCS#12 PBKDF2 rounds {kdf_rounds}"
    )
    print(
        f"{'CA key':<9} {'signer':<9} {'issue p50':>10} {'issue p95':>10} {'bare p50':>10} "
        f"{'bare p95':>10} {'ratio':>6} {'overhead':>10}"
    )
    warmup = 3
    for key_type in key_types:
        db = IssuanceDb(root / f"issue-{key_type}.sqlite")
        names = list(signers[key_type])
        users = {name: [db.new_user() for _ in range(n + warmup)] for name in names}
        issue: dict[str, list[float]] = {name: [] for name in names}
        bare: dict[str, list[float]] = {name: [] for name in names}
        for index in range(n + warmup):
            order = names if index % 2 else list(reversed(names))
            for name in order:
                signer = signers[key_type][name]
                if index % 2:
                    b = bare_issue(signer, client_key, kdf_rounds)
                    i = db.issue_once(signer, users[name][index], client_key, kdf_rounds)
                else:
                    i = db.issue_once(signer, users[name][index], client_key, kdf_rounds)
                    b = bare_issue(signer, client_key, kdf_rounds)
                if index >= warmup:
                    issue[name].append(i)
                    bare[name].append(b)
        for name in names:
            print(
                f"{key_type:<9} {name:<9} {ms(median(issue[name])):>10} {ms(p95(issue[name])):>10} "
                f"{ms(median(bare[name])):>10} {ms(p95(bare[name])):>10} "
                f"{median(issue[name]) / median(bare[name]):>6.2f} "
                f"{ms(median(issue[name]) - median(bare[name])):>10}"
            )
        soft, token = issue["software"], issue["pkcs11"]
        print(
            f"{key_type:<9} pkcs11 − software issuance median: {ms(median(token) - median(soft))}"
        )
        db.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    from core.pki.certificates import PKCS12_KDF_ROUNDS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="signatures per series (default 200)")
    parser.add_argument("--issuances", type=int, default=30, help="issuances per series")
    parser.add_argument("--key-types", nargs="+", default=["ec-p384", "rsa-3072"])
    parser.add_argument(
        "--client-key-type", default="ec-p256", help="issued keys (default ec-p256)"
    )
    parser.add_argument("--kdf-rounds", type=int, default=PKCS12_KDF_ROUNDS)
    args = parser.parse_args(argv)
    if not Path(MODULE).exists():
        print(f"sign bench: {MODULE} not found (apt-get install softhsm2)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="cjs-bench-sign-") as folder:
        root = Path(folder)
        make_token(root)
        import pkcs11

        print(
            f"# sign bench: CA keys {' '.join(args.key_types)}; n={args.n} signatures and "
            f"{args.issuances} issuances per series (+ warm-up); SoftHSM2 token, module {MODULE}"
        )
        print(
            f"# Python {platform.python_version()}, cryptography {cryptography.__version__}, "
            f"{openssl_backend.openssl_version_text()}, python-pkcs11 "
            f"{getattr(pkcs11, '__version__', _version('python-pkcs11'))}, "
            f"{_softhsm_version()}, {platform.machine()}, {os.cpu_count()} CPUs"
        )
        signers = {kt: signers_for(root, kt) for kt in args.key_types}
        bench_signatures(args.key_types, signers, args.n)
        bench_issuance(
            args.key_types, signers, root, args.issuances, args.client_key_type, args.kdf_rounds
        )
    return 0


def _version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


def _softhsm_version() -> str:
    try:
        out = subprocess.run(
            ["softhsm2-util", "--version"], capture_output=True, text=True, check=True
        ).stdout
        return f"SoftHSM {out.strip()}"
    except (OSError, subprocess.CalledProcessError):
        return "SoftHSM ?"


if __name__ == "__main__":
    sys.exit(main())
