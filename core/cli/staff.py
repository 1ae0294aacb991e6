"""``cjs staff create``: a staff account made from the command line (#14), above all the first
administrator (``--admin``).

What the person needs is handed over in two pieces: the PKCS#12 of the certificate of the CA's staff
profile, written to ``--out`` (mode 0600, never over an existing file), and the initial password,
printed once on the terminal and never stored in clear. The same password opens the PKCS#12 and
signs in the first time, when it must be changed. ``--admin`` is refused while an active
administrator exists (the console creates the others); when wrong passwords or revocations left
none, it is the way back in.
"""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.db import make_engine, make_session_factory
from core.db.models import StaffMember, utcnow
from core.pki.signers import load_signer
from core.settings import ConfigurationError
from core.staff import accounts
from core.staff.roles import StaffRole


def _write_new_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a file that must not exist yet, readable by its owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def create_command(args: argparse.Namespace, settings: Mapping[str, Any]) -> int:
    """Create the account, issue its certificate, write the PKCS#12, print the password."""
    roles = {StaffRole(role) for role in args.role or ()}
    if args.admin:
        roles.add(StaffRole.ADMINISTRATOR)
    if not roles:
        raise ConfigurationError("--role: give at least one role (or --admin)")
    out = Path(args.out)
    if out.exists():
        raise ConfigurationError(f"--out: {out} exists; choose a new file")
    signer = load_signer(settings)
    engine = make_engine(settings["sqlalchemy.url"])
    actor = f"cli:{getpass.getuser()}"
    written = False
    try:
        with make_session_factory(engine)() as db, db.begin():
            now = utcnow()
            if args.admin:
                members = db.scalars(select(StaffMember).where(StaffMember.disabled_at.is_(None)))
                if any(accounts.is_active_administrator(m, now) for m in members):
                    raise ConfigurationError(
                        "--admin: an active administrator exists; create staff in the console"
                    )
            try:
                member, password = accounts.create_staff(
                    db, staff_id=args.staff_id, name=args.name, roles=roles, now=now, actor=actor
                )
            except accounts.StaffAdminError as refused:
                raise ConfigurationError(f"--staff-id: {refused.message}") from None
            issued = accounts.issue_certificate(db, signer, member, password, now=now, actor=actor)
            serial = issued.certificate.serial
            _write_new_file(out, issued.pkcs12)  # before the commit: no account without its file
            written = True
    except BaseException:
        if written:
            out.unlink(missing_ok=True)  # the commit failed: no file without its account
        raise
    finally:
        engine.dispose()
    print(f"staff ID:          {args.staff_id}")
    print(f"roles:             {', '.join(sorted(role.label for role in roles))}")
    print(f"certificate:       {out} (PKCS#12, serial {serial})")
    print(f"initial password:  {password}")
    print(
        "Hand the file and the password over separately. The password opens the PKCS#12 and "
        "signs in once; it must then be changed. It is not shown again."
    )
    return 0
