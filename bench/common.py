"""What the benches share: throwaway rows for the timed work to act on."""

from __future__ import annotations

from typing import Any


def add_bench_user(session_factory: Any, contract_id: int, user_id: str) -> int:
    """Insert a general user without certificates (AUTH-4 then allows issuance); return its key."""
    from core.db.models import Role, User

    with session_factory() as session:
        user = User(
            contract_id=contract_id,
            user_id=user_id,
            role=Role.GENERAL,
            name="労金　五郎",
            email="bench@example.jp",
            password_hash="$argon2id$placeholder",
        )
        session.add(user)
        session.commit()
        return user.id
