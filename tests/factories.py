"""factory_boy factories for the rows tests build: contracts, deposit groups, users, certificates.

They *build* objects (``UserFactory(user_id="master01")``) without a session, so that a test adds
them to whichever session it works with (its ``dbsession``, a registry's session factory, a job's
session)::

    user = UserFactory(user_id="master01", contract__contract_no="00012345")
    dbsession.add(user)
    dbsession.flush()

Related rows are built too (a user gets a contract unless one is given). Defaults are what the tests
used to write by hand: a 会員 contract, a master user named 労金　五郎, a placeholder password hash
(pass ``password=`` to get a real one).
"""

from __future__ import annotations

import datetime as dt

import factory

from core.auth.passwords import hash_password
from core.clock import utcnow
from core.db.models import (
    Certificate,
    CertificateStatus,
    Contract,
    ContractKind,
    DepositGroup,
    Role,
    User,
)

#: A password hash no password matches: for rows whose password a test never checks.
PLACEHOLDER_HASH = "$argon2id$placeholder"
#: CERT-2: a certificate runs 366 days.
VALIDITY = dt.timedelta(days=366)


class ContractFactory(factory.Factory):
    """A 会員 contract ``9xxxxxxx`` of ろうきん労働組合."""

    class Meta:
        model = Contract

    contract_no = factory.Sequence(lambda n: f"9{n:07d}")
    kind = ContractKind.MEMBER
    organisation_name = "ろうきん労働組合"
    initial_password_hash = PLACEHOLDER_HASH


class DepositGroupFactory(factory.Factory):
    """A deposit group (預金グループ) of a new contract."""

    class Meta:
        model = DepositGroup

    contract = factory.SubFactory(ContractFactory)
    group_no = factory.Sequence(lambda n: f"{n + 1:08d}")
    name_kanji = "本社"
    name_kana = "ﾎﾝｼｬ"


class UserFactory(factory.Factory):
    """A master user of a new contract; ``role=Role.GENERAL`` for a general one."""

    class Meta:
        model = User

    class Params:
        password: str | None = None

    contract = factory.SubFactory(ContractFactory)
    user_id = factory.Sequence(lambda n: f"user{n:04d}")
    role = Role.MASTER
    name = "労金　五郎"
    email = factory.LazyAttribute(lambda user: f"{user.user_id}@example.jp")
    password_hash = factory.LazyAttribute(
        lambda user: hash_password(user.password) if user.password else PLACEHOLDER_HASH
    )


class CertificateFactory(factory.Factory):
    """A certificate row (no X.509 behind it) of a new user, valid until ``not_after``."""

    class Meta:
        model = Certificate

    user = factory.SubFactory(UserFactory)
    serial = factory.Sequence(lambda n: f"{n + 1:016X}")
    issuer = "CN=Rokin-KW CA"
    subject = factory.LazyAttribute(lambda cert: f"CN={cert.user.user_id}")
    fingerprint_sha256 = factory.LazyAttribute(lambda cert: cert.serial.rjust(64, "0"))
    not_after = factory.LazyFunction(lambda: utcnow() + VALIDITY)
    not_before = factory.LazyAttribute(lambda cert: cert.not_after - VALIDITY)
    status = CertificateStatus.VALID
    revoked_at = factory.LazyAttribute(
        lambda cert: utcnow() if cert.status == CertificateStatus.REVOKED else None
    )
