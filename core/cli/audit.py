"""``cjs audit verify``: walk the audit log's hash chain and name the first broken link (#14 item 6).

Exit status 0 when the chain holds (the head is printed, to be noted outside the database and given
back later as ``--anchor``), 1 when it is broken (the first broken link is printed on stderr).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from typing import Any

from core.audit.chain import verify
from core.db import make_engine
from core.settings import ConfigurationError

_ANCHOR = re.compile(r"^(?P<seq>[1-9][0-9]*):(?P<hash>[0-9a-f]{64})$")


def parse_anchor(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` (a head printed by an earlier verify) as (seq, hash); argparse error otherwise."""
    match = _ANCHOR.match(text.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r}: expected SEQ:HASH (64 hex digits)")
    return int(match["seq"]), match["hash"]


def add_parser(commands: Any, run: Any) -> None:
    """Add ``audit verify`` to the ``cjs`` subcommands; ``run(args)`` loads settings and calls
    :func:`audit_command`."""
    audit = commands.add_parser("audit", help="the audit log: check its hash chain")
    audit.add_argument("action", choices=["verify"])
    audit.add_argument(
        "--anchor",
        action="append",
        default=[],
        type=parse_anchor,
        metavar="SEQ:HASH",
        help="a head printed by an earlier verify: it must still be in the chain (repeatable)",
    )
    audit.set_defaults(func=run)


def audit_command(args: argparse.Namespace, settings: Mapping[str, Any]) -> int:
    """Verify the chain of ``settings``' database; 0 intact, 1 broken."""
    engine = make_engine(settings["sqlalchemy.url"], sqlite_begin_immediate=False)
    try:
        with engine.connect() as connection:
            result = verify(connection, anchors=args.anchor)
    except OSError as exc:
        raise ConfigurationError(f"sqlalchemy.url: {exc}") from None
    finally:
        engine.dispose()
    if result.broken is not None:
        print(f"audit chain BROKEN at {result.broken}", file=sys.stderr)
        print(f"{result.checked} event(s) hold before it", file=sys.stderr)
        return 1
    print(f"audit chain intact: {result.checked} event(s)")
    print(f"head: {result.head_seq}:{result.head_hash}")
    return 0
