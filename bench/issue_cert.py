"""Bench: the cost of issuing one customer certificate (CERT-7: "well under a second").

For each key type it prints the median and p95 of one ``core.certificates.issue_certificate`` call
(AUTH-4 re-check under the user's row lock, key generation, signing, PKCS#12, the row, the audit
event, and the commit) on a SQLite database, beside the bare cost of the same crypto measured in the
same run (key generation + signing + PKCS#12 serialisation, no database), and their ratio.

    .venv/bin/python bench/issue_cert.py               # 30 iterations per key type
    .venv/bin/python bench/issue_cert.py -n 100 --key-types ec-p256

The issue asks for the whole HTTP path (POST 発行 → PKCS#12 bytes). The FLOW-2 views do not exist
yet, so ``--mode http`` is reserved: a target is one class with ``setup()`` and ``issue_once()``;
the HTTP target will drive the views with the same users, key types and report (see README.md).
"""

from __future__ import annotations

import argparse
import itertools
import math
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cryptography
from cryptography.hazmat.backends.openssl.backend import backend as openssl_backend

from core import dbmigrate
from core.certificates import (
    CLIENT_KEY_TYPES,
    PKCS12_KDF_ROUNDS,
    build_client_certificate,
    client_subject,
    issue_certificate,
    pkcs12_bytes,
)
from core.db import make_engine, make_session_factory
from core.models import Contract, ContractKind, Role, User, utcnow
from core.settings import validate
from hsm import load_signer
from hsm.ca import generate_key, init_ca, random_serial

PASSWORD = "Bench0rd!x"


@dataclass
class Samples:
    """Wall-clock durations in seconds of one kind of work."""

    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def p95(self) -> float:
        ordered = sorted(self.values)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank


def _timed(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


class DirectTarget:
    """Calls the service function on a SQLite database, committing as the request would."""

    name = "direct"

    def __init__(self, workdir: Path, kdf_rounds: int) -> None:
        self.workdir = workdir
        self.kdf_rounds = kdf_rounds
        self._ids = itertools.count(1)

    def setup(self) -> None:
        settings = validate(
            {
                "sqlalchemy.url": f"sqlite:///{self.workdir / 'bench.sqlite'}",
                "cjs.environment": "development",
                "cjs.ca.dir": str(self.workdir / "ca"),
                "cjs.ca.key_passphrase": "bench-ca-passphrase",
            }
        )
        init_ca(settings)
        self.signer = load_signer(settings)
        dbmigrate.upgrade(settings["sqlalchemy.url"])
        self.engine = make_engine(settings["sqlalchemy.url"])
        self.session_factory = make_session_factory(self.engine)
        with self.session_factory() as session:
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
        """A user without certificates (outside the timing), so that AUTH-4 allows issuance."""
        with self.session_factory() as session:
            user = User(
                contract_id=self.contract_id,
                user_id=f"bench{next(self._ids):06d}",
                role=Role.GENERAL,
                name="労金　五郎",
                email="bench@example.jp",
                password_hash="$argon2id$placeholder",
            )
            session.add(user)
            session.commit()
            return user.id

    def issue_once(self, user_pk: int, key_type: str) -> float:
        """Seconds for one issuance: load the user, issue, commit."""
        session = self.session_factory()
        try:
            start = time.perf_counter()
            user = session.get(User, user_pk)
            assert user is not None
            issued = issue_certificate(
                session,
                self.signer,
                user,
                PASSWORD,
                key_type=key_type,
                now=utcnow(),
                actor=user.user_id,
                kdf_rounds=self.kdf_rounds,
            )
            session.commit()
            elapsed = time.perf_counter() - start
        finally:
            session.close()
        assert issued.pkcs12
        return elapsed

    def bare_once(self, key_type: str, subject: Any) -> float:
        """Seconds for the same crypto alone: key, build and sign, PKCS#12."""
        ca = self.signer.ca_certificate

        def work() -> None:
            key = generate_key(key_type)
            builder = build_client_certificate(
                ca, key.public_key(), subject, random_serial(), utcnow()
            )
            certificate = self.signer.sign_certificate(builder)
            pkcs12_bytes(key, certificate, [ca], "bench", PASSWORD, kdf_rounds=self.kdf_rounds)

        return _timed(work)

    def subject(self) -> Any:
        with self.session_factory() as session:
            user = session.get(User, self.new_user())
            assert user is not None
            return client_subject(user)

    def close(self) -> None:
        self.engine.dispose()


def run(target: DirectTarget, key_types: Sequence[str], iterations: int, warmup: int) -> None:
    print(
        f"# issue_cert bench: mode={target.name}, n={iterations} per key type (+{warmup} warm-up), "
        f"PKCS#12 PBKDF2 rounds={target.kdf_rounds}"
    )
    print(
        f"# Python {platform.python_version()}, cryptography {cryptography.__version__}, "
        f"{openssl_backend.openssl_version_text()}, {platform.machine()}"
    )
    print(
        f"{'key type':<10} {'issue median':>13} {'issue p95':>10} {'bare median':>12} "
        f"{'bare p95':>9} {'ratio':>6} {'overhead':>9}"
    )
    subject = target.subject()
    for key_type in key_types:
        users = [target.new_user() for _ in range(iterations + warmup)]
        issue, bare = [], []
        for index, user_pk in enumerate(users):
            # Interleaved, order alternating: drift and noise fall on both series alike.
            if index % 2:
                b = target.bare_once(key_type, subject)
                i = target.issue_once(user_pk, key_type)
            else:
                i = target.issue_once(user_pk, key_type)
                b = target.bare_once(key_type, subject)
            if index >= warmup:
                issue.append(i)
                bare.append(b)
        s_issue, s_bare = Samples(issue), Samples(bare)
        print(
            f"{key_type:<10} {s_issue.median * 1e3:>10.1f} ms {s_issue.p95 * 1e3:>7.1f} ms "
            f"{s_bare.median * 1e3:>9.1f} ms {s_bare.p95 * 1e3:>6.1f} ms "
            f"{s_issue.median / s_bare.median:>6.2f} "
            f"{(s_issue.median - s_bare.median) * 1e3:>6.1f} ms"
        )
    print(
        "# ratio = issue median / bare median; overhead = the difference (database, audit, checks)."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", "--iterations", type=int, default=30, help="per key type (30)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first iterations (2)")
    parser.add_argument(
        "--key-types",
        nargs="+",
        choices=CLIENT_KEY_TYPES,
        default=list(CLIENT_KEY_TYPES),
        help="key types to measure (all)",
    )
    parser.add_argument(
        "--kdf-rounds", type=int, default=PKCS12_KDF_ROUNDS, help="PKCS#12 PBKDF2 rounds"
    )
    parser.add_argument(
        "--mode",
        choices=("direct", "http"),
        default="direct",
        help="direct: the service function; http: POST 発行 → .p12 (when the views exist)",
    )
    args = parser.parse_args(argv)
    if args.iterations < 1:
        parser.error("--iterations must be at least 1")
    if args.mode == "http":
        print(
            "--mode http: not available yet, the FLOW-2 views (/cert/issue) do not exist",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="cjs-bench-") as folder:
        target = DirectTarget(Path(folder), args.kdf_rounds)
        target.setup()
        try:
            run(target, args.key_types, args.iterations, args.warmup)
        finally:
            target.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
