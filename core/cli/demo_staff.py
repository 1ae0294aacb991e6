"""The demo's bank staff (#14): ``cjs demo`` serves the staff console beside the customers' site,
with one account per role, so that a demonstrator can play both sides of a paper request.

Each account gets the demo password :data:`DEMO_STAFF_PASSWORD` (printed in the banner, as the demo
contracts' initial passwords are) and a staff certificate written as ``<staff ID>.p12`` into
``cjs.demo.staff_dir``, opened by the same password. Demo only: production staff are created with
``cjs staff create`` and the console, with random passwords shown once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.clock import utcnow
from core.db import make_engine, make_session_factory
from core.pki.signers import load_signer
from core.staff import accounts
from core.staff.roles import StaffRole

#: The demo staff's password (ACC-2: upper and lower case, a digit, a symbol; 8 to 12 characters).
DEMO_STAFF_PASSWORD = "Demo#Staff1"  # noqa: S105 (the demo's, printed in its banner)
ACTOR = "demo"


@dataclass(frozen=True)
class DemoStaff:
    """A demo staff account: its ID, name and role, and where its certificate is written."""

    staff_id: str
    name: str
    role: StaffRole
    pkcs12: Path


def demo_staff(settings: Mapping[str, Any]) -> list[DemoStaff]:
    """The demo's staff accounts: an operator (取扱者), an approver (検印者), an administrator."""
    folder = Path(settings["cjs.demo.staff_dir"])
    return [
        DemoStaff(staff_id, name, role, folder / f"{staff_id}.p12")
        for staff_id, name, role in (
            ("operator01", "取扱　一郎", StaffRole.OPERATOR),
            ("approver01", "検印　花子", StaffRole.APPROVER),
            ("admin01", "管理　次郎", StaffRole.ADMINISTRATOR),
        )
    ]


def seed_demo_staff(settings: Mapping[str, Any]) -> list[str]:
    """Create the demo staff accounts that are missing and write a certificate for each account
    whose ``.p12`` is missing; running it again changes nothing. Returns one line per account."""
    staff = demo_staff(settings)
    folder = Path(settings["cjs.demo.staff_dir"])
    folder.mkdir(parents=True, exist_ok=True)
    signer = load_signer(settings)
    engine = make_engine(settings["sqlalchemy.url"])
    lines = []
    try:
        for member in staff:
            if member.pkcs12.exists():
                lines.append(f"staff {member.staff_id}: {member.pkcs12} kept")
                continue
            with make_session_factory(engine)() as db, db.begin():
                now = utcnow()
                account = accounts.find_staff(db, member.staff_id)
                if account is None:
                    account, _ = accounts.create_staff(
                        db,
                        staff_id=member.staff_id,
                        name=member.name,
                        roles=[member.role],
                        now=now,
                        actor=ACTOR,
                        password=DEMO_STAFF_PASSWORD,
                    )
                    account.password_is_temporary = False
                issued = accounts.issue_certificate(
                    db, signer, account, DEMO_STAFF_PASSWORD, now=now, actor=ACTOR
                )
            # After the commit: a file that failed to be written is issued again at the next start.
            descriptor = os.open(member.pkcs12, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(issued.pkcs12)
            lines.append(f"staff {member.staff_id}: {member.pkcs12} written")
    finally:
        engine.dispose()
    return lines
