"""Bench: the cost of issuing one customer certificate (CERT-7: "well under a second").

For each key type it prints the median and p95 of one issuance beside the bare cost of the same
crypto measured in the same run (key generation + signing + PKCS#12 serialisation, no database, no
web), and their ratio. Two modes:

- ``http`` (default): the whole HTTP path of FLOW-2 through the real WSGI app in-process (WebTest),
  POST 発行 (``/cert/issue``) → the PKCS#12 bytes (``GET /cert/download``), with the result page
  between them as a browser requests it but timed apart (its own column), on a SQLite database with
  the demo bank and a registered master. The issue pipeline is ``password`` (no email code); each
  iteration issues a new user of the master's contract its first certificate (``--replace``: the
  master each time instead, CERT-8 replacing its previous, never-used certificate). The DC586101
  POST before it (with its argon2 password check) is outside the span and reported in its own
  column.
- ``direct``: one ``core.pki.certificates.issue_certificate`` call (AUTH-4 re-check under the user's row
  lock, key generation, signing, PKCS#12, the row, the audit event, the commit) for a fresh user.

    .venv/bin/python bench/issue_cert.py               # http, 50 iterations per key type
    .venv/bin/python bench/issue_cert.py --replace --key-types ec-p256
    .venv/bin/python bench/issue_cert.py --mode direct -n 100 --key-types ec-p256

The rules (bare cost in the same run, median and p95, no timed assertions in tests): README.md.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cryptography
from common import add_bench_user
from cryptography.hazmat.backends.openssl.backend import backend as openssl_backend
from sqlalchemy import select

from core.app import make_app
from core.auth.passwords import hash_password
from core.bank.config import apply_file_with_settings
from core.db import get_engine, make_engine, make_session_factory
from core.db import migrate as dbmigrate
from core.db.models import Contract, ContractKind, Role, User, utcnow
from core.pki.ca import init_ca
from core.pki.certificates import (
    CLIENT_KEY_TYPES,
    PKCS12_KDF_ROUNDS,
    build_client_certificate,
    client_subject,
    issue_certificate,
    pkcs12_bytes,
)
from core.pki.crl import get_publication_worker
from core.pki.signers import get_signer, load_signer
from core.pki.x509 import generate_key, random_serial
from core.settings import validate

PASSWORD = "Bench0rd!x"
REPO = Path(__file__).resolve().parent.parent
DEMO_BANK_FILE = REPO / "demo" / "bank.toml"
MASTER = {
    "contract_no": "10000001",  # the demo member contract and its initial password
    "initial_password": "Demo#001",
    "user_id": "benchm01",
    "user_name": "労金　太郎",
    "email": "bench@example.com",
}
HTTPS = {"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}


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


def ratio_of_medians(issue: Sequence[float], bare: Sequence[float]) -> float:
    """median(issue) / median(bare)."""
    return statistics.median(issue) / statistics.median(bare)


def equalised_ratio(
    issue: Sequence[float], bare: Sequence[float], keygens: Sequence[float]
) -> float:
    """The ratio with each side's own key generation replaced by the median of all of them.

    ``issue`` and ``bare`` are durations *without* their key generation; ``keygens`` every key
    generation of both. RSA's prime search makes one key take 12 or 150 ms at random, which hides
    a few milliseconds of difference between two medians of a few dozen samples; equalising it
    keeps its typical cost on both sides and removes its lottery.
    """
    typical = statistics.median(keygens)
    return (statistics.median(issue) + typical) / (statistics.median(bare) + typical)


def interval(
    statistic: Callable[..., float], *samples: Sequence[float], rounds: int = 2000
) -> tuple[float, float]:
    """95 % bootstrap interval of ``statistic(*samples)``, each sample resampled on its own.

    The seed is fixed, so a rerun on the same samples prints the same interval.
    """
    rng = random.Random(20261123)  # noqa: S311 (resampling for statistics, not security)
    values = sorted(
        statistic(*(rng.choices(sample, k=len(sample)) for sample in samples))
        for _ in range(rounds)
    )
    return values[int(0.025 * rounds)], values[math.ceil(0.975 * rounds) - 1]


class KeyGenerationClock:
    """Times every key generation: the app's (``core.pki.certificates.generate_key``) and the bare one's.

    :meth:`install` puts :meth:`generate` in place of ``core.pki.certificates.generate_key`` (the app runs
    in this process); :meth:`take` returns the seconds spent generating keys since the last take.
    """

    def __init__(self) -> None:
        self._elapsed = 0.0

    def generate(self, key_type: str) -> Any:
        """``core.pki.x509.generate_key``, timed."""
        start = time.perf_counter()
        key = generate_key(key_type)
        self._elapsed += time.perf_counter() - start
        return key

    def take(self) -> float:
        elapsed, self._elapsed = self._elapsed, 0.0
        return elapsed

    def install(self) -> None:
        import core.pki.certificates

        core.pki.certificates.generate_key = self.generate


KEYGEN = KeyGenerationClock()


def _timed(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def bare_issue(signer: Any, key_type: str, subject: Any, kdf_rounds: int) -> float:
    """Seconds for the crypto of one issuance alone: key, build and sign, PKCS#12."""
    ca = signer.ca_certificate

    def work() -> None:
        key = KEYGEN.generate(key_type)
        builder = build_client_certificate(ca, key.public_key(), subject, random_serial(), utcnow())
        certificate = signer.sign_certificate(builder)
        pkcs12_bytes(key, certificate, [ca], "bench", PASSWORD, kdf_rounds=kdf_rounds)

    return _timed(work)


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

    def prepare(self, key_type: str) -> int:
        """Before each iteration, untimed: a fresh user."""
        return self.new_user()

    def new_user(self) -> int:
        """A user without certificates (outside the timing), so that AUTH-4 allows issuance."""
        return add_bench_user(self.session_factory, self.contract_id, f"bench{next(self._ids):06d}")

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
        return bare_issue(self.signer, key_type, subject, self.kdf_rounds)

    def subject(self) -> Any:
        with self.session_factory() as session:
            user = session.get(User, self.new_user())
            assert user is not None
            return client_subject(user)

    def close(self) -> None:
        self.engine.dispose()


class HttpTarget:
    """The real app in-process through WebTest: DC586101 (untimed), then 発行 → ``.p12`` (timed).

    One SQLite database and CA in the temporary folder, the demo bank, one master registered through
    DC583101/DC584101. One app per key type (``cjs.cert.key_type``), issue pipeline ``password``,
    mail to the outbox only (the sender is off). Each iteration issues a new general user its first
    certificate, the common case. With ``replace``, the master each time instead: CERT-8 replaces
    its previous never-used certificate (revoking it, a second mail, the CRL written by the
    publication worker's thread, which the span does not wait for but shares the machine with), as
    a user re-issuing after a lost download would.
    """

    name = "http"

    def __init__(self, workdir: Path, kdf_rounds: int, *, replace: bool = False) -> None:
        self.workdir = workdir
        self.kdf_rounds = kdf_rounds  # the app's own (PKCS12_KDF_ROUNDS): not a setting
        #: The master each time, CERT-8 replacing its unused certificate, instead of a new user.
        self.replace = replace
        self._ids = itertools.count(1)
        self.apps: dict[str, Any] = {}
        #: DC586101 POST per key type (password step with the argon2 check), outside the span.
        self.auth: dict[str, list[float]] = {}
        #: The GET /cert/download part of each span.
        self.download: dict[str, list[float]] = {}
        #: GET /cert/result between the two, outside the span.
        self.result_page: dict[str, list[float]] = {}
        self._checked: set[str] = set()

    def setup(self) -> None:
        import webtest

        self.settings = {
            "sqlalchemy.url": f"sqlite:///{self.workdir / 'bench.sqlite'}",
            "cjs.environment": "development",
            "cjs.ca.dir": str(self.workdir / "ca"),
            "cjs.ca.key_passphrase": "bench-ca-passphrase",
            "cjs.hours.always_open": "true",
            "cjs.mail.sender": "off",  # mail stays in the outbox
            "cjs.pipeline.issue": "password",  # no email code (AUTH-8)
            "cjs.cert.allow_unused_replacement": "true",  # CERT-8: re-issue the unused one
        }
        init_ca(validate(self.settings))
        dbmigrate.upgrade(self.settings["sqlalchemy.url"])
        apply_file_with_settings(validate(self.settings), DEMO_BANK_FILE)
        client = webtest.TestApp(self.app_for(CLIENT_KEY_TYPES[0]), extra_environ=dict(HTTPS))
        page = client.get("/register/master").maybe_follow()
        form = page.forms[0]
        form["contract_no"] = MASTER["contract_no"]
        form["initial_password"] = MASTER["initial_password"]
        page = form.submit().maybe_follow()
        form = page.forms[0]
        form["user_id"] = MASTER["user_id"]
        form["password"] = form["password_confirm"] = PASSWORD
        form["user_name"] = MASTER["user_name"]
        form["email"] = form["email_confirm"] = MASTER["email"]
        page = form.submit().maybe_follow()
        if MASTER["user_id"] not in page.text:
            raise RuntimeError(f"master registration failed:\n{page.text[:2000]}")
        self.engine = make_engine(self.settings["sqlalchemy.url"])
        self.session_factory = make_session_factory(self.engine)
        self.password_hash = hash_password(PASSWORD)  # one hash for every fresh user

    def new_user(self) -> str:
        """A general user of the master's contract without certificates, inserted directly."""
        with self.session_factory() as session:
            master = session.scalars(select(User).where(User.user_id == MASTER["user_id"])).one()
            user = User(
                contract_id=master.contract_id,
                user_id=f"bench{next(self._ids):05d}",
                role=Role.GENERAL,
                name="労金　五郎",
                email="bench-user@example.com",
                password_hash=self.password_hash,
            )
            session.add(user)
            session.commit()
            return user.user_id

    def app_for(self, key_type: str) -> Any:
        """The app issuing ``key_type`` keys (built once, outside the timing)."""
        if key_type not in self.apps:
            self.apps[key_type] = make_app({**self.settings, "cjs.cert.key_type": key_type})
        return self.apps[key_type]

    def prepare(self, key_type: str) -> Any:
        """Untimed: a fresh browser through DC586101 to the 発行 screen; its POST timed aside."""
        import webtest

        if self.replace:  # the previous iteration's CRL is written before this one starts
            get_publication_worker(self.app_for(key_type).registry).wait()
        user_id = MASTER["user_id"] if self.replace else self.new_user()
        client = webtest.TestApp(self.app_for(key_type), extra_environ=dict(HTTPS), lint=False)
        page = client.get("/cert").maybe_follow()
        form = page.forms[0]
        form["user_id"] = user_id
        form["password"] = PASSWORD
        start = time.perf_counter()
        page = form.submit().maybe_follow()
        self.auth.setdefault(key_type, []).append(time.perf_counter() - start)
        if "btn-issue" not in page.text:
            raise RuntimeError(f"DC586101 did not lead to 発行:\n{page.text[:2000]}")
        return client, page.forms[0]  # parsed here: the browser has the page before the click

    def issue_once(self, ticket: Any, key_type: str) -> float:
        """Seconds of POST 発行 (``/cert/issue``), of the 電子証明書発行中 screen's POST
        (``/cert/issuing``: the key and certificate are made there) and of the PKCS#12 bytes
        (``/cert/download``).

        In between, as the browser does, the 発行中 screen and the result page it is redirected to
        (which starts the download): timed apart, not in the span.
        """
        client, form = ticket
        start = time.perf_counter()
        requested = form.submit()
        posted = time.perf_counter()
        issuing = client.get("/cert/issuing")
        waiting = time.perf_counter()
        issued = issuing.forms["issuing-form"].submit()
        made = time.perf_counter()
        result = client.get("/cert/result")
        shown = time.perf_counter()
        download = client.get("/cert/download")
        data = download.body
        end = time.perf_counter()
        elapsed = (posted - start) + (made - waiting) + (end - shown)
        self.download.setdefault(key_type, []).append(end - shown)
        self.result_page.setdefault(key_type, []).append((shown - made) + (waiting - posted))
        if (
            requested.status_int != 302
            or issued.status_int != 302
            or "Refresh" not in result.headers
            or download.content_type != "application/x-pkcs12"
        ):
            raise RuntimeError(f"issuance failed: {issued.status} / {download.status}")
        if key_type not in self._checked:  # once per key type: the file is what was asked for
            self._checked.add(key_type)
            _check_pkcs12(data, key_type)
        return elapsed

    def bare_once(self, key_type: str, subject: Any) -> float:
        """Seconds for the same crypto alone, with the app's signer and PKCS#12 rounds."""
        return bare_issue(
            get_signer(self.app_for(key_type).registry), key_type, subject, self.kdf_rounds
        )

    def subject(self) -> Any:
        with self.session_factory() as session:
            user = session.scalars(select(User).where(User.user_id == MASTER["user_id"])).one()
            return client_subject(user)

    def close(self) -> None:
        for app in self.apps.values():
            get_engine(app.registry).dispose()
        self.engine.dispose()


def _check_pkcs12(data: bytes, key_type: str) -> None:
    """The downloaded file opens with the password and holds a key of ``key_type``."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import pkcs12

    key, certificate, _chain = pkcs12.load_key_and_certificates(data, PASSWORD.encode())
    if certificate is None or key is None:
        raise RuntimeError("the PKCS#12 has no key or certificate")
    if key_type.startswith("rsa-"):
        ok = isinstance(key, rsa.RSAPrivateKey) and key.key_size == int(key_type[4:])
    else:
        ok = isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    if not ok:
        raise RuntimeError(f"the PKCS#12 key is not {key_type}")


class Target(Protocol):
    """What ``run`` needs of a mode: untimed preparation, the timed issuance, the bare crypto."""

    name: str
    kdf_rounds: int

    def prepare(self, key_type: str) -> Any: ...
    def issue_once(self, ticket: Any, key_type: str) -> float: ...
    def bare_once(self, key_type: str, subject: Any) -> float: ...
    def subject(self) -> Any: ...


def run(target: Target, key_types: Sequence[str], iterations: int, warmup: int) -> None:
    print(
        f"# issue_cert bench: mode={target.name}, n={iterations} per key type (+{warmup} warm-up), "
        f"PKCS#12 PBKDF2 rounds={target.kdf_rounds}"
    )
    if isinstance(target, HttpTarget):
        users = (
            "the master each time (CERT-8 replaces the unused one)"
            if target.replace
            else "a new user each time (first issuance)"
        )
        print(
            "# span: POST /cert/issue (発行) + GET /cert/download (GET /cert/result between them, "
            "timed apart), WSGI app in-process (WebTest, "
            f"no TLS, no socket), SQLite; pipeline.issue=password; {users}"
        )
    print(
        f"# Python {platform.python_version()}, cryptography {cryptography.__version__}, "
        f"{openssl_backend.openssl_version_text()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    http = isinstance(target, HttpTarget)
    side_header = f" {'of it GET':>10} {'result':>9} {'DC586101':>9}" if http else ""
    print(
        f"{'key type':<10} {'issue median':>13} {'issue p95':>10} {'bare median':>12} "
        f"{'bare p95':>9} {'ratio':>6} {'95% interval':>12} {'overhead':>9}{side_header}"
    )
    equalised_rows = []
    subject = target.subject()
    for key_type in key_types:
        issue, bare = [], []
        issue_keygen, bare_keygen = [], []
        for index in range(iterations + warmup):
            ticket = target.prepare(key_type)  # untimed: a fresh user, or DC586101 passed
            KEYGEN.take()
            # Interleaved, order alternating: drift and noise fall on both series alike.
            if index % 2:
                b, bk = target.bare_once(key_type, subject), KEYGEN.take()
                i, ik = target.issue_once(ticket, key_type), KEYGEN.take()
            else:
                i, ik = target.issue_once(ticket, key_type), KEYGEN.take()
                b, bk = target.bare_once(key_type, subject), KEYGEN.take()
            if index >= warmup:
                issue.append(i)
                bare.append(b)
                issue_keygen.append(ik)
                bare_keygen.append(bk)
        s_issue, s_bare = Samples(issue), Samples(bare)
        ratio_range = interval(ratio_of_medians, issue, bare)
        keygens = issue_keygen + bare_keygen
        issue_rest = [t - k for t, k in zip(issue, issue_keygen, strict=True)]
        bare_rest = [t - k for t, k in zip(bare, bare_keygen, strict=True)]
        equalised_rows.append(
            f"{key_type:<10} {Samples(keygens).median * 1e3:>10.1f} ms "
            f"{Samples(keygens).p95 * 1e3:>7.1f} ms "
            f"{equalised_ratio(issue_rest, bare_rest, keygens):>9.2f} "
            + "{:>12}".format(
                "{:.2f}–{:.2f}".format(*interval(equalised_ratio, issue_rest, bare_rest, keygens))
            )
        )
        side_cell = ""
        if isinstance(target, HttpTarget):
            get = Samples(target.download[key_type][warmup:]).median
            shown = Samples(target.result_page[key_type][warmup:]).median
            auth = Samples(target.auth[key_type][warmup:]).median
            side_cell = f" {get * 1e3:>7.1f} ms {shown * 1e3:>6.1f} ms {auth * 1e3:>6.1f} ms"
        print(
            f"{key_type:<10} {s_issue.median * 1e3:>10.1f} ms {s_issue.p95 * 1e3:>7.1f} ms "
            f"{s_bare.median * 1e3:>9.1f} ms {s_bare.p95 * 1e3:>6.1f} ms "
            f"{s_issue.median / s_bare.median:>6.2f} {'{:.2f}–{:.2f}'.format(*ratio_range):>12} "
            f"{(s_issue.median - s_bare.median) * 1e3:>6.1f} ms{side_cell}"
        )
    print(
        f"{'key type':<10} {'keygen median':>13} {'keygen p95':>10} {'equalised':>9} "
        f"{'95% interval':>12}"
    )
    for row in equalised_rows:
        print(row)
    print(f"# load average {os.getloadavg()[0]:.2f} at the end")
    print(
        "# equalised = the ratio with each issuance's and each bare run's own key generation "
        "replaced by the median of all of them (RSA's prime search is a lottery of 10–150 ms)."
    )
    if isinstance(target, HttpTarget):
        replaced = ", revoking the replaced one, its CRL in a thread" if target.replace else ""
        print(
            "# ratio = issue median / bare median (95% interval: bootstrap); overhead = the "
            f"difference (web, session, database, audit, outbox{replaced})."
        )
        print(
            "# of it GET = median of the GET /cert/download part of the span; result = median of "
            "GET /cert/result, between the two, not in the span; DC586101 = median of the DC586101 "
            "POST before the span (flow + argon2 password check), not in it either."
        )
    else:
        print(
            "# ratio = issue median / bare median (95% interval: bootstrap); overhead = the "
            "difference (database, audit, checks)."
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", "--iterations", type=int, default=50, help="per key type (50)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first iterations (2)")
    parser.add_argument(
        "--key-types",
        nargs="+",
        choices=CLIENT_KEY_TYPES,
        default=list(CLIENT_KEY_TYPES),
        help="key types to measure (all)",
    )
    parser.add_argument(
        "--kdf-rounds",
        type=int,
        default=None,
        help=f"PKCS#12 PBKDF2 rounds, direct mode only ({PKCS12_KDF_ROUNDS}, the app's)",
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="http mode: the master each time, CERT-8 replacing its unused certificate (new users)",
    )
    parser.add_argument(
        "--mode",
        choices=("http", "direct"),
        default="http",
        help="http: POST 発行 → .p12 through the app (default); direct: the service function",
    )
    args = parser.parse_args(argv)
    if args.iterations < 1:
        parser.error("--iterations must be at least 1")
    if args.mode == "http" and args.kdf_rounds not in (None, PKCS12_KDF_ROUNDS):
        parser.error(f"--kdf-rounds: the app always uses {PKCS12_KDF_ROUNDS} (use --mode direct)")
    if args.mode == "direct" and args.replace:
        parser.error("--replace: the direct mode always uses a fresh user")
    kdf_rounds = args.kdf_rounds or PKCS12_KDF_ROUNDS
    KEYGEN.install()
    with tempfile.TemporaryDirectory(prefix="cjs-bench-") as folder:
        target: DirectTarget | HttpTarget
        if args.mode == "http":
            target = HttpTarget(Path(folder), kdf_rounds, replace=args.replace)
        else:
            target = DirectTarget(Path(folder), kdf_rounds)
        target.setup()
        try:
            run(target, args.key_types, args.iterations, args.warmup)
        finally:
            target.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
