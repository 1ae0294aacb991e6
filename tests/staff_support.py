"""How a test stands for a signed-in bank staff member on the staff application.

Every staff-app test goes through :func:`staff_client`, so when the back office's real sign-in
(client certificate of the staff profile plus password, #14) replaces the placeholder identity,
only this module changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from webtest import TestApp

from core.staff import STAFF_ENVIRON_KEY, STAFF_ROLES_ENVIRON_KEY
from core.staff.roles import StaffRole

HTTPS = {"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"}
#: What a browser sends with every POST of the console (Pyramid's CSRF check compares it).
BROWSER_ORIGIN = {"HTTP_ORIGIN": "https://localhost"}

#: Every role: the console as a member holding them all sees it.
ALL_ROLES = tuple(StaffRole)


def staff_client(
    staff_app: Any,
    staff_id: str = "staff01",
    roles: Iterable[StaffRole | str] = (StaffRole.OPERATOR,),
) -> TestApp:
    """A WebTest client of ``staff_app`` signed in as ``staff_id`` holding ``roles``, sending the
    console's Origin as a browser does. Forms carry the CSRF token: submit them with WebTest's
    ``page.forms[…].submit()`` or post ``csrf_token`` from the ``cjs_staff_csrf`` cookie."""
    names = ",".join(StaffRole(role).value for role in roles)
    return TestApp(
        staff_app,
        extra_environ={
            **HTTPS,
            **BROWSER_ORIGIN,
            STAFF_ENVIRON_KEY: staff_id,
            STAFF_ROLES_ENVIRON_KEY: names,
        },
    )


def anonymous_staff_client(staff_app: Any) -> TestApp:
    """A WebTest client of ``staff_app`` that has not signed in."""
    return TestApp(staff_app, extra_environ=dict(HTTPS))
